// In-memory order storage for the demo orders gRPC service: seed data, validation and id assignment.

/// Why a `CreateOrderRequest` was rejected (maps to gRPC `INVALID_ARGUMENT`).
public enum OrderValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The order has no items.
    case noItems
    /// An item has a quantity of zero or less.
    case nonPositiveQuantity(sku: String, quantity: Int32)

    public var description: String {
        switch self {
        case .noItems:
            return "an order needs at least one item"
        case .nonPositiveQuantity(let sku, let quantity):
            return "item '\(sku)' has quantity \(quantity); quantities must be greater than 0"
        }
    }
}

/// Thread-safe in-memory store of orders, keyed by id. Ids are decimal strings assigned in increasing order.
public actor OrderStore {
    private var orders: [String: Shop_Orders_V1_Order]
    private var nextID: Int

    /// Creates a store holding `orders` (by default the three seed orders, see ``seedOrders``).
    public init(orders: [Shop_Orders_V1_Order] = OrderStore.seedOrders) {
        var byID: [String: Shop_Orders_V1_Order] = [:]
        for order in orders {
            byID[order.id] = order
        }
        self.orders = byID
        self.nextID = (orders.compactMap { Int($0.id) }.max() ?? 0) + 1
    }

    /// Seed data: orders "1" and "2" belong to customer "1", order "3" to customer "2".
    public static var seedOrders: [Shop_Orders_V1_Order] {
        [
            makeOrder(
                id: "1", customerID: "1", status: .paid,
                items: [makeItem(sku: "SKU-BOOK", quantity: 2, priceCents: 1250)]
            ),
            makeOrder(
                id: "2", customerID: "1", status: .shipped,
                items: [
                    makeItem(sku: "SKU-PEN", quantity: 10, priceCents: 199),
                    makeItem(sku: "SKU-NOTEBOOK", quantity: 3, priceCents: 450),
                ]
            ),
            makeOrder(
                id: "3", customerID: "2", status: .pending,
                items: [makeItem(sku: "SKU-LAMP", quantity: 1, priceCents: 4599)]
            ),
        ]
    }

    /// The order with the given id, if any.
    public func order(id: String) -> Shop_Orders_V1_Order? {
        orders[id]
    }

    /// All orders sorted by id (numerically), optionally only those of `customerID` (empty means all),
    /// at most `limit` of them (0 means no limit).
    public func orders(customerID: String = "", limit: Int = 0) -> [Shop_Orders_V1_Order] {
        var result = orders.values
            .filter { customerID.isEmpty || $0.customerID == customerID }
            .sorted { Self.idOrder($0.id, $1.id) }
        if limit > 0 && result.count > limit {
            result = Array(result.prefix(limit))
        }
        return result
    }

    /// Validates a request, stores a new `PENDING` order for it and returns that order.
    public func create(
        _ request: Shop_Orders_V1_CreateOrderRequest
    ) throws(OrderValidationError) -> Shop_Orders_V1_Order {
        try Self.validate(request)
        let order = Self.makeOrder(
            id: String(nextID), customerID: request.customerID, status: .pending, items: request.items
        )
        nextID += 1
        orders[order.id] = order
        return order
    }

    /// Validates and stores all requests, or none of them if any is invalid.
    public func createAll(
        _ requests: [Shop_Orders_V1_CreateOrderRequest]
    ) throws(OrderValidationError) -> [Shop_Orders_V1_Order] {
        for request in requests {
            try Self.validate(request)
        }
        var created: [Shop_Orders_V1_Order] = []
        for request in requests {
            created.append(try create(request))
        }
        return created
    }

    /// Checks that a request has at least one item and that every quantity is greater than 0.
    public static func validate(_ request: Shop_Orders_V1_CreateOrderRequest) throws(OrderValidationError) {
        guard !request.items.isEmpty else {
            throw .noItems
        }
        for item in request.items where item.quantity <= 0 {
            throw .nonPositiveQuantity(sku: item.sku, quantity: item.quantity)
        }
    }

    private static func makeOrder(
        id: String,
        customerID: String,
        status: Shop_Orders_V1_OrderStatus,
        items: [Shop_Orders_V1_OrderItem]
    ) -> Shop_Orders_V1_Order {
        var order = Shop_Orders_V1_Order()
        order.id = id
        order.customerID = customerID
        order.items = items
        order.totalCents = items.reduce(0) { $0 + Int64($1.quantity) * $1.priceCents }
        order.status = status
        return order
    }

    private static func makeItem(sku: String, quantity: Int32, priceCents: Int64) -> Shop_Orders_V1_OrderItem {
        var item = Shop_Orders_V1_OrderItem()
        item.sku = sku
        item.quantity = quantity
        item.priceCents = priceCents
        return item
    }

    /// Numeric ids sort numerically ("2" < "10"), anything else after them, lexicographically.
    private static func idOrder(_ lhs: String, _ rhs: String) -> Bool {
        switch (Int(lhs), Int(rhs)) {
        case let (l?, r?): return l < r
        case (.some, .none): return true
        case (.none, .some): return false
        case (.none, .none): return lhs < rhs
        }
    }
}
