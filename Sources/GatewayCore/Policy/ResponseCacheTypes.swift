// The values the response cache takes and gives: the request as the cache sees it, the result of a
// lookup, why something was not cached, what a response's freshness is, and the counters exported
// as metrics. The engine itself is in ResponseCache.swift.

/// A header list as the cache takes and gives it; names are compared case-insensitively.
public typealias CacheHeaders = [(name: String, value: String)]

/// The value of the `X-Portico-Cache` response header the gateway adds on cached routes.
public enum CacheStatus: String, Sendable, Equatable {
    case hit = "HIT"
    case miss = "MISS"
    case bypass = "BYPASS"

    public static let headerName = "X-Portico-Cache"
}

/// One request as the cache sees it. Not Sendable: `header` reads the live request and is used only
/// during the call it is passed to.
public struct CacheRequest {
    /// Upper-cased.
    public var method: String
    /// Lower-cased.
    public var host: String
    /// Path and query, as received.
    public var target: String
    public var route: String
    /// The value of a request header, asked with a lower-cased name; repeated lines joined by ", ".
    /// Called while the cache holds its lock: it must only read the request.
    public let header: (String) -> String?
    /// Whether it carries an `Authorization` header or the API key header.
    public let hasCredentials: Bool
    /// Its `Cache-Control` directives.
    public let cacheControl: CacheControl
    /// `Pragma: no-cache` (honoured like `Cache-Control: no-cache`).
    public let pragmaNoCache: Bool

    /// - Parameter apiKeyHeader: the name of the header that carries API keys (e.g. `X-API-Key`),
    ///   which counts as a credential like `Authorization`.
    public init(
        method: String, host: String, target: String, route: String, apiKeyHeader: String? = nil,
        header: @escaping (String) -> String?
    ) {
        self.method = method.uppercased()
        self.host = host.lowercased()
        self.target = target
        self.route = route
        self.header = header
        self.hasCredentials =
            header("authorization") != nil || (apiKeyHeader.map { header($0.lowercased()) != nil } ?? false)
        self.cacheControl = CacheControl(header("cache-control"))
        self.pragmaNoCache =
            header("pragma").map { value in
                value.split(separator: ",").contains { $0.trimmingSpaces().lowercased() == "no-cache" }
            } ?? false
    }

    /// A request whose headers are a list (repeated names are joined with ", ").
    public init(
        method: String, host: String, target: String, route: String, apiKeyHeader: String? = nil,
        headers: CacheHeaders
    ) {
        self.init(method: method, host: host, target: target, route: route, apiKeyHeader: apiKeyHeader) { name in
            let values = headers.filter { $0.name.lowercased() == name }.map(\.value)
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }
    }
}

/// A stored response ready to send. The gateway adds `Age` and ``CacheStatus/headerName`` itself.
public struct CachedResponse: Sendable {
    public var status: Int
    /// Without hop-by-hop, excluded and `Age` headers.
    public var headers: CacheHeaders
    /// Empty for a HEAD request.
    public var body: [UInt8]
    /// Seconds, for the `Age` header.
    public var age: Int

    public init(status: Int, headers: CacheHeaders, body: [UInt8], age: Int) {
        self.status = status
        self.headers = headers
        self.body = body
        self.age = age
    }
}

/// Why a request does not use the cache at all.
public enum CacheBypassReason: String, Sendable, Equatable, CustomStringConvertible {
    /// The method is not one the route caches.
    case method
    /// The request says `Cache-Control: no-store`.
    case requestNoStore
    /// It carries credentials, the route is not `authorized` and no stored response may be shared
    /// with it. Its response is still offered to the cache, which keeps it only if it is `public`,
    /// has `s-maxage` or `must-revalidate`.
    case credentials

    public var description: String { rawValue }
}

/// What ``ResponseCache/lookup(_:config:)`` found.
public enum CacheLookup: Sendable {
    /// Send this response; do not call the upstream.
    case hit(CachedResponse)
    /// Call the upstream, then offer its response to
    /// ``ResponseCache/begin(status:headers:request:config:contentLength:)``.
    case miss
    /// Call the upstream; see ``CacheBypassReason`` for whether to offer the response.
    case bypass(CacheBypassReason)

    public var status: CacheStatus {
        switch self {
        case .hit: return .hit
        case .miss: return .miss
        case .bypass: return .bypass
        }
    }

    /// Whether the upstream's response should be offered to the cache.
    public var mayStore: Bool {
        switch self {
        case .hit: return false
        case .miss: return true
        case .bypass(let reason): return reason == .credentials
        }
    }
}

/// Why a response is not stored.
public enum CacheSkipReason: String, Sendable, Equatable, CustomStringConvertible {
    /// Only GET responses are stored (a HEAD response has no body to answer a GET with).
    case method
    /// The request said `no-store`.
    case requestNoStore
    /// The status is not in the route's `statuses`.
    case status
    case noStore
    /// `private`, with or without field names.
    case `private`
    /// `no-cache`, with or without field names: storing it would mean revalidating every use, which
    /// this cache does not do yet.
    case noCache
    /// `Vary: *`: no later request can match it.
    case varyAll
    /// `Set-Cookie` is per client; such responses are never shared (more conservative than RFC 9111).
    case setCookie
    /// A response to a request with credentials, without `public`, `s-maxage` or `must-revalidate`,
    /// on a route that is not `authorized` (RFC 9111 §3.5).
    case authorization
    /// The body is larger than the route's `maxEntrySize`.
    case tooLarge
    /// The entry is larger than the whole store's `maxSize`.
    case exceedsStore
    /// Its freshness lifetime, less its upstream `Age`, is zero or less (includes an invalid `Expires`).
    case expired
    /// The cache was purged for its route (a config reload) while the body was arriving.
    case purged
    /// The body did not arrive whole (``PendingEntry/abandon()``).
    case incomplete

    public var description: String { rawValue }
}

/// How long a storable response stays fresh.
public struct CacheFreshness: Sendable, Equatable {
    /// Seconds, from `s-maxage`, `max-age`, `Expires` − `Date` or the route's `ttl`.
    public var lifetime: Int
    /// Seconds it had already spent in caches upstream (its `Age` header).
    public var initialAge: Int
    /// Whether it may answer requests with credentials on a route that is not `authorized`.
    public var sharedWithCredentials: Bool

    public init(lifetime: Int, initialAge: Int, sharedWithCredentials: Bool) {
        self.lifetime = lifetime
        self.initialAge = initialAge
        self.sharedWithCredentials = sharedWithCredentials
    }
}

/// Whether a response may be stored.
public enum CacheStorability: Sendable, Equatable {
    case storable(CacheFreshness)
    case notStorable(CacheSkipReason)
}

/// What ``PendingEntry/commit()`` did.
public enum CacheStoreOutcome: Sendable, Equatable {
    case stored
    case notStored(CacheSkipReason)
}

/// Counters and gauges of one cache, for metrics.
public struct ResponseCacheStats: Sendable, Equatable {
    public var hits = 0
    public var misses = 0
    public var bypasses = 0
    public var stores = 0
    /// Entries dropped to make room (bytes, entry count or variants per key).
    public var evictions = 0
    /// Entries dropped because they were no longer fresh.
    public var expirations = 0
    /// Bytes of bodies and headers held now.
    public var bytes = 0
    /// Responses held now.
    public var entries = 0

    public init() {}
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpaces() -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" {
            end = index(before: end)
        }
        return self[start..<end]
    }
}
