// The `aggregate` key of a REST route: one request fans out to several services and their JSON
// answers are merged into one response.

/// `aggregate`: keys `backends` (list of ``AggregateBackendConfig``, at least one), `merge` (`keyed`:
/// each backend's body under its `key`, the default; `merged`: the top-level objects merged, later
/// backends winning on a conflict), `requireAll` (default false: a failed backend leaves its part out
/// and the answer is 207 with `X-Portico-Missing`; true: any failure fails the request with 502/504).
public struct AggregateConfig: Codable, Sendable {
    public enum Merge: String, Codable, Sendable { case keyed, merged }
    public var backends: [AggregateBackendConfig]
    public var merge: Merge
    public var requireAll: Bool

    public init(backends: [AggregateBackendConfig], merge: Merge = .keyed, requireAll: Bool = false) {
        self.backends = backends
        self.merge = merge
        self.requireAll = requireAll
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        backends = try c.decode([AggregateBackendConfig].self, forKey: .backends)
        merge = try c.value(.merge, or: .keyed)
        requireAll = try c.value(.requireAll, or: false)
    }
}

/// One backend of an aggregate route. Keys: `service`, `path` (path and optional query, `{param}`
/// filled from the route's parameters, percent-encoded), `method` (default GET), `key` (where the
/// body goes in `keyed` mode; also the name reported when the part is missing; defaults to the
/// service name), `timeout` (this backend's; default the route's timeout or the service's),
/// `required` (this part must arrive, default false), `forwardQuery` (append the client's query
/// string, default false).
public struct AggregateBackendConfig: Codable, Sendable {
    public var service: String
    public var path: String
    public var method: String
    public var key: String?
    public var timeout: ConfigDuration?
    public var required: Bool
    public var forwardQuery: Bool

    public init(service: String, path: String, key: String? = nil, required: Bool = false) {
        self.service = service
        self.path = path
        self.method = "GET"
        self.key = key
        self.timeout = nil
        self.required = required
        self.forwardQuery = false
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(String.self, forKey: .service)
        path = try c.decode(String.self, forKey: .path)
        method = try c.value(.method, or: "GET").uppercased()
        key = try c.decodeIfPresent(String.self, forKey: .key)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout)
        required = try c.value(.required, or: false)
        forwardQuery = try c.value(.forwardQuery, or: false)
    }

    /// The name of this part in the merged body and in `X-Portico-Missing`.
    public var partName: String { key ?? service }
}

extension AggregateConfig {
    /// What is wrong with this aggregate (beyond undeclared services, which the validator reports).
    func problems(route: HTTPRouteConfig, at path: [ConfigProblem.Key]) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if backends.isEmpty { problems.append(.init(path + ["backends"], "needs at least one backend")) }
        var names = Set<String>()
        for (index, backend) in backends.enumerated() {
            let at = path + ["backends", .index(index)]
            if !backend.path.hasPrefix("/") { problems.append(.init(at + ["path"], "must start with '/'")) }
            if !RoutePolicyValidator.isToken(backend.method) {
                problems.append(.init(at + ["method"], "'\(backend.method)' is not an HTTP method"))
            }
            if !names.insert(backend.partName).inserted {
                problems.append(
                    .init(at + ["key"], "part '\(backend.partName)' is used twice (give each backend its own key)"))
            }
            if let timeout = backend.timeout, timeout.duration <= .zero {
                problems.append(.init(at + ["timeout"], "must be longer than 0s"))
            }
        }
        for (key, present) in [
            ("canary", route.canary != nil), ("mirror", route.mirror != nil), ("rewrite", route.rewrite != nil),
        ] where present {
            problems.append(.init(path, "cannot be combined with '\(key)' on the same route"))
        }
        return problems
    }
}
