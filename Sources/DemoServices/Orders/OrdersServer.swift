// Factory and swift-service-lifecycle wrapper for the demo orders gRPC server (Orders + Health over plaintext
// HTTP/2 on NIO Posix).

public import GRPCCore
public import GRPCNIOTransportHTTP2
public import ServiceLifecycle

/// Creates a plaintext HTTP/2 gRPC server serving ``OrdersService`` and ``HealthService``.
///
/// `host` must be a numeric IPv4 or IPv6 address, or `localhost` (bound as 127.0.0.1); no DNS lookup is done.
/// Pass `port: 0` to bind an ephemeral port and read it with `try await server.transport.listeningAddress`.
/// Run it with `try await server.serve()` and stop it with `server.beginGracefulShutdown()` (or cancellation).
public func makeOrdersServer(
    host: String,
    port: Int,
    store: OrderStore = OrderStore()
) -> GRPCServer<HTTP2ServerTransport.Posix> {
    GRPCServer(
        transport: HTTP2ServerTransport.Posix(
            address: ordersServerAddress(host: host, port: port),
            transportSecurity: .plaintext
        ),
        services: [OrdersService(store: store), HealthService()]
    )
}

/// The socket address for `host` and `port` (IPv6 if `host` contains a colon, `localhost` as 127.0.0.1).
func ordersServerAddress(host: String, port: Int) -> GRPCNIOTransportCore.SocketAddress {
    if host == "localhost" {
        return .ipv4(host: "127.0.0.1", port: port)
    }
    if host.contains(":") {
        let unbracketed = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return .ipv6(host: unbracketed, port: port)
    }
    return .ipv4(host: host, port: port)
}

/// The demo orders gRPC server as a swift-service-lifecycle `Service`.
///
/// ```swift
/// let orders = OrdersGRPCServer(host: "127.0.0.1", port: 0)
/// let group = ServiceGroup(services: [orders], logger: logger)   // or: try await orders.run()
/// let port = try await orders.port                                // once bound
/// ```
///
/// `run()` serves until the task is cancelled or a graceful shutdown is triggered (through the service group or
/// ``beginGracefulShutdown()``); in-flight RPCs finish first on graceful shutdown.
public struct OrdersGRPCServer: Service {
    /// The underlying grpc-swift server.
    public let server: GRPCServer<HTTP2ServerTransport.Posix>

    /// The store behind ``OrdersService``.
    public let store: OrderStore

    public init(host: String = "127.0.0.1", port: Int = 50051, store: OrderStore = OrderStore()) {
        self.store = store
        self.server = makeOrdersServer(host: host, port: port, store: store)
    }

    public func run() async throws {
        let server = self.server
        try await withGracefulShutdownHandler {
            try await server.serve()
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }

    /// The bound address; suspends until the server is listening, throws if it failed to bind or has stopped.
    public var listeningAddress: GRPCNIOTransportCore.SocketAddress {
        get async throws {
            try await server.transport.listeningAddress
        }
    }

    /// The bound port (useful after binding port 0); suspends until the server is listening.
    public var port: Int {
        get async throws {
            let address = try await listeningAddress
            if let ipv4 = address.ipv4 {
                return ipv4.port
            }
            if let ipv6 = address.ipv6 {
                return ipv6.port
            }
            throw RPCError(
                code: .failedPrecondition,
                message: "orders server is not bound to an IP address: \(address)"
            )
        }
    }

    /// Stops accepting new RPCs and lets in-flight ones finish; `run()` returns once they have.
    public func beginGracefulShutdown() {
        server.beginGracefulShutdown()
    }
}
