// `gateways.rest.openapi`: REST routes generated from OpenAPI 3 documents, one per operation, with
// requests validated against the document. The REST gateway reads the documents (OpenAPIKit); this
// is only what the file says.

/// One OpenAPI source. Keys: `spec` (path of the document, YAML or JSON, relative to the config file),
/// `service` (where its operations go), `pathPrefix` (put in front of every document path on the
/// client side and stripped again upstream, e.g. `/api`; default none), `validate` (check path and
/// query parameters, headers and the JSON body against the document, default true), `auth` (the
/// policy of operations whose `security` asks for authentication; operations without security are
/// public; default `{ require: any }`; when it names no scopes, the scopes the operation's first
/// security requirement lists are required), `namePrefix` (put in front of each operation's name to make
/// the route name, default none), `timeout` (as a route's).
public struct OpenAPIRoutesConfig: Codable, Sendable {
    public var spec: String
    public var service: String
    public var pathPrefix: String
    public var validate: Bool
    /// Nil: `{ require: any }`.
    public var auth: AuthPolicyConfig?
    public var namePrefix: String
    public var timeout: ConfigDuration?

    public init(spec: String, service: String, pathPrefix: String = "") {
        self.spec = spec
        self.service = service
        self.pathPrefix = pathPrefix
        self.validate = true
        self.auth = nil
        self.namePrefix = ""
        self.timeout = nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        spec = try c.decode(String.self, forKey: .spec)
        service = try c.decode(String.self, forKey: .service)
        pathPrefix = try c.value(.pathPrefix, or: "")
        validate = try c.value(.validate, or: true)
        auth = try c.decodeIfPresent(AuthPolicyConfig.self, forKey: .auth)
        namePrefix = try c.value(.namePrefix, or: "")
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout)
    }

    /// The route a document operation becomes (the gateway fills in the validator).
    public func route(name: String, method: String, path: String, secured: Bool, scopes: [String] = [])
        -> HTTPRouteConfig
    {
        var policy = auth ?? AuthPolicyConfig(require: .any)
        if policy.scopes.isEmpty { policy.scopes = scopes }
        var prefix = pathPrefix
        while prefix.hasSuffix("/") { prefix.removeLast() }
        return HTTPRouteConfig(
            name: namePrefix + name, match: RouteMatchConfig(path: prefix + path, methods: [method]),
            service: service,
            rewrite: prefix.isEmpty ? nil : PathRewriteConfig(stripPrefix: prefix),
            auth: secured ? policy : .public, timeout: timeout)
    }
}
