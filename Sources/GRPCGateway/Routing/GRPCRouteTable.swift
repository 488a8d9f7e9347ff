// Which route a gRPC call takes: `:path` is `/package.Service/Method`; a route names a fully
// qualified service and optionally the methods it covers.
import GatewayCore

/// A parsed `:path`.
struct GRPCMethodPath: Hashable, Sendable {
    var service: String
    var method: String

    /// Parses `/package.Service/Method`; nil for anything else.
    init?(_ path: String) {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        service = String(parts[0])
        method = String(parts[1])
    }

    init(service: String, method: String) {
        self.service = service
        self.method = method
    }

    var path: String { "/\(service)/\(method)" }
}

/// The `gateways.grpc.routes`, indexed by service name.
struct GRPCRouteTable: Sendable {
    private let byService: [String: [GRPCRouteConfig]]

    init(routes: [GRPCRouteConfig]) {
        byService = Dictionary(grouping: routes, by: \.grpcService)
    }

    /// The first route of the call's service that covers its method (a route without `methods` covers all).
    func route(for call: GRPCMethodPath) -> GRPCRouteConfig? {
        byService[call.service]?.first { $0.methods.isEmpty || $0.methods.contains(call.method) }
    }

    /// The fully qualified names of every routed service (reported `SERVING` by the health check).
    var serviceNames: Set<String> { Set(byService.keys) }
}
