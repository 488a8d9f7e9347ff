// The `gateways.rest` section: listener keys, routes (match, rewrite, auth and the per-route
// policies of RoutePolicyConfig.swift), response compression and trusted proxies.
import Foundation

/// `gateways.rest`: keys `listen` (default 127.0.0.1:8080), `admin` (default 127.0.0.1:9080),
/// `gracePeriod`, `routes` (list of ``HTTPRouteConfig``).
public struct RESTGatewayConfig: Codable, Sendable {
    public var listener: ListenerConfig
    public var routes: [HTTPRouteConfig]
    public var compression: CompressionConfig
    /// Proxies in front of the gateway whose `X-Forwarded-*` headers are believed (CIDR list).
    public var trustedProxies: [IPRange]
    /// The memory bound of the response cache shared by routes with `cache`.
    public var cache: CacheStoreConfig
    /// Routes generated from OpenAPI documents (added to `routes`).
    public var openapi: [OpenAPIRoutesConfig]
    /// TLS on the main listener (HTTPS, and HTTP/2 through ALPN).
    public var tls: ListenerTLSConfig?
    /// HTTP/2 from clients: `h2` through ALPN with TLS, prior-knowledge `h2c` without (default true).
    public var http2: Bool

    public init(listener: ListenerConfig = .defaults(port: 8080), routes: [HTTPRouteConfig] = []) {
        self.listener = listener
        self.routes = routes
        self.compression = .init()
        self.trustedProxies = []
        self.cache = .init()
        self.openapi = []
        self.tls = nil
        self.http2 = true
    }

    enum CodingKeys: String, CodingKey { case routes, compression, trustedProxies, cache, openapi, tls, http2 }

    public init(from decoder: any Decoder) throws {
        listener = try ListenerConfig(
            from: decoder.container(keyedBy: ListenerConfig.CodingKeys.self), defaultPort: 8080)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        routes = try c.value(.routes, or: [])
        compression = try c.value(.compression, or: .init())
        trustedProxies = try c.value(.trustedProxies, or: [])
        cache = try c.value(.cache, or: .init())
        openapi = try c.value(.openapi, or: [])
        tls = try c.decodeIfPresent(ListenerTLSConfig.self, forKey: .tls)
        http2 = try c.value(.http2, or: true)
    }

    public func encode(to encoder: any Encoder) throws {
        try listener.encodeInline(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(routes, forKey: .routes)
        try c.encode(compression, forKey: .compression)
        try c.encode(trustedProxies, forKey: .trustedProxies)
        try c.encode(cache, forKey: .cache)
        try c.encode(openapi, forKey: .openapi)
        try c.encodeIfPresent(tls, forKey: .tls)
        try c.encode(http2, forKey: .http2)
    }
}

/// Response compression (gzip or deflate, as the client's `Accept-Encoding` prefers). Keys: `enabled`
/// (default false: compression costs CPU on every response), `minSize` (responses that declare a
/// smaller `Content-Length` are sent as they are; default 1KiB), `contentTypes` (media types that are
/// compressed; a trailing `*` matches a prefix; default text, JSON, XML, JavaScript, SVG).
public struct CompressionConfig: Codable, Sendable {
    public var enabled: Bool
    public var minSize: ByteSize
    public var contentTypes: [String]

    public static let defaultContentTypes = [
        "text/*", "application/json", "application/problem+json", "application/xml", "application/javascript",
        "application/graphql-response+json", "image/svg+xml",
    ]

    public init(enabled: Bool = false, minSize: ByteSize = .init(bytes: 1024), contentTypes: [String]? = nil) {
        self.enabled = enabled
        self.minSize = minSize
        self.contentTypes = contentTypes ?? Self.defaultContentTypes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, or: false)
        minSize = try c.value(.minSize, or: .init(bytes: 1024))
        contentTypes = try c.value(.contentTypes, or: Self.defaultContentTypes)
    }

