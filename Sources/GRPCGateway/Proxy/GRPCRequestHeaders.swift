// The request header block sent upstream, edited from the client's: new pseudo-headers for the
// chosen endpoint, hop-by-hop and gateway-managed headers removed, `grpc-timeout` capped, and the
// request id, trace context, identity and forwarding headers added.
import GatewayCore
import NIOHPACK
import ServiceClient

enum GRPCRequestHeaders {
    /// Lower-case names never copied from the client: hop-by-hop headers (except `te`, which gRPC
    /// requires as `te: trailers`), the identity and forwarding headers the gateway sets, and the
    /// headers it replaces.
    static func droppedNames(identityHeaders: IdentityHeadersConfig) -> Set<String> {
        var names = HTTPHeaderRules.hopByHop.union(
            UpstreamCallContext.managedHeaderNames(identityHeaders: identityHeaders))
        names.remove("te")
        names.formUnion(["host", "grpc-timeout", RequestID.headerName.lowercased(), "traceparent", "tracestate"])
        return names
    }

    /// The time the upstream gets: the client's `grpc-timeout` when it is shorter than `limit`.
    static func effectiveTimeout(clientValue: String?, limit: Duration) -> Duration {
        guard let clientValue, let requested = GRPCTimeout.parse(clientValue) else { return limit }
        return min(requested, limit)
    }

    static func upstream(
        _ incoming: HPACKHeaders, path: String, authority: String, scheme: String = "http", dropped: Set<String>,
        propagation: [(String, String)], timeout: Duration
    ) -> HPACKHeaders {
        var headers = HPACKHeaders()
        headers.reserveCapacity(incoming.count + propagation.count + 4)
        headers.add(name: ":method", value: "POST")
        headers.add(name: ":scheme", value: scheme)
        headers.add(name: ":path", value: path)
        headers.add(name: ":authority", value: authority)
        var connectionTokens: Set<String> = []
        for value in incoming.values(forHeader: "connection", canonicalForm: true) {
            connectionTokens.insert(String(value).lowercased())
        }
        for (name, value, indexing) in incoming {
            if name.hasPrefix(":") { continue }
            let lowered = name.lowercased()
            if dropped.contains(lowered) || connectionTokens.contains(lowered) { continue }
            headers.add(name: lowered, value: value, indexing: indexing)
        }
        headers.add(name: "grpc-timeout", value: GRPCTimeout.encode(timeout))
        for (name, value) in propagation {
            headers.add(name: name.lowercased(), value: value)
        }
        return headers
    }
}
