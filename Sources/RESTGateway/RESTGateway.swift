// The REST gateway: compiles `gateways.rest.routes` into a route table and runs the NIO proxy
// listener. Everything per request happens in `RESTProxyHandler`.
import GatewayCore
public import GatewayHTTP
import Logging
import NIOCore
import ServiceClient

/// State shared by every connection of one REST gateway (immutable after start-up).
final class RESTGatewayShared: Sendable {
    let routes: RouteTable<RESTRoute>
    let client: ServiceClient
    let authenticator: Authenticator
    let metrics: RequestMetrics
    let logger: Logger
    let accessLog: Bool
    let maxBodyBytes: Int
    let identityHeaders: IdentityHeadersConfig
    let managedHeaders: Set<String>
    let compression: CompressionConfig
    let trustedProxies: [IPRange]

    init(environment env: GatewayEnvironment) throws {
        var compiled: [(name: String, matcher: RouteMatcher, target: RESTRoute)] = []
        for route in env.config.gateways.rest.routes {
            let service = try env.client.registry.service(route.service)
            let canary = try route.canary.map { try env.client.registry.service($0.service) }
            compiled.append(
                (
                    route.name, try RouteMatcher(config: route.match),
                    RESTRoute(config: route, service: service, canaryService: canary)
                ))
        }
        routes = try RouteTable(compiled)
        client = env.client
        authenticator = env.authenticator
        metrics = env.metrics
        logger = env.logger
        accessLog = env.config.observability.accessLog
        maxBodyBytes = env.config.limits.maxRequestBodySize.bytes
        identityHeaders = env.config.auth.identityHeaders
        managedHeaders = UpstreamCallContext.managedHeaderNames(identityHeaders: identityHeaders)
        compression = env.config.gateways.rest.compression
        trustedProxies = env.config.gateways.rest.trustedProxies
    }
}

public enum RESTGateway {
    public static func build(_ env: GatewayEnvironment) async throws -> GatewayComponents {
        let shared = try RESTGatewayShared(environment: env)
        let server = RESTServer(
            address: env.listener.listen, group: env.client.eventLoopGroup, shared: shared, logger: env.logger
        ) { port in
            await env.mainListenerBound(port: port)
        }
        let routes = env.config.gateways.rest.routes.map { route in
            RouteInfo(
                name: route.name, match: (try? RouteMatcher(config: route.match).pathDescription) ?? "?",
                methods: route.match.methods, target: route.service,
                auth: route.auth.require.rawValue
                    + (route.auth.scopes.isEmpty ? "" : " " + route.auth.scopes.joined(separator: " ")))
        }
        return GatewayComponents(services: [server], routes: routes)
    }
}