    /// Whether a response with these headers should be compressed (when the client accepts it).
    public func shouldCompress(contentType: String?, contentLength: String?, contentEncoding: String?) -> Bool {
        guard enabled, contentEncoding == nil || contentEncoding == "identity" else { return false }
        if let length = contentLength.flatMap({ Int($0) }), length < minSize.bytes { return false }
        guard let contentType else { return false }
        let type =
            contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return contentTypes.contains { pattern in
            pattern.hasSuffix("*") ? type.hasPrefix(pattern.dropLast()) : type == pattern
        }
    }
}

/// One HTTP route.
///
/// Keys: `name` (unique; used in metrics and logs), `match` (``RouteMatchConfig``), `service` (a
/// declared service), `rewrite` (``PathRewriteConfig``), `auth` (``AuthPolicyConfig``, default public),
/// `timeout` (overrides the service's `requestTimeout`), `retry` (``RetryConfig``; replaces the
/// service's retry policy for this route), `headers` (``RouteHeadersConfig``), `ipAllow` and
/// `ipDeny` (lists of addresses or CIDR blocks), `cors` (``CORSConfig``), `rateLimit`
/// (``RateLimitConfig``), `canary` (``CanaryConfig``), `mirror` (``MirrorConfig``),
/// `maxRequestBodySize` and `maxResponseBodySize`, `aggregate` (``AggregateConfig``; then `service`
/// may be left out), `transform` (``BodyTransformConfig``), `cache` (``RouteCacheConfig``).
public struct HTTPRouteConfig: Codable, Sendable {
    public var name: String
    public var match: RouteMatchConfig
    public var service: String
    public var rewrite: PathRewriteConfig?
    public var auth: AuthPolicyConfig
    public var timeout: ConfigDuration?
    public var retry: RetryConfig?
    public var headers: RouteHeadersConfig
    public var ipAllow: [IPRange]
    public var ipDeny: [IPRange]
    public var cors: CORSConfig?
    public var rateLimit: RateLimitConfig?
    public var canary: CanaryConfig?
    public var mirror: MirrorConfig?
    /// Overrides `limits.maxRequestBodySize` for this route.
    public var maxRequestBodySize: ByteSize?
    /// The largest response passed on: a larger declared `Content-Length` gets 502; a streamed body
    /// that grows past it is cut (the connection closes). Default: no limit.
    public var maxResponseBodySize: ByteSize?
    /// Fan-out to several services with the answers merged; `service` is then optional.
    public var aggregate: AggregateConfig?
    /// Request and response body shaping and XML/JSON conversion (bodies are buffered).
    public var transform: BodyTransformConfig?
    /// Response caching in the gateway's memory.
    public var cache: RouteCacheConfig?

    public init(
        name: String, match: RouteMatchConfig, service: String, rewrite: PathRewriteConfig? = nil,
        auth: AuthPolicyConfig = .public, timeout: ConfigDuration? = nil
    ) {
        self.name = name
        self.match = match
        self.service = service
        self.rewrite = rewrite
        self.auth = auth
        self.timeout = timeout
        self.retry = nil
        self.headers = .init()
        self.ipAllow = []
        self.ipDeny = []
        self.cors = nil
        self.rateLimit = nil
        self.canary = nil
        self.mirror = nil
        self.maxRequestBodySize = nil
        self.maxResponseBodySize = nil
        self.aggregate = nil
        self.transform = nil
        self.cache = nil
    }

