// Authentication and authorization, once for every protocol: credentials in, an identity (or a
// protocol-neutral error) out. Adapters extract `Credentials` and map `GatewayError` to their wire.
public import Foundation

/// Verifies credentials and applies route policies.
public struct Authenticator: Sendable {
    let jwt: JWTVerifier?
    let apiKeys: [(key: [UInt8], config: APIKeyConfig)]
    public let config: AuthConfig

    public init(config: AuthConfig, readFile: (String) throws -> String) async throws {
        self.config = config
        if let jwt = config.jwt {
            self.jwt = try await JWTVerifier(config: jwt, readFile: readFile)
        } else {
            self.jwt = nil
        }
        self.apiKeys = config.apiKeys.map { (Array($0.key.value.utf8), $0) }
    }

    /// Verifies the credentials present, if any. A present but invalid credential is an error even on
    /// a public route, so that a client learns its token is bad.
    public func authenticate(_ credentials: Credentials, now: Date = Date()) async throws(GatewayError) -> Identity? {
        if let token = credentials.bearerToken {
            guard let jwt else { throw GatewayError(.unauthenticated, "bearer tokens are not accepted here") }
            return try await jwt.verify(token, now: now)
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
            case .any, .none: what = "a bearer token or an API key"
            }
            throw GatewayError(.unauthenticated, "authentication required: send \(what)")
        }
        switch (policy.require, identity.method) {
        case (.jwt, .apiKey): throw GatewayError(.permissionDenied, "this route requires a bearer token")
        case (.apiKey, .jwt): throw GatewayError(.permissionDenied, "this route requires an API key")
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

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
