// Configuration of the REST gateway's response cache: per route (`routes[].cache`) what is stored
// and for how long, and gateway-wide (`gateways.rest.cache`) how much memory the cache may hold.

/// Response caching for one route (`gateways.rest.routes[].cache`; the key's presence turns it on).
///
/// Keys: `ttl` (freshness lifetime when the response gives none in `Cache-Control` or `Expires`;
/// default 60s), `maxEntrySize` (larger response bodies are not stored; default 1MiB), `methods`
/// (GET and/or HEAD; default both; a HEAD is answered from the GET entry), `authorized` (default
/// false: responses to requests carrying credentials, an `Authorization` header or the API key
/// header, are stored and served only when the response says `public`, `s-maxage` or
/// `must-revalidate`; true caches them all: add `authorization` to `keyHeaders` to keep users
/// apart), `statuses` (default 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501), `keyHeaders`
/// (request headers whose values are part of the cache key; default none).
public struct RouteCacheConfig: Codable, Sendable, Equatable {
    public static let defaultStatuses = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]
    public static let defaultTTL = ConfigDuration.seconds(60)
    public static let defaultMaxEntrySize = ByteSize(bytes: 1 << 20)

    public var ttl: ConfigDuration
    public var maxEntrySize: ByteSize
    /// Upper-cased.
    public var methods: [String]
    public var authorized: Bool
    public var statuses: [Int]
    /// Lower-cased.
    public var keyHeaders: [String]

    public init(
        ttl: ConfigDuration = Self.defaultTTL, maxEntrySize: ByteSize = Self.defaultMaxEntrySize,
        methods: [String] = ["GET", "HEAD"], authorized: Bool = false, statuses: [Int] = Self.defaultStatuses,
        keyHeaders: [String] = []
    ) {
        self.ttl = ttl
        self.maxEntrySize = maxEntrySize
        self.methods = methods.map { $0.uppercased() }
        self.authorized = authorized
        self.statuses = statuses
        self.keyHeaders = keyHeaders.map { $0.lowercased() }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            ttl: try c.value(.ttl, or: Self.defaultTTL),
            maxEntrySize: try c.value(.maxEntrySize, or: Self.defaultMaxEntrySize),
            methods: try c.value(.methods, or: ["GET", "HEAD"]),
            authorized: try c.value(.authorized, or: false),
            statuses: try c.value(.statuses, or: Self.defaultStatuses),
            keyHeaders: try c.value(.keyHeaders, or: []))
    }

    /// Whether requests with this method use the cache (GET and HEAD only).
    public func caches(method: String) -> Bool {
        let method = method.uppercased()
        return (method == "GET" || method == "HEAD") && methods.contains(method)
    }

    /// What is wrong with the settings, each naming its key (empty when they are usable).
    public func problems() -> [CacheConfigProblem] {
        var problems: [CacheConfigProblem] = []
        if ttl.duration < .seconds(1) {
            problems.append(.init(key: "ttl", message: "must be at least 1s (HTTP freshness counts whole seconds)"))
        }
        if maxEntrySize.bytes < 1 { problems.append(.init(key: "maxEntrySize", message: "must be at least 1 byte")) }
        if methods.isEmpty { problems.append(.init(key: "methods", message: "needs GET, HEAD or both")) }
        for method in methods where method != "GET" && method != "HEAD" {
            problems.append(.init(key: "methods", message: "'\(method)' cannot be cached (only GET and HEAD)"))
        }
        if statuses.isEmpty { problems.append(.init(key: "statuses", message: "needs at least one status")) }
        for status in statuses where !(200...599).contains(status) || status == 206 {
            let why = status == 206 ? "partial content is not cached" : "is not a final response status"
            problems.append(.init(key: "statuses", message: "\(status) \(why)"))
        }
        for name in keyHeaders where !RoutePolicyValidator.isToken(name) {
            problems.append(.init(key: "keyHeaders", message: "'\(name)' is not a header name"))
        }
        return problems
    }
}

/// The REST gateway's response cache store (`gateways.rest.cache`). Keys: `maxSize` (bytes of
/// stored bodies and headers, all routes together; default 64MiB), `maxEntries` (stored responses;
/// default 10000). The least recently used responses are dropped to stay within both.
public struct CacheStoreConfig: Codable, Sendable, Equatable {
    public static let defaultMaxSize = ByteSize(bytes: 64 << 20)
    public static let defaultMaxEntries = 10_000

    public var maxSize: ByteSize
    public var maxEntries: Int

    public init(maxSize: ByteSize = Self.defaultMaxSize, maxEntries: Int = Self.defaultMaxEntries) {
        self.maxSize = maxSize
        self.maxEntries = maxEntries
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxSize = try c.value(.maxSize, or: Self.defaultMaxSize)
        maxEntries = try c.value(.maxEntries, or: Self.defaultMaxEntries)
    }

    /// What is wrong with the settings, each naming its key (empty when they are usable).
    public func problems() -> [CacheConfigProblem] {
        var problems: [CacheConfigProblem] = []
        if maxSize.bytes < 1 { problems.append(.init(key: "maxSize", message: "must be at least 1 byte")) }
        if maxEntries < 1 { problems.append(.init(key: "maxEntries", message: "must be at least 1")) }
        return problems
    }
}

/// One unusable cache setting: the key under `cache` and what is wrong with it.
public struct CacheConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var key: String
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}