    /// The route's client IP rules.
    public var ipRules: IPRules { IPRules(allow: ipAllow, deny: ipDeny) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        match = try c.decode(RouteMatchConfig.self, forKey: .match)
        aggregate = try c.decodeIfPresent(AggregateConfig.self, forKey: .aggregate)
        // An aggregate route names its services per backend; the first stands for the route in metrics.
        service = try c.decodeIfPresent(String.self, forKey: .service) ?? aggregate?.backends.first?.service ?? ""
        rewrite = try c.decodeIfPresent(PathRewriteConfig.self, forKey: .rewrite)
        auth = try c.value(.auth, or: .public)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout)
        retry = try c.decodeIfPresent(RetryConfig.self, forKey: .retry)
        headers = try c.value(.headers, or: .init())
        ipAllow = try c.value(.ipAllow, or: [])
        ipDeny = try c.value(.ipDeny, or: [])
        cors = try c.decodeIfPresent(CORSConfig.self, forKey: .cors)
        rateLimit = try c.decodeIfPresent(RateLimitConfig.self, forKey: .rateLimit)
        canary = try c.decodeIfPresent(CanaryConfig.self, forKey: .canary)
        mirror = try c.decodeIfPresent(MirrorConfig.self, forKey: .mirror)
        maxRequestBodySize = try c.decodeIfPresent(ByteSize.self, forKey: .maxRequestBodySize)
        maxResponseBodySize = try c.decodeIfPresent(ByteSize.self, forKey: .maxResponseBodySize)
        transform = try c.decodeIfPresent(BodyTransformConfig.self, forKey: .transform)
        cache = try c.decodeIfPresent(RouteCacheConfig.self, forKey: .cache)
    }
}

/// What a request must look like to take a route.
///
/// Keys: `path` (exact path or template: `/users/{id}`, with an optional trailing `*` or `{name...}`
/// that matches the rest), `prefix` (any path under this prefix), `regex` (a regular expression that
/// must match the whole path; named groups become parameters, others `1`, `2`…; exactly one of
/// `path`/`prefix`/`regex`),
/// `methods` (default any), `host` (exact, or `*.example.com`), `headers` (name to exact value, or
/// `"*"` for present), `query` (query parameter to exact value, or `"*"`; REST routes).
public struct RouteMatchConfig: Codable, Sendable {
    public var path: String?
    public var prefix: String?
    /// A regular expression the whole path must match (ICU syntax); named groups become parameters.
    public var regex: String?
    public var methods: [String]
    public var host: String?
    public var headers: [String: String]
    /// Query parameter name to exact value (`"*"`: present with any value). REST only.
    public var query: [String: String]

    public init(
        path: String? = nil, prefix: String? = nil, methods: [String] = [], host: String? = nil,
        headers: [String: String] = [:], query: [String: String] = [:]
    ) {
        self.path = path
        self.prefix = prefix
        self.regex = nil
        self.methods = methods
        self.host = host
        self.headers = headers
        self.query = query
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decodeIfPresent(String.self, forKey: .path)
        prefix = try c.decodeIfPresent(String.self, forKey: .prefix)
        regex = try c.decodeIfPresent(String.self, forKey: .regex)
        methods = try c.value(.methods, or: [])
        host = try c.decodeIfPresent(String.self, forKey: .host)
        headers = try c.value(.headers, or: [:])
        query = try c.value(.query, or: [:])
    }
}

/// How the upstream path is made from the request path.
///
/// Keys: `stripPrefix` (removed from the front), `addPrefix` (put in front after stripping), `path` (a
/// template filled from the route's parameters, e.g. `/users/{id}`), `regex` (``RegexRewriteConfig``;
/// instead of `path` and `stripPrefix`), `query` (``QueryMappingConfig``).
public struct PathRewriteConfig: Codable, Sendable {
    public var stripPrefix: String?
    public var addPrefix: String?
    public var path: String?
    public var regex: RegexRewriteConfig?
    public var query: QueryMappingConfig?

    public init(stripPrefix: String? = nil, addPrefix: String? = nil, path: String? = nil) {
        self.stripPrefix = stripPrefix
        self.addPrefix = addPrefix
        self.path = path
    }
}

/// `rewrite.regex`: keys `pattern` (searched in the path) and `replacement` (`$1`, `${name}`, `$$`).
public struct RegexRewriteConfig: Codable, Sendable {
    public var pattern: String
    public var replacement: String
}
