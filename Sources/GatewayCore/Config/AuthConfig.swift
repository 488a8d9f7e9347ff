// The `auth` section: how callers are identified (JWT, API keys) and how a verified identity is
// forwarded to microservices.

/// Keys: `jwt` (``JWTConfig``, optional), `basic` (``BasicAuthConfig``, optional), `apiKeys` (list of ``APIKeyConfig``), `apiKeyHeader`
/// (default `X-API-Key`), `identityHeaders` (``IdentityHeadersConfig``).
public struct AuthConfig: Codable, Sendable {
    public var jwt: JWTConfig?
    /// HTTP Basic users.
    public var basic: BasicAuthConfig?
    public var apiKeys: [APIKeyConfig]
    public var apiKeyHeader: String
    public var identityHeaders: IdentityHeadersConfig

    public init(jwt: JWTConfig? = nil, apiKeys: [APIKeyConfig] = []) {
        self.jwt = jwt
        self.basic = nil
        self.apiKeys = apiKeys
        self.apiKeyHeader = "X-API-Key"
        self.identityHeaders = .init()
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jwt = try c.decodeIfPresent(JWTConfig.self, forKey: .jwt)
        basic = try c.decodeIfPresent(BasicAuthConfig.self, forKey: .basic)
        apiKeys = try c.value(.apiKeys, or: [])
        apiKeyHeader = try c.value(.apiKeyHeader, or: "X-API-Key")
        identityHeaders = try c.value(.identityHeaders, or: .init())
    }
}

/// JWT verification.
///
/// Keys: `issuer` (required `iss`, optional), `audiences` (accepted `aud` values; empty accepts any),
/// `leeway` (clock skew allowed on `exp`/`nbf`, default 30s), `keys` (list of ``JWTKeyConfig``),
/// `jwksFile` (path of a JWKS JSON file), `jwksUrl` (an http(s) URL of a JWKS, fetched at start and
/// refreshed: in the background once older than `jwksRefreshInterval`, default 5m, and when a token
/// names an unknown key id, at most once per `jwksMinRefreshInterval`, default 30s). Scopes are read
/// from the `scope` claim (space-separated) or `scp` (list).
public struct JWTConfig: Codable, Sendable {
    public var issuer: String?
    public var audiences: [String]
    public var leeway: ConfigDuration
    public var keys: [JWTKeyConfig]
    public var jwksFile: String?
    public var jwksUrl: String?
    public var jwksRefreshInterval: ConfigDuration
    public var jwksMinRefreshInterval: ConfigDuration

    public init(issuer: String? = nil, audiences: [String] = [], keys: [JWTKeyConfig] = [], jwksFile: String? = nil) {
        self.issuer = issuer
        self.audiences = audiences
        self.leeway = .seconds(30)
        self.keys = keys
        self.jwksFile = jwksFile
        self.jwksUrl = nil
        self.jwksRefreshInterval = .init(.seconds(300))
        self.jwksMinRefreshInterval = .seconds(30)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        issuer = try c.decodeIfPresent(String.self, forKey: .issuer)
        audiences = try c.value(.audiences, or: [])
        leeway = try c.value(.leeway, or: .seconds(30))
        keys = try c.value(.keys, or: [])
        jwksFile = try c.decodeIfPresent(String.self, forKey: .jwksFile)
        jwksUrl = try c.decodeIfPresent(String.self, forKey: .jwksUrl)
        jwksRefreshInterval = try c.value(.jwksRefreshInterval, or: .init(.seconds(300)))
        jwksMinRefreshInterval = try c.value(.jwksMinRefreshInterval, or: .seconds(30))
    }
}

/// One verification key.
///
/// Keys: `kid` (key id matched against the token header; optional for a single key), `algorithm`
/// (`HS256`, `RS256`, `ES256`), `secret` (HS256, at least 32 bytes), `publicKey` (PEM text, RS256 and
/// ES256), `publicKeyFile` (path of a PEM file).
public struct JWTKeyConfig: Codable, Sendable {
    public var kid: String?
    public var algorithm: JWTAlgorithmName
    public var secret: Secret?
    public var publicKey: String?
    public var publicKeyFile: String?

    public init(kid: String? = nil, algorithm: JWTAlgorithmName, secret: Secret? = nil, publicKey: String? = nil) {
        self.kid = kid
        self.algorithm = algorithm
        self.secret = secret
        self.publicKey = publicKey
        self.publicKeyFile = nil
    }
}

/// The signature algorithms Portico accepts. `none` is deliberately absent.
public enum JWTAlgorithmName: String, Codable, Sendable, CaseIterable {
    case HS256, RS256, ES256
}

/// One API key.
///
/// Keys: `name` (shown in logs and as the caller identity), `key` (the secret value), `scopes`.
public struct APIKeyConfig: Codable, Sendable {
    public var name: String
    public var key: Secret
    public var scopes: [String]

    public init(name: String, key: String, scopes: [String] = []) {
        self.name = name
        self.key = Secret(key)
        self.scopes = scopes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        key = try c.decode(Secret.self, forKey: .key)
        scopes = try c.value(.scopes, or: [])
    }
}

/// Names of the headers that carry the verified identity to microservices. Clients can never set
/// them: gateways remove them from every incoming request.
///
/// Keys: `subject` (default `X-Portico-Subject`), `scopes` (default `X-Portico-Scopes`), `method`
/// (default `X-Portico-Auth-Method`).
public struct IdentityHeadersConfig: Codable, Sendable {
    public var subject: String
    public var scopes: String
    public var method: String

    public init() {
        subject = "X-Portico-Subject"
        scopes = "X-Portico-Scopes"
        method = "X-Portico-Auth-Method"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = IdentityHeadersConfig()
        subject = try c.value(.subject, or: defaults.subject)
        scopes = try c.value(.scopes, or: defaults.scopes)
        method = try c.value(.method, or: defaults.method)
    }

    public var all: [String] { [subject, scopes, method] }
}

/// A route's access policy.
///
/// Keys: `require` (`none`: public; `any`: JWT, API key or Basic; `jwt`; `apiKey`; `basic`; default `none`),
/// `scopes` (all required; implies authentication).
public struct AuthPolicyConfig: Codable, Sendable, Equatable {
    public enum Requirement: String, Codable, Sendable { case none, any, jwt, apiKey, basic }
    public var require: Requirement
    public var scopes: [String]

    public init(require: Requirement = .none, scopes: [String] = []) {
        self.require = require
        self.scopes = scopes
    }

    public static let `public` = AuthPolicyConfig()

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        scopes = try c.value(.scopes, or: [])
        require = try c.value(.require, or: scopes.isEmpty ? .none : .any)
    }
}
