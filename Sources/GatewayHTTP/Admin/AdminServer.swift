// The admin listener every gateway runs: `/healthz`, `/readyz`, `/metrics` (Prometheus text),
// `/routes` and `/upstreams` (read-only JSON views). A small Hummingbird application.
import Foundation
public import GatewayCore
public import Hummingbird
public import Logging
import NIOCore
public import ServiceClient

/// A route as the admin listener and `gatewayctl routes` show it.
public struct RouteInfo: Codable, Sendable {
    public var name: String
    public var match: String
    public var methods: [String]
    public var target: String
    public var auth: String

    public init(name: String, match: String, methods: [String], target: String, auth: String) {
        self.name = name
        self.match = match
        self.methods = methods
        self.target = target
        self.auth = auth
    }
}

public enum AdminServer {
    /// Builds the admin application. `onBound` receives the bound port (for port 0).
    public static func makeApplication(
        gateway: String, address: ListenAddress, readiness: Readiness, routes: @escaping @Sendable () -> [RouteInfo],
        registry: @escaping @Sendable () -> ServiceRegistry, reload: (@Sendable () async -> ReloadOutcome)? = nil,
        logger: Logger, onBound: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}")))
        }
        router.get("/readyz") { _, _ in
            let ready = readiness.isReady
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(
                    byteBuffer: ByteBuffer(string: ready ? "{\"status\":\"ready\"}" : "{\"status\":\"not ready\"}")))
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: Observability.exposition())))
        }
        router.get("/routes") { _, _ in
            let routesJSON =
                (try? JSONEncoder.sorted.encode(["gateway": AnyEncodable(gateway), "routes": AnyEncodable(routes())]))
                ?? Data()
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: routesJSON)))
        }
        router.get("/upstreams") { _, _ in
            let services = registry().services.values.sorted { $0.name < $1.name }.map { $0.snapshot() }
            let data = (try? JSONEncoder.sorted.encode(["services": services])) ?? Data()
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/reload") { _, _ in
            let outcome =
                await reload?()
                ?? ReloadOutcome(status: "unsupported", errors: ["this gateway cannot reload"], notes: [], routes: nil)
            let status: HTTPResponse.Status =
                switch outcome.status {
                case "reloaded": .ok
                case "rejected": .badRequest
                default: .notImplemented
                }
            return Response(
                status: status, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: (try? JSONEncoder.sorted.encode(outcome)) ?? Data())))
        }
        var adminLogger = logger
        adminLogger.logLevel = .warning
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(address.host, port: address.port), serverName: "portico-\(gateway)-admin"),
            onServerRunning: { channel in await onBound(channel.localAddress?.port ?? address.port) },
            logger: adminLogger)
    }
}

struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
