// The gRPC gateway: a proxying gateway on SwiftNIO. Client HTTP/2 streams are routed by
// `/package.Service/Method` to upstream gRPC services and relayed frame by frame over pooled
// HTTP/2 connections; `grpc.health.v1.Health/Check` is answered locally.
import GatewayCore
public import GatewayHTTP
import ServiceClient

public enum GRPCGateway {
    /// Builds the listener from `gateways.grpc`; upstream streams come from the ServiceClient's HTTP/2 pool.
    public static func build(_ env: GatewayEnvironment) async throws -> GatewayComponents {
        let config = env.config.gateways.grpc
        let pool = env.client.http2Pool
        let settings = GRPCProxySettings(
            config: config, registry: env.client.registry, pool: pool, authenticator: env.authenticator,
            metrics: env.metrics, accessLog: env.config.observability.accessLog, logger: env.logger)
        let listener = GRPCListener(
            settings: settings, address: env.listener.listen, group: env.client.eventLoopGroup,
            gracePeriod: env.listener.gracePeriod.duration, maxHeaderListSize: env.config.limits.maxHeaderSize.bytes,
            maxIdleTime: env.config.limits.clientIdleTimeout.duration
        ) { port in
            await env.mainListenerBound(port: port)
        }
        // The pool belongs to the ServiceClient, which shuts down after the listener has drained.
        return GatewayComponents(services: [listener], routes: routeInfo(config))
    }

    static func routeInfo(_ config: GRPCGatewayConfig) -> [RouteInfo] {
        var routes = config.routes.map { route in
            RouteInfo(
                name: route.name,
                match: "/\(route.grpcService)/\(route.methods.isEmpty ? "*" : route.methods.joined(separator: "|"))",
                methods: route.methods, target: route.service, auth: describe(route.auth))
        }
        if config.health {
            routes.append(
                RouteInfo(
                    name: "grpc-health", match: HealthCheckCodec.path.path, methods: ["Check"], target: "local",
                    auth: "none"))
        }
        return routes
    }

    static func describe(_ policy: AuthPolicyConfig) -> String {
        policy.scopes.isEmpty
            ? policy.require.rawValue : "\(policy.require.rawValue) scopes=\(policy.scopes.joined(separator: " "))"
    }
}
