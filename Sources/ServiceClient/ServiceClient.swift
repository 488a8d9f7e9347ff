import Foundation
// The one way any gateway talks to a microservice. Holds the registry of declared services, their
// transports (the NIO pools: streaming for the proxying gateways, buffered calls to HTTP/1.1 services
// for the translating ones; AsyncHTTPClient for buffered calls to HTTP/2 services) and the background work that keeps endpoint state current (active health checks, DNS
// discovery). Every transport consults the same per-service policy: selection, health, outlier
// detection, breaker, retries and deadlines. A `Service`: it runs for the life of the gateway.
public import GatewayCore
public import Logging
public import NIOCore
public import NIOPosix
public import ServiceLifecycle
import Synchronization

/// Per-call settings a gateway passes with a buffered request.
public struct UpstreamCallOptions: Sendable {
    /// The route's timeout (total, including retries); the service's `requestTimeout` when nil.
    public var timeout: ConfigDuration?
    /// The caller's own deadline (from `x-portico-timeout-ms`); the sooner one wins.
    public var callerTimeout: Duration?
    /// The route's retry policy; the service's when nil.
    public var retry: RetryConfig?
    /// The consistent-hashing key (for `loadBalancing: ringHash`).
    public var hashKey: String?
    /// Cap on the buffered response.
    public var maxResponseBytes: Int
    /// The event loop an HTTP/1.1 call should run on (the caller's, so the answer arrives where it is
    /// used); any of the client's loops when nil or not one of them.
    public var eventLoop: (any EventLoop)?

    public init(
        timeout: ConfigDuration? = nil, callerTimeout: Duration? = nil, retry: RetryConfig? = nil,
        hashKey: String? = nil, maxResponseBytes: Int = ServiceClient.defaultMaxResponseBytes,
        eventLoop: (any EventLoop)? = nil
    ) {
        self.timeout = timeout
        self.callerTimeout = callerTimeout
        self.retry = retry
        self.hashKey = hashKey
        self.maxResponseBytes = maxResponseBytes
        self.eventLoop = eventLoop
    }
}

public final class ServiceClient: Service, Sendable {
    public let identityHeaders: IdentityHeadersConfig
    /// Headers a caller may not set itself (identity and forwarding), lower-cased.
    private let managedHeaders: Set<String>
    public let eventLoopGroup: any EventLoopGroup
    /// The streaming keep-alive pool of the proxying data path.
    public let http1Pool: HTTP1ConnectionPool
    /// The same, with connections that carry raw bytes (the REST gateway's byte-level data path).
    public let bytesPool: HTTP1ConnectionPool
    /// Multiplexed HTTP/2 connections (h2c or TLS) for gRPC upstreams, used by the gRPC data path.
    public let http2Pool: HTTP2ConnectionPool
    let tls: UpstreamTLSTable
    let healthChecker: HealthChecker
    let discovery: EndpointDiscovery
    let logger: Logger

    /// What a reload replaces: the services and their async transports.
    private struct Current {
        var registry: ServiceRegistry
        var transports: [String: HTTPRequestTransport]
        var background: Task<Void, Never>?
        var running = false
    }
    private let current: Mutex<Current>

    /// Default cap on a buffered upstream response.
    public static let defaultMaxResponseBytes = 16 << 20

    /// The declared services as they stand (replaced by `reload`).
    public var registry: ServiceRegistry { current.withLock { $0.registry } }

    var transports: [String: HTTPRequestTransport] { current.withLock { $0.transports } }

