// Authentication and authorization, once for every protocol: credentials in, an identity (or a
// protocol-neutral error) out. Adapters extract `Credentials` and map `GatewayError` to their wire.
public import Foundation

/// Verifies credentials and applies route policies.
public struct Authenticator: Sendable {
    let jwt: JWTVerifier?
    let apiKeys: [(key: [UInt8], config: APIKeyConfig)]
    let basic: BasicVerifier?
    public let config: AuthConfig

    /// `fetch` fetches `auth.jwt.jwksUrl` (the gateway runner passes an HTTP client's).
    public init(
        config: AuthConfig, readFile: (String) throws -> String, fetch: JWKSFetcher? = nil
    ) async throws {
        self.config = config
        if let jwt = config.jwt {
            self.jwt = try await JWTVerifier(config: jwt, readFile: readFile, fetch: fetch)
        } else {
            self.jwt = nil
        }
        self.basic = try config.basic.map { try BasicVerifier(config: $0) }
        self.apiKeys = config.apiKeys.map { (Array($0.key.value.utf8), $0) }
    }

    /// Verifies the credentials present, if any. A present but invalid credential is an error even on
    /// a public route, so that a client learns its token is bad.
    public func authenticate(_ credentials: Credentials, now: Date = Date()) async throws(GatewayError) -> Identity? {
        if let token = credentials.bearerToken {
            guard let jwt else { throw GatewayError(.unauthenticated, "bearer tokens are not accepted here") }
            return try await jwt.verify(token, now: now)
        }
        if credentials.malformedBasic {
            throw GatewayError(.unauthenticated, "the Basic credentials are not base64 of user:password")
        }
        if let pair = credentials.basic {
            guard let basic else { throw GatewayError(.unauthenticated, "Basic credentials are not accepted here") }
            return try basic.verify(user: pair.user, password: pair.password)
        }
        if let key = credentials.apiKey {
            let presented = Array(key.utf8)
            // Compare every key in constant time so timing reveals nothing about which key was close.
            var match: APIKeyConfig?
            for candidate in apiKeys where Self.constantTimeEquals(candidate.key, presented) {
                match = candidate.config
            }
            guard let match else { throw GatewayError(.unauthenticated, "invalid API key") }
            return Identity(subject: match.name, scopes: Set(match.scopes), method: .apiKey)
        }
        return nil
    }

    /// Authenticates and then checks `policy`: 401 when credentials are missing or wrong, 403 when the
    /// identity lacks a required scope or used a method the policy does not accept.
    public func authorize(
        _ credentials: Credentials, policy: AuthPolicyConfig, now: Date = Date()
    ) async throws(GatewayError) -> Identity? {
        let identity = try await authenticate(credentials, now: now)
        return try Self.check(identity, against: policy)
    }

    /// The policy decision alone, for an identity already verified.
    public static func check(_ identity: Identity?, against policy: AuthPolicyConfig) throws(GatewayError) -> Identity?
    {
        if policy.require == .none && policy.scopes.isEmpty { return identity }
        guard let identity else {
            let what: String
            switch policy.require {
            case .jwt: what = "a bearer token"
            case .apiKey: what = "an API key"
            case .basic: what = "HTTP Basic credentials"
            case .any, .none: what = "credentials (a bearer token, an API key or HTTP Basic)"
            }
            throw GatewayError(.unauthenticated, "authentication required: send \(what)")
        }
        switch (policy.require, identity.method) {
        case (.jwt, .apiKey): throw GatewayError(.permissionDenied, "this route requires a bearer token")
        case (.apiKey, .jwt), (.apiKey, .basic):
            throw GatewayError(.permissionDenied, "this route requires an API key")
        case (.jwt, .basic): throw GatewayError(.permissionDenied, "this route requires a bearer token")
        case (.basic, .jwt), (.basic, .apiKey):
            throw GatewayError(.permissionDenied, "this route requires HTTP Basic credentials")
        default: break
        }
        let missing = policy.scopes.filter { !identity.scopes.contains($0) }
        if !missing.isEmpty {
            throw GatewayError(
                .permissionDenied, "missing scope: \(missing.joined(separator: " "))",
                details: ["requiredScopes": policy.scopes.joined(separator: " ")])
        }
        return identity
    }

    /// The challenges a 401 answer carries (`WWW-Authenticate`), for the methods configured.
    public var challenges: [String] {
        var list: [String] = []
        if config.jwt != nil { list.append("Bearer realm=\"portico\"") }
        if let basic = config.basic { list.append("Basic realm=\"\(basic.realm)\", charset=\"UTF-8\"") }
        return list
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
