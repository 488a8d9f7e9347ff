// What every proxied call shares, built once from the config: routes, upstream registry and pool,
// auth, header rules, metrics and logging.
import GatewayCore
import Logging
import ServiceClient

struct GRPCProxySettings: Sendable {
    let routes: GRPCRouteTable
    /// Answer `grpc.health.v1.Health/Check` locally.
    let healthEnabled: Bool
    /// Names reported `SERVING`: the empty name (the whole server) and every routed service.
    let servingServices: Set<String>
    let registry: ServiceRegistry
    let pool: HTTP2ConnectionPool
    let authenticator: Authenticator
    let identityHeaders: IdentityHeadersConfig
    let droppedHeaders: Set<String>
    let metrics: RequestMetrics
    let accessLog: Bool
    let logger: Logger

    init(
        config: GRPCGatewayConfig, registry: ServiceRegistry, pool: HTTP2ConnectionPool, authenticator: Authenticator,
        metrics: RequestMetrics, accessLog: Bool, logger: Logger
    ) {
        routes = GRPCRouteTable(routes: config.routes)
        healthEnabled = config.health
        servingServices = routes.serviceNames.union([""])
        self.registry = registry
        self.pool = pool
        self.authenticator = authenticator
        identityHeaders = authenticator.config.identityHeaders
        droppedHeaders = GRPCRequestHeaders.droppedNames(identityHeaders: identityHeaders)
        self.metrics = metrics
        self.accessLog = accessLog
        self.logger = logger
    }
}
