// A compiled REST route: where it sends requests, how it rewrites the path, and its policy. A class:
// the data path passes it around per request, and copying a struct of this size retained every field.
import GatewayCore
import ServiceClient

final class RESTRoute: Sendable {
    let name: String
    let service: UpstreamService
    let policy: AuthPolicyConfig
    let timeout: Duration
    /// The route's own timeout setting, if any (aggregate backends default to it).
    let timeoutConfig: ConfigDuration?
    /// The route's retry policy, or the service's.
    let retry: RetryConfig
    let requestHeaders: HeaderEditsConfig
    let responseHeaders: HeaderEditsConfig
    let ipRules: IPRules
    let cors: CORSConfig?
    /// Methods announced in CORS preflight answers.
    let corsMethods: String
    /// The route's token buckets (one limiter per route, shared by the gateway's connections).
    let rateLimiter: RateLimiter?
    /// The same route to the canary service, and how requests are split.
    let canary: Canary?
    let mirror: RESTMirror?
    /// The route's own request body limit, if it sets one.
    let maxRequestBytes: Int?
    let maxResponseBytes: Int?
    /// Body transformations (nil when the side is left as it is).
    let requestTransform: BodyTransformer?
    let responseTransform: BodyTransformer?
    let cache: RouteCacheConfig?
    let cacheCounters: CacheCounters?
    let aggregate: AggregateConfig?
    /// Checks requests against the OpenAPI operation the route was generated from.
    let validator: RequestValidator?

    final class Canary: Sendable {
        let route: RESTRoute
        let config: CanaryConfig

        init(route: RESTRoute, config: CanaryConfig) {
            self.route = route
            self.config = config
        }
    }
    let stripPrefix: String?
    let addPrefix: String?
    let template: PathTemplate?
    let regexRewrite: RegexRewrite?
    let queryMapping: QueryMappingConfig?

    init(
        config: HTTPRouteConfig, service: UpstreamService, canaryService: UpstreamService? = nil,
        validator: RequestValidator? = nil
    ) {
        self.validator = validator
        self.name = config.name
        self.service = service
        self.policy = config.auth
        self.timeout = service.requestTimeout(route: config.timeout)
        self.timeoutConfig = config.timeout
        self.retry = config.retry ?? service.config.retry
        self.requestHeaders = config.headers.request
        self.responseHeaders = config.headers.response
        self.ipRules = config.ipRules
        self.cors = config.cors
        self.rateLimiter = config.rateLimit.map { RateLimiter(config: $0) }
        self.mirror = config.mirror.map { RESTMirror(config: $0) }
        self.maxRequestBytes = config.maxRequestBodySize?.bytes
        self.maxResponseBytes = config.maxResponseBodySize?.bytes
        self.requestTransform = config.transform.map { BodyTransformer($0, side: .request) }.flatMap {
            $0.isIdentity ? nil : $0
        }
        self.responseTransform = config.transform.map { BodyTransformer($0, side: .response) }.flatMap {
            $0.isIdentity ? nil : $0
        }
        self.cache = config.cache
        self.cacheCounters = config.cache.map { _ in CacheCounters(route: config.name) }
        self.aggregate = config.aggregate
        if let canaryConfig = config.canary, let canaryService {
            var plain = config
            plain.canary = nil
            plain.rateLimit = nil  // One limit for the route, taken before the split.
            plain.mirror = nil  // Mirrored (or not) before the split too.
            plain.cache = nil  // Looked up and stored by the route itself.
            self.canary = Canary(route: RESTRoute(config: plain, service: canaryService), config: canaryConfig)
        } else {
            self.canary = nil
        }
        self.corsMethods =
            (config.cors?.allowMethods
            ?? (config.match.methods.isEmpty
                ? ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] : config.match.methods))
            .map { $0.uppercased() }.joined(separator: ", ")
        self.stripPrefix = config.rewrite?.stripPrefix
        self.addPrefix = config.rewrite?.addPrefix
        if let path = config.rewrite?.path, case .success(let template) = PathTemplate.parse(path) {
            self.template = template
        } else {
            self.template = nil
        }
        self.regexRewrite = config.rewrite?.regex.flatMap {
            try? RegexRewrite(pattern: $0.pattern, replacement: $0.replacement)
        }
        self.queryMapping = config.rewrite?.query.flatMap { $0.isEmpty ? nil : $0 }
    }

    var requiresAuthentication: Bool { policy.require != .none || !policy.scopes.isEmpty }

    /// The upstream path (with query) for a normalised request path, before the endpoint's base path.
    func upstreamPath(path: String, query: Substring?, parameters: [String: String]) -> String {
        var result: String
        if let template {
            result = template.render(parameters)
        } else if let regexRewrite {
            result = regexRewrite.apply(path)
            if !result.hasPrefix("/") { result = "/" + result }
        } else {
            result = path
            if let stripPrefix, result.hasPrefix(stripPrefix) {
                result = String(result.dropFirst(stripPrefix.count))
                if !result.hasPrefix("/") { result = "/" + result }
            }
        }
        if let addPrefix { result = addPrefix + (result == "/" ? "" : result) }
        if let queryMapping {
            if let mapped = queryMapping.apply(to: query, parameters: parameters) { result += "?" + mapped }
        } else if let query {
            result += "?" + query
        }
        return result
    }
}
