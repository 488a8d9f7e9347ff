// The one way any gateway talks to a microservice. Holds the registry of declared services, the
// per-service transports, and applies the shared policy (endpoint selection, timeouts, header
// propagation). A `Service`: it runs for the life of the gateway and closes its pools on shutdown.
public import GatewayCore
public import Logging
public import NIOCore
public import NIOPosix
public import ServiceLifecycle

public final class ServiceClient: Service, Sendable {
    public let registry: ServiceRegistry
    public let identityHeaders: IdentityHeadersConfig
    public let eventLoopGroup: any EventLoopGroup
    let transports: [String: HTTPRequestTransport]
    /// The streaming keep-alive pool of the proxying data path.
    public let http1Pool: HTTP1ConnectionPool
    /// Multiplexed HTTP/2 (h2c) connections for gRPC upstreams, used by the gRPC data path.
    public let http2Pool: HTTP2ConnectionPool
    let logger: Logger

    /// Default cap on a buffered upstream response.
    public static let defaultMaxResponseBytes = 16 << 20

    public init(
        config: PorticoConfig, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "portico.service-client")
    ) {
        self.registry = ServiceRegistry(config: config)
        self.identityHeaders = config.auth.identityHeaders
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        var transports: [String: HTTPRequestTransport] = [:]
        for (name, service) in registry.services where service.config.protocol != .grpc {
            transports[name] = HTTPRequestTransport(service: service, eventLoopGroup: eventLoopGroup)
        }
        self.transports = transports
        self.http1Pool = HTTP1ConnectionPool(group: eventLoopGroup)
        self.http2Pool = HTTP2ConnectionPool(logger: logger)
    }

    /// Sends a buffered request to `service` and returns its buffered response. Gateway-made failures
    /// come back as `GatewayError` (connect failure 502, no endpoint 503, timeout 504); any HTTP status
    /// the service answered is a normal response.
    public func send(
        _ request: UpstreamRequest, to service: String, context: UpstreamCallContext, timeout: ConfigDuration? = nil,
        maxResponseBytes: Int = ServiceClient.defaultMaxResponseBytes
    ) async throws(GatewayError) -> UpstreamResponse {
        let upstream = try registry.service(service)
        guard let transport = transports[service] else {
            throw GatewayError(.internalError, "service '\(service)' speaks gRPC; use the gRPC transport")
        }
        let managed = UpstreamCallContext.managedHeaderNames(identityHeaders: identityHeaders)
        var request = request
        request.headers.removeAll { managed.contains($0.0.lowercased()) }
        return try await transport.send(
            request, headers: context.propagationHeaders(identityHeaders: identityHeaders),
            timeout: upstream.requestTimeout(route: timeout), maxResponseBytes: maxResponseBytes, logger: logger)
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Closes every pool. Called by `run()` at shutdown, or directly when the gateway never started.
    public func shutdown() async {
        for transport in transports.values { await transport.shutdown() }
        http1Pool.closeIdle()
        await http2Pool.shutdown()
    }
}
