// The per-route HTTP policies the REST data path applies around the proxy: header edits on the
// request and response heads, CORS (preflight answered by the gateway, response headers on actual
// requests) and client IP rules. Pure functions over NIO's HTTPHeaders.
import GatewayCore
import NIOHTTP1

extension HTTPHeaders {
    /// Applies `edits` in their order: remove, set, add.
    mutating func apply(_ edits: HeaderEditsConfig) {
        for name in edits.remove { remove(name: name) }
        for (name, value) in edits.set { replaceOrAdd(name: name, value: value) }
        for (name, value) in edits.add { add(name: name, value: value) }
    }
}

enum CORSPolicy {
    /// Whether `head` is a CORS preflight: OPTIONS with `Origin` and `Access-Control-Request-Method`.
    static func preflightMethod(_ head: HTTPRequestHead) -> String? {
        guard head.method == .OPTIONS, head.headers.contains(name: "origin") else { return nil }
        return head.headers.first(name: "access-control-request-method")
    }

    /// The headers of a preflight answer for `origin`, or nil when the origin (or method) is refused.
    static func preflightHeaders(
        _ cors: CORSConfig, route: RESTRoute, origin: String, method: String, head: HTTPRequestHead
    )
        -> [(String, String)]?
    {
        guard cors.allows(origin: origin) else { return nil }
        let methods = route.corsMethods.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard methods.contains(method.uppercased()) else { return nil }
        var headers = originHeaders(cors, origin: origin)
        headers.append(("Access-Control-Allow-Methods", route.corsMethods))
        let requested = head.headers.first(name: "access-control-request-headers")
        if let allowed = cors.allowHeaders {
            headers.append(("Access-Control-Allow-Headers", allowed.joined(separator: ", ")))
        } else if let requested, !requested.isEmpty {
            headers.append(("Access-Control-Allow-Headers", requested))
        }
        headers.append(("Access-Control-Max-Age", "\(cors.maxAge.duration.components.seconds)"))
        return headers
    }

    /// The headers an actual response carries for an allowed origin.
    static func responseHeaders(_ cors: CORSConfig, origin: String) -> [(String, String)] {
        var headers = originHeaders(cors, origin: origin)
        headers.append(
            ("Access-Control-Expose-Headers", (["X-Request-Id"] + cors.exposeHeaders).joined(separator: ", ")))
        return headers
    }

    private static func originHeaders(_ cors: CORSConfig, origin: String) -> [(String, String)] {
        var headers: [(String, String)] = []
        if cors.allowOrigins.contains("*") && !cors.allowCredentials {
            headers.append(("Access-Control-Allow-Origin", "*"))
        } else {
            headers.append(("Access-Control-Allow-Origin", origin))
            headers.append(("Vary", "Origin"))
        }
        if cors.allowCredentials { headers.append(("Access-Control-Allow-Credentials", "true")) }
        return headers
    }
}
