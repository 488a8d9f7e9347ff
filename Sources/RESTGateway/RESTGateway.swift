// The REST gateway: compiles `gateways.rest.routes` into a route table and runs the NIO proxy
// listener. Everything per request happens in `RESTProxyHandler`.
public import GatewayCore
public import GatewayHTTP
import Logging
import NIOCore
import NIOSSL
import ServiceClient
import Synchronization

/// The current `RESTGatewayShared`, swapped whole by a reload. A connection takes the current one at
/// the start of each request and keeps it until that request ends.
final class RESTSharedBox: Sendable {
    private let box: Mutex<RESTGatewayShared>

    init(_ shared: RESTGatewayShared) { box = Mutex(shared) }

    var current: RESTGatewayShared { box.withLock { $0 } }

    func replace(_ shared: RESTGatewayShared) { box.withLock { $0 = shared } }
}

/// State shared by every connection of one REST gateway (immutable; a reload builds a new one).
final class RESTGatewayShared: Sendable {
    let routes: RouteTable<RESTRoute>
    /// The routes the byte-level HTTP/1.1 data path serves, by name (FastRoutePlan.swift).
    let fastPlans: [String: FastRoutePlan]
    /// What the admin listener's `/routes` shows for these routes.
    let routeInfo: [RouteInfo]
    let client: ServiceClient
    let authenticator: Authenticator
    let metrics: RequestMetrics
    let logger: Logger
    let accessLog: Bool
    let maxBodyBytes: Int
    /// The largest request head (request line and header fields), from limits.maxHeaderSize.
    let maxHeadBytes: Int
    /// How long a client may take (limits.clientIdleTimeout, clientHeaderTimeout, clientBodyTimeout).
    let clientTimeouts: ClientTimeouts
    let identityHeaders: IdentityHeadersConfig
    let managedHeaders: Set<String>
    /// Hop-by-hop and gateway-managed names, removed from every forwarded request.
    let droppedRequestHeaders: Set<String>
    let compression: CompressionConfig
    let trustedProxies: [IPRange]
    /// Responses of routes with `cache` (a reload starts with an empty cache).
    let cache: ResponseCache
    /// TLS for new client connections (rebuilt from the files on reload).
    let tlsContext: NIOSSLContext?
    let http2: Bool
    /// `https` when the listener terminates TLS.
    let scheme: String

    init(environment env: GatewayEnvironment) throws {
        var compiled: [(name: String, matcher: RouteMatcher, target: RESTRoute)] = []
        let expanded = try OpenAPIRoutes.expand(env.config.gateways.rest, auth: env.config.auth) {
            env.loaded.resolve(path: $0)
        }
        for route in expanded.routes {
            let service = try env.client.registry.service(route.service)
            let canary = try route.canary.map { try env.client.registry.service($0.service) }
            compiled.append(
                (
                    route.name, try RouteMatcher(config: route.match),
                    RESTRoute(
                        config: route, service: service, canaryService: canary,
                        validator: expanded.validators[route.name])
                ))
        }
        routes = try RouteTable(compiled)
        managedHeaders = UpstreamCallContext.managedHeaderNames(identityHeaders: env.config.auth.identityHeaders)
        droppedRequestHeaders = managedHeaders.union(HTTPHeaderRules.hopByHop)
        var plans: [String: FastRoutePlan] = [:]
        for (name, _, route) in compiled where FastRoutePlan.eligible(route) {
            plans[name] = FastRoutePlan(route: route, dropped: droppedRequestHeaders)
        }
        fastPlans = plans
        // Built from the documents read once above, not by reading them again.
        routeInfo = RESTGateway.routeInfo(expanded.routes)
        client = env.client
        authenticator = env.authenticator
        metrics = env.metrics
        logger = env.logger
        accessLog = env.config.observability.accessLog
        maxBodyBytes = env.config.limits.maxRequestBodySize.bytes
        clientTimeouts = ClientTimeouts(env.config.limits)
        maxHeadBytes = env.config.limits.maxHeaderSize.bytes
        identityHeaders = env.config.auth.identityHeaders
        compression = env.config.gateways.rest.compression
        trustedProxies = env.config.gateways.rest.trustedProxies
        cache = ResponseCache(config: env.config.gateways.rest.cache, excludedHeaders: [RequestID.headerName])
        CacheCounters.recordSize(of: cache)
        http2 = env.config.gateways.rest.http2
        scheme = env.config.gateways.rest.tls == nil ? "http" : "https"
        tlsContext = try env.config.gateways.rest.tls.map { tls in
            try ListenerTLS.context(tls, http2: env.config.gateways.rest.http2) { env.loaded.resolve(path: $0) }
        }
    }
}

extension RESTGatewayShared {
    /// Status codes as metric label values, made once rather than formatted on every request.
    private static let statusLabels = (0..<600).map { String($0) }

    static func statusLabel(_ status: UInt) -> String {
        status < 600 ? statusLabels[Int(status)] : String(status)
    }

    /// Counts a finished request and writes its access-log line (both REST data paths).
    func requestFinished(
        route: String, method: String, path: Substring, status: UInt, start: ContinuousClock.Instant,
        requestID: String, trace: GatewayTraceContext, client: String?
    ) {
        metrics.requestFinished()
        let duration = ContinuousClock.now - start
        metrics.record(route: route, status: Self.statusLabel(status), duration: duration)
        guard accessLog else { return }
        logger.info(
            "access",
            metadata: [
                "method": "\(method)", "path": "\(path)", "status": "\(status)",
                "duration_ms": "\(Double(duration.nanoseconds) / 1e6)", "request_id": "\(requestID)",
                "trace_id": "\(trace.traceID)", "route": "\(route)", "client": "\(client ?? "")",
            ])
    }
}

public enum RESTGateway {
    public static func build(_ env: GatewayEnvironment) async throws -> GatewayComponents {
        let first = try RESTGatewayShared(environment: env)
        let box = RESTSharedBox(first)
        let server = RESTServer(
            address: env.listener.listen, group: env.client.eventLoopGroup, shared: box, logger: env.logger
        ) { port in
            await env.mainListenerBound(port: port)
        }
        // A reload compiles the new routes and policies first; only a complete set is swapped in.
        return GatewayComponents(services: [server], routes: first.routeInfo) { env in
            let next = try RESTGatewayShared(environment: env)
            box.replace(next)
            return next.routeInfo
        }
    }

    /// Every REST route of a configuration: the configured ones and those generated from its OpenAPI
    /// documents (which are read here); throws when a document cannot be used.
    public static func routes(
        _ config: RESTGatewayConfig, auth: AuthConfig, resolve: (String) -> String
    ) throws -> [HTTPRouteConfig] {
        try OpenAPIRoutes.expand(config, auth: auth, resolve: resolve).routes
    }

    /// The admin `/routes` view of the routes (configured, then generated), in file order.
    static func routeInfo(_ routes: [HTTPRouteConfig]) -> [RouteInfo] {
        routes.map { route in
            RouteInfo(
                name: route.name, match: (try? RouteMatcher(config: route.match).pathDescription) ?? "?",
                methods: route.match.methods, target: route.service,
                auth: route.auth.require.rawValue
                    + (route.auth.scopes.isEmpty ? "" : " " + route.auth.scopes.joined(separator: " ")))
        }
    }
}
