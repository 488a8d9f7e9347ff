// demo-services: the sample microservices behind the demo deployment, in one process (ports 9101–9105).
import ArgumentParser
import DemoServices
import Foundation
import GatewayCore
import Logging
import ServiceLifecycle

@main
struct DemoServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-services",
        abstract: "Run the demo microservices (users, orders, catalog, notifications, chat).")

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "users (REST) port.") var usersPort = 9101
    @Option(help: "orders (gRPC) port.") var ordersPort = 9102
    @Option(help: "catalog (GraphQL) port.") var catalogPort = 9103
    @Option(help: "notifications (CloudEvents sink) port.") var notificationsPort = 9104
    @Option(help: "chat (WebSocket backend) port.") var chatPort = 9105
    @Option(help: "The websocket gateway, for chat broadcasts when a call carries no callbackUrl.")
    var websocketGatewayURL = "http://127.0.0.1:8084"
    @Option(help: "API key for the websocket gateway's management API (env PORTICO_DEMO_API_KEY).")
    var apiKey = ProcessInfo.processInfo.environment["PORTICO_DEMO_API_KEY"] ?? "demo-key"

    func run() async throws {
        Observability.bootstrap(ObservabilityConfig(logLevel: .info, logFormat: .json, accessLog: false))
        let logger = Logger(label: "portico.demo-services")
        let config = DemoServicesConfig(
            host: host, usersPort: usersPort, ordersPort: ordersPort, catalogPort: catalogPort,
            notificationsPort: notificationsPort, chatPort: chatPort, websocketGatewayURL: websocketGatewayURL,
            apiKey: apiKey)
        let set = try makeDemoServices(config: config, logger: logger) { service, port in
            logger.info("listening", metadata: ["service": "\(service.rawValue)", "port": "\(port)"])
        }
        let orders = set.orders
        let reporter = OrdersPortReporter {
            try await orders.port
        } report: { port in
            logger.info("listening", metadata: ["service": "orders", "port": "\(port)"])
        }
        let group = ServiceGroup(
            configuration: .init(
                services: (set.services + [reporter]).map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

/// Logs the gRPC server's port once it is bound (grpc-swift reports it asynchronously).
struct OrdersPortReporter: Service {
    let port: @Sendable () async throws -> Int
    let report: @Sendable (Int) -> Void

    func run() async throws {
        report(try await port())
        try? await gracefulShutdown()
    }
}