    /// Builds the client for every declared service. Fails when a service's TLS files cannot be used.
    public init(
        config: PorticoConfig, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "portico.service-client")
    ) throws(GatewayError) {
        self.identityHeaders = config.auth.identityHeaders
        self.managedHeaders = UpstreamCallContext.managedHeaderNames(identityHeaders: config.auth.identityHeaders)
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        let tls = UpstreamTLSTable(try Self.tlsSettings(config))
        self.tls = tls
        let registry = ServiceRegistry(config: config)
        var transports: [String: HTTPRequestTransport] = [:]
        for (name, service) in registry.services where service.config.protocol != .grpc {
            transports[name] = HTTPRequestTransport(
                service: service, tls: tls[service: name], eventLoopGroup: eventLoopGroup)
        }
        self.current = Mutex(Current(registry: registry, transports: transports))
        self.http1Pool = HTTP1ConnectionPool(group: eventLoopGroup, tls: tls)
        self.bytesPool = HTTP1ConnectionPool(group: eventLoopGroup, tls: tls, kind: .bytes)
        self.http2Pool = HTTP2ConnectionPool(tls: tls, logger: logger)
        self.healthChecker = HealthChecker(http2Pool: http2Pool, eventLoopGroup: eventLoopGroup, logger: logger)
        self.discovery = EndpointDiscovery(eventLoopGroup: eventLoopGroup, logger: logger)
    }

    private static func tlsSettings(_ config: PorticoConfig) throws(GatewayError) -> [String: UpstreamTLS] {
        var tls: [String: UpstreamTLS] = [:]
        for (name, service) in config.services {
            do throws(GatewayError) {
                tls[name] = try UpstreamTLS(service: service)
            } catch {
                throw GatewayError(.internalError, "service '\(name)': \(error.message)")
            }
        }
        return tls
    }

    /// Applies a new configuration's `services`: a service whose settings did not change keeps its
    /// state (health, ejections, breaker) and connections; a changed or new one starts fresh; calls in
    /// flight finish on what they started with. Health checks and discovery restart on the new set.
    public func reload(config: PorticoConfig) throws(GatewayError) {
        let settings = try Self.tlsSettings(config)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let retired = current.withLock { current -> [HTTPRequestTransport] in
            var services: [String: UpstreamService] = [:]
            var transports: [String: HTTPRequestTransport] = [:]
            for (name, serviceConfig) in config.services {
                if let existing = current.registry.services[name],
                    (try? encoder.encode(existing.config)) == (try? encoder.encode(serviceConfig))
                {
                    services[name] = existing
                    transports[name] = current.transports[name]
                    continue
                }
                let service = UpstreamService(name: name, config: serviceConfig)
                services[name] = service
                if serviceConfig.protocol != .grpc {
                    transports[name] = HTTPRequestTransport(
                        service: service, tls: settings[name], eventLoopGroup: eventLoopGroup)
                }
            }
            let kept = Set(transports.values.map { ObjectIdentifier($0) })
            let retired = current.transports.values.filter { !kept.contains(ObjectIdentifier($0)) }
            current.registry = ServiceRegistry(services: services)
            current.transports = transports
            return retired
        }
        tls.replace(with: settings)
        if current.withLock({ $0.running }) { startBackground() }
        // Transports of removed or changed services close once their calls have had time to end.
        let linger = config.services.values.map(\.requestTimeout.duration).max() ?? .seconds(15)
        if !retired.isEmpty {
            Task {
                try? await Task.sleep(for: linger)
                for transport in retired { await transport.shutdown() }
            }
        }
    }

    /// (Re)starts health checks and discovery for the current services.
    private func startBackground() {
        let (registry, transports) = current.withLock { ($0.registry, $0.transports) }
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.healthChecker.run(registry: registry, transports: transports) }
                group.addTask { await self.discovery.run(registry: registry) }
            }
        }
        let previous = current.withLock { current in
            let previous = current.background
            current.background = task
            current.running = true
            return previous
        }
        previous?.cancel()
    }

    /// Sends a buffered request to `service` and returns its buffered response, applying the
    /// service's policy. Gateway-made failures come back as `GatewayError` (connect failure 502, no
    /// healthy endpoint or open circuit 503, timeout 504); any HTTP status the service answered is a
    /// normal response.
    public func send(
        _ request: UpstreamRequest, to service: String, context: UpstreamCallContext,
        options: UpstreamCallOptions = .init()
    ) async throws(GatewayError) -> UpstreamResponse {
        let (transport, request, headers, options) = try prepare(
            request, to: service, context: context, options: options)
        if transport.service.config.protocol == .http1 {
            // HTTP/1.1 on the NIO pool, on the caller's loop when it can (PooledRequestCall.swift).
            let loop = options.eventLoop.flatMap { http1Pool.serves($0) ? $0 : nil } ?? http1Pool.anyLoop
            return try await PooledRequestCall.send(
                request, to: transport.service, pool: http1Pool, on: loop, headers: headers, options: options)
        }
        return try await transport.send(request, headers: headers, options: options, logger: logger)
    }

    /// `send` started on `eventLoop`, which the caller is on, with no task: the future completes on that
    /// loop. nil when the service is not HTTP/1.1 or the loop is not one of the client's (use `send`).
    public func sendOnLoop(
        _ request: UpstreamRequest, to service: String, context: UpstreamCallContext, options: UpstreamCallOptions,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<UpstreamResponse>? {
        eventLoop.assertInEventLoop()
        guard http1Pool.serves(eventLoop) else { return nil }
        let prepared: (HTTPRequestTransport, UpstreamRequest, [(String, String)], UpstreamCallOptions)
        do {
            prepared = try prepare(request, to: service, context: context, options: options)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let (transport, request, headers, options) = prepared
        guard transport.service.config.protocol == .http1 else { return nil }
        return PooledRequestCall.start(
            request, to: transport.service, pool: http1Pool, on: eventLoop, headers: headers, options: options)
    }

    /// The service's transport, the request without headers the gateway manages, the headers it adds,
    /// and the options with the caller's deadline.
    private func prepare(
        _ request: UpstreamRequest, to service: String, context: UpstreamCallContext, options: UpstreamCallOptions
    ) throws(GatewayError) -> (HTTPRequestTransport, UpstreamRequest, [(String, String)], UpstreamCallOptions) {
        let (registry, transports) = current.withLock { ($0.registry, $0.transports) }
        _ = try registry.service(service)
        guard let transport = transports[service] else {
            throw GatewayError(.internalError, "service '\(service)' speaks gRPC; use the gRPC transport")
        }
        let managed = managedHeaders
        var options = options
        if options.callerTimeout == nil, let deadline = context.callerDeadline {
            options.callerTimeout = max(.zero, deadline - .now)
        }
        var request = request
        request.headers.removeAll { managed.contains($0.0.lowercased()) }
        return (transport, request, context.propagationHeaders(identityHeaders: identityHeaders), options)
    }

    /// Runs health checks and discovery until graceful shutdown, then closes every pool.
    public func run() async throws {
        startBackground()
        try? await gracefulShutdown()
        let background = current.withLock { current in
            current.running = false
            return current.background
        }
        background?.cancel()
        await background?.value
        await shutdown()
    }

    /// Closes every pool. Called by `run()` at shutdown, or directly when the gateway never started.
    public func shutdown() async {
        for transport in transports.values { await transport.shutdown() }
        http1Pool.closeIdle()
        bytesPool.closeIdle()
        await http2Pool.shutdown()
    }
}
