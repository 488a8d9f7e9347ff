// Demo implementation of the shop.orders.v1.Orders gRPC service (all four call kinds) backed by an in-memory
// OrderStore. Echoes request metadata `x-echo` as initial metadata and sets the trailer `x-served-by: orders`
// so that proxies can be tested for metadata and trailer passthrough.

public import GRPCCore

/// Metadata conventions shared by the demo gRPC services.
enum DemoMetadata {
    /// Request metadata key whose values are echoed back as initial (response header) metadata.
    static let echoKey = "x-echo"
    /// Trailing metadata key naming the service that answered.
    static let servedByKey = "x-served-by"

    /// Initial metadata for a response: every `x-echo` value of the request.
    static func initial(echoing requestMetadata: Metadata) -> Metadata {
        var metadata = Metadata()
        for value in requestMetadata[stringValues: echoKey] {
            metadata.addString(value, forKey: echoKey)
        }
        return metadata
    }

    /// Trailing metadata for a response: `x-served-by: <service>`.
    static func trailers(servedBy service: String) -> Metadata {
        var metadata = Metadata()
        metadata.addString(service, forKey: servedByKey)
        return metadata
    }

    /// An error whose metadata carries both the echo and the `x-served-by` trailer. Failed RPCs are answered
    /// "trailers-only", so these end up in the single header block the client receives.
    static func error(
        _ code: RPCError.Code,
        _ message: String,
        echoing requestMetadata: Metadata,
        servedBy service: String
    ) -> RPCError {
        var metadata = initial(echoing: requestMetadata)
        metadata.add(contentsOf: trailers(servedBy: service))
        return RPCError(code: code, message: message, metadata: metadata)
    }
}

/// The demo `shop.orders.v1.Orders` service.
///
/// - `GetOrder`: the order, or `NOT_FOUND` for an unknown id.
/// - `CreateOrder`: `INVALID_ARGUMENT` unless there is at least one item and every quantity is > 0; otherwise stores
///   a `PENDING` order with the next free id and returns it.
/// - `ListOrders`: streams the orders sorted by id, filtered by `customer_id` if set, at most `limit` if > 0.
/// - `CreateOrders`: validates every streamed request (all or nothing), creates the orders, returns a summary.
/// - `WatchOrders`: answers every streamed request with the order; ends with `NOT_FOUND` at the first unknown id.
public struct OrdersService: Shop_Orders_V1_Orders.ServiceProtocol {
    /// Value of the `x-served-by` trailer.
    public static let serviceName = "orders"

    /// The backing store (shared with whoever else holds the actor).
    public let store: OrderStore

    public init(store: OrderStore = OrderStore()) {
        self.store = store
    }

    public func getOrder(
        request: ServerRequest<Shop_Orders_V1_GetOrderRequest>,
        context: ServerContext
    ) async throws -> ServerResponse<Shop_Orders_V1_Order> {
        let id = request.message.id
        guard let order = await store.order(id: id) else {
            return ServerResponse(error: error(.notFound, "order '\(id)' not found", request.metadata))
        }
        return ServerResponse(
            message: order,
            metadata: DemoMetadata.initial(echoing: request.metadata),
            trailingMetadata: trailers
        )
    }

    public func createOrder(
        request: ServerRequest<Shop_Orders_V1_CreateOrderRequest>,
        context: ServerContext
    ) async throws -> ServerResponse<Shop_Orders_V1_Order> {
        do {
            let order = try await store.create(request.message)
            return ServerResponse(
                message: order,
                metadata: DemoMetadata.initial(echoing: request.metadata),
                trailingMetadata: trailers
            )
        } catch {
            return ServerResponse(error: self.error(.invalidArgument, error.description, request.metadata))
        }
    }

    public func listOrders(
        request: ServerRequest<Shop_Orders_V1_ListOrdersRequest>,
        context: ServerContext
    ) async throws -> StreamingServerResponse<Shop_Orders_V1_Order> {
        let limit = request.message.limit
        guard limit >= 0 else {
            let message = "limit must not be negative (got \(limit))"
            return StreamingServerResponse(error: error(.invalidArgument, message, request.metadata))
        }
        let orders = await store.orders(customerID: request.message.customerID, limit: Int(limit))
        let trailers = self.trailers
        return StreamingServerResponse(metadata: DemoMetadata.initial(echoing: request.metadata)) { writer in
            for order in orders {
                try await writer.write(order)
            }
            return trailers
        }
    }

    public func createOrders(
        request: StreamingServerRequest<Shop_Orders_V1_CreateOrderRequest>,
        context: ServerContext
    ) async throws -> ServerResponse<Shop_Orders_V1_CreateOrdersSummary> {
        var requests: [Shop_Orders_V1_CreateOrderRequest] = []
        for try await message in request.messages {
            requests.append(message)
        }
        for (index, message) in requests.enumerated() {
            do {
                try OrderStore.validate(message)
            } catch {
                let text = "request #\(index + 1): \(error.description); no orders were created"
                return ServerResponse(error: self.error(.invalidArgument, text, request.metadata))
            }
        }
        let created: [Shop_Orders_V1_Order]
        do {
            created = try await store.createAll(requests)
        } catch {
            return ServerResponse(error: self.error(.invalidArgument, error.description, request.metadata))
        }
        var summary = Shop_Orders_V1_CreateOrdersSummary()
        summary.createdCount = Int32(created.count)
        summary.orderIds = created.map(\.id)
        summary.totalCents = created.reduce(0) { $0 + $1.totalCents }
        return ServerResponse(
            message: summary,
            metadata: DemoMetadata.initial(echoing: request.metadata),
            trailingMetadata: trailers
        )
    }

    public func watchOrders(
        request: StreamingServerRequest<Shop_Orders_V1_GetOrderRequest>,
        context: ServerContext
    ) async throws -> StreamingServerResponse<Shop_Orders_V1_Order> {
        let store = self.store
        let trailers = self.trailers
        return StreamingServerResponse(metadata: DemoMetadata.initial(echoing: request.metadata)) { writer in
            for try await message in request.messages {
                guard let order = await store.order(id: message.id) else {
                    // Initial metadata (the echo) has already been sent; the error only carries the trailer.
                    throw RPCError(code: .notFound, message: "order '\(message.id)' not found", metadata: trailers)
                }
                try await writer.write(order)
            }
            return trailers
        }
    }

    private var trailers: Metadata {
        DemoMetadata.trailers(servedBy: Self.serviceName)
    }

    private func error(_ code: RPCError.Code, _ message: String, _ requestMetadata: Metadata) -> RPCError {
        DemoMetadata.error(code, message, echoing: requestMetadata, servedBy: Self.serviceName)
    }
}
