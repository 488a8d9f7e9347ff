// Semantic checks of a route's header edits and CORS settings: edits may not touch headers the
// gateway owns (hop-by-hop, identity, forwarding, request id, deadline) and CORS must be coherent.

enum RoutePolicyValidator {
    /// Names a route may not edit on the request: the gateway sets or strips them itself.
    static func protectedRequestHeaders(identityHeaders: IdentityHeadersConfig) -> Set<String> {
        HTTPHeaderRules.hopByHop.union(identityHeaders.all.map { $0.lowercased() }).union([
            "host", "content-length", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded",
            "x-request-id", "traceparent", "tracestate", "x-portico-timeout-ms",
        ])
    }

    static func validate(
        _ route: HTTPRouteConfig, at path: [ConfigProblem.Key], identityHeaders: IdentityHeadersConfig
    ) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        let protected = protectedRequestHeaders(identityHeaders: identityHeaders)
        for name in route.headers.request.names where protected.contains(name) {
            problems.append(
                .init(path + ["headers", "request"], "'\(name)' is set by the gateway and cannot be edited"))
        }
        let responseProtected = HTTPHeaderRules.hopByHop.union(["content-length", "x-request-id"])
        for name in route.headers.response.names where responseProtected.contains(name) {
            problems.append(
                .init(path + ["headers", "response"], "'\(name)' is set by the gateway and cannot be edited"))
        }
        for (edits, side) in [(route.headers.request, "request"), (route.headers.response, "response")] {
            for (name, value) in edits.set.merging(edits.add, uniquingKeysWith: { first, _ in first })
            where !Self.isToken(name) || value.contains("\r") || value.contains("\n") {
                problems.append(.init(path + ["headers", .key(side)], "'\(name)' is not a valid header"))
            }
        }
        if let limit = route.rateLimit {
            if limit.requests < 1 { problems.append(.init(path + ["rateLimit", "requests"], "must be at least 1")) }
            if limit.per.duration <= .zero {
                problems.append(.init(path + ["rateLimit", "per"], "must be longer than 0s"))
            }
            if let burst = limit.burst, burst < 1 {
                problems.append(.init(path + ["rateLimit", "burst"], "must be at least 1"))
            }
        }
        if let cors = route.cors {
            if cors.allowOrigins.isEmpty {
                problems.append(.init(path + ["cors", "allowOrigins"], "needs at least one origin (or \"*\")"))
            }
            if cors.allowCredentials && cors.allowOrigins.contains("*") {
                problems.append(
                    .init(
                        path + ["cors", "allowCredentials"],
                        "cannot be used with allowOrigins \"*\" (browsers refuse it)"))
            }
            for origin in cors.allowOrigins
            where origin != "*" && !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) {
                problems.append(
                    .init(
                        path + ["cors", "allowOrigins"], "'\(origin)' is not an origin such as https://app.example.com")
                )
            }
        }
        return problems
    }

    /// RFC 9110 token characters.
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
    }
}
