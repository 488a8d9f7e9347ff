// Public entry point of DemoServices: the configuration of the demo microservices and a factory that builds all
// of them as swift-service-lifecycle services (each HTTP one a Hummingbird application) for one ServiceGroup.

public import Hummingbird
public import Logging
public import ServiceLifecycle

/// Where the demo microservices listen and how the chat backend reaches the websocket gateway.
public struct DemoServicesConfig: Sendable, Equatable {
    /// Address every service binds (default `127.0.0.1`).
    public var host: String
    /// users (REST/JSON), default 9101.
    public var usersPort: Int
    /// orders (gRPC), default 9102.
    public var ordersPort: Int
    /// catalog (GraphQL), default 9103.
    public var catalogPort: Int
    /// notifications (CloudEvents sink), default 9104.
    public var notificationsPort: Int
    /// chat (websocket gateway integration backend), default 9105.
    public var chatPort: Int
    /// Base URL of the websocket gateway, for `POST /@connections/{id}` (default `http://127.0.0.1:8084`).
    public var websocketGatewayURL: String
    /// API key the chat backend sends to the websocket gateway as `X-API-Key` (default `demo-key`).
    public var apiKey: String

    public init(
        host: String = "127.0.0.1",
        usersPort: Int = 9101,
        ordersPort: Int = 9102,
        catalogPort: Int = 9103,
        notificationsPort: Int = 9104,
        chatPort: Int = 9105,
        websocketGatewayURL: String = "http://127.0.0.1:8084",
        apiKey: String = "demo-key"
    ) {
        self.host = host
        self.usersPort = usersPort
        self.ordersPort = ordersPort
        self.catalogPort = catalogPort
        self.notificationsPort = notificationsPort
        self.chatPort = chatPort
        self.websocketGatewayURL = websocketGatewayURL
        self.apiKey = apiKey
    }
}

/// The names of the demo microservices.
public enum DemoServiceName: String, Sendable, CaseIterable {
    case users, orders, catalog, notifications, chat
}

/// Every demo microservice, built and not yet running, with the state behind each.
///
/// ```swift
/// let demo = try makeDemoServices(config: DemoServicesConfig()) { name, port in print(name, port) }
/// let group = ServiceGroup(services: demo.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public struct DemoServiceSet {
    public let users: DemoApplication
    public let orders: OrdersGRPCServer
    public let catalog: DemoApplication
    public let notifications: DemoApplication
    public let chat: DemoApplication

    public let userStore: UserStore
    public let notificationsStore: NotificationsStore
    public let chatConnections: ChatConnections

    /// All five, in port order, for a `ServiceGroup`.
    public var services: [any Service] { [users, orders, catalog, notifications, chat] }
}

/// Builds all five demo microservices from `config`.
///
/// - Parameters:
///   - config: hosts, ports and the websocket gateway's management endpoint.
///   - logger: base logger; each service logs with its name in the `service` metadata (default: label
///     `demo-services`).
///   - onServerRunning: called for each HTTP service once it listens, with its name and bound port. The orders
///     gRPC server does not call it: read `try await set.orders.port` instead.
/// - Throws: only if the catalog schema cannot be built (a programming error).
public func makeDemoServices(
    config: DemoServicesConfig = DemoServicesConfig(),
    logger: Logger? = nil,
    onServerRunning: @escaping @Sendable (DemoServiceName, Int) async -> Void = { _, _ in }
) throws -> DemoServiceSet {
    let base = logger ?? Logger(label: "demo-services")
    func serviceLogger(_ name: DemoServiceName) -> Logger {
        var logger = base
        logger[metadataKey: "service"] = "\(name.rawValue)"
        return logger
    }
    let userStore = UserStore()
    let notificationsStore = NotificationsStore()
    let chatConnections = ChatConnections()
    return DemoServiceSet(
        users: makeUsersApplication(
            host: config.host, port: config.usersPort, store: userStore, logger: serviceLogger(.users),
            onServerRunning: { await onServerRunning(.users, $0) }),
        orders: OrdersGRPCServer(host: config.host, port: config.ordersPort),
        catalog: try makeCatalogApplication(
            host: config.host, port: config.catalogPort, logger: serviceLogger(.catalog),
            onServerRunning: { await onServerRunning(.catalog, $0) }),
        notifications: makeNotificationsApplication(
            host: config.host, port: config.notificationsPort, store: notificationsStore,
            logger: serviceLogger(.notifications), onServerRunning: { await onServerRunning(.notifications, $0) }),
        chat: makeChatApplication(
            host: config.host, port: config.chatPort, gatewayURL: config.websocketGatewayURL,
            apiKey: config.apiKey, connections: chatConnections, logger: serviceLogger(.chat),
            onServerRunning: { await onServerRunning(.chat, $0) }),
        userStore: userStore,
        notificationsStore: notificationsStore,
        chatConnections: chatConnections
    )
}
