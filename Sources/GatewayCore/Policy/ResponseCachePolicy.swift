// The RFC 9111 rules of the response cache as pure functions: whether a response may be stored by a
// shared cache and for how long (§3, §4.2.1), which of its headers are kept, and the key and Vary
// values (§4.1) a request is matched by.

/// What a stored response is found by: GET and HEAD share one method class.
struct CacheKey: Hashable, Sendable {
    var method: String
    var host: String
    var target: String
    var route: String
    /// The values of the route's `keyHeaders`, normalised.
    var extra: [String?]
}

enum CachePolicy {
    /// The key of `request` on a route with `config`.
    static func key(for request: CacheRequest, config: RouteCacheConfig) -> CacheKey {
        CacheKey(
            method: request.method == "HEAD" ? "GET" : request.method, host: request.host, target: request.target,
            route: request.route, extra: config.keyHeaders.map { normalize(request.header($0)) })
    }

    /// A header value compared for Vary and key headers: list members trimmed, inner runs of spaces
    /// and tabs made one space, members joined by ",".
    static func normalize(_ value: String?) -> String? {
        guard let value else { return nil }
        return value.split(separator: ",", omittingEmptySubsequences: false).map { member in
            member.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        }.joined(separator: ",")
    }

    /// Every value of the header `name` (any case), in order.
    static func values(_ headers: CacheHeaders, _ name: String) -> [String] {
        headers.compactMap { $0.name.lowercased() == name ? $0.value : nil }
    }

    /// The lower-cased header names a response varies on, or nil for `Vary: *`.
    static func varyNames(_ headers: CacheHeaders) -> [String]? {
        var names: [String] = []
        for value in values(headers, "vary") {
            for member in value.split(separator: ",") {
                let name = member.trimmingSpaces().lowercased()
                if name == "*" { return nil }
                if !name.isEmpty && !names.contains(name) { names.append(name) }
            }
        }
        return names
    }

    /// The headers of a response that are stored and served again: all but hop-by-hop ones (with
    /// those named in `Connection` and any `proxy-*`), `Age` (recomputed on every hit) and `excluded`
    /// (lower-cased).
    static func storedHeaders(_ headers: CacheHeaders, excluded: Set<String>) -> CacheHeaders {
        let dropped = HTTPHeaderRules.hopByHopNames(connectionHeaderValues: values(headers, "connection"))
            .union(excluded).union(["age"])
        return headers.filter { header in
            let name = header.name.lowercased()
            return !dropped.contains(name) && !name.hasPrefix("proxy-")
        }
    }

    /// Whether a response to `request` may be stored, and if so how long it stays fresh.
    ///
    /// - Parameters:
    ///   - contentLength: the declared body length, when known, to refuse a large body early.
    ///   - wallNow: seconds since 1970, for `Expires` without a `Date` and two-digit years.
    static func storability(
        status: Int, headers: CacheHeaders, request: CacheRequest, config: RouteCacheConfig, contentLength: Int?,
        wallNow: Int64
    ) -> CacheStorability {
        guard request.method == "GET", config.methods.contains("GET") else { return .notStorable(.method) }
        if request.cacheControl.noStore { return .notStorable(.requestNoStore) }
        guard config.statuses.contains(status) else { return .notStorable(.status) }
        let control = CacheControl(values(headers, "cache-control"))
        if control.noStore { return .notStorable(.noStore) }
        if control.isPrivate { return .notStorable(.private) }
        if control.noCache { return .notStorable(.noCache) }
        if varyNames(headers) == nil { return .notStorable(.varyAll) }
        if headers.contains(where: { $0.name.lowercased() == "set-cookie" }) { return .notStorable(.setCookie) }
        let shared = control.isPublic || control.sMaxAge != nil || control.mustRevalidate
        if request.hasCredentials && !config.authorized && !shared { return .notStorable(.authorization) }
        if let contentLength, contentLength > config.maxEntrySize.bytes { return .notStorable(.tooLarge) }
        let lifetime = freshnessLifetime(control: control, headers: headers, ttl: config.ttl, wallNow: wallNow)
        let age = values(headers, "age").first.flatMap { CacheControl.deltaSeconds($0.trimmingSpaces().description) }
        let initialAge = age ?? 0
        guard lifetime > 0, lifetime > initialAge else { return .notStorable(.expired) }
        return .storable(.init(lifetime: lifetime, initialAge: initialAge, sharedWithCredentials: shared))
    }

    /// Seconds a response stays fresh (RFC 9111 §4.2.1): `s-maxage`, else `max-age`, else `Expires`
    /// − `Date` (an invalid `Expires` means already expired; without a valid `Date`, the time it
    /// arrived), else the route's `ttl`.
    static func freshnessLifetime(control: CacheControl, headers: CacheHeaders, ttl: ConfigDuration, wallNow: Int64)
        -> Int
    {
        if let sMaxAge = control.sMaxAge { return sMaxAge }
        if let maxAge = control.maxAge { return maxAge }
        if let expires = values(headers, "expires").first {
            guard let expiry = HTTPDate.parse(expires, now: wallNow) else { return 0 }
            let date = values(headers, "date").first.flatMap { HTTPDate.parse($0, now: wallNow) } ?? wallNow
            let seconds = expiry - date
            return seconds <= 0 ? 0 : Int(min(seconds, Int64(CacheControl.maxDeltaSeconds)))
        }
        return Int(ttl.duration.components.seconds)
    }
}
