// Signs demo and test tokens (HS256) with the configured secret: `gatewayctl token` and the tests use it.
public import Foundation
import JWTKit

public enum TokenMinter {
    /// An HS256 token for `subject` with `scopes`, valid for `lifetime`.
    public static func hs256(
        secret: String, subject: String, scopes: [String] = [], issuer: String? = nil, audience: String? = nil,
        lifetime: TimeInterval = 3600, notBefore: Date? = nil, kid: String? = nil, now: Date = Date()
    ) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(
            hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: kid.map { JWKIdentifier(string: $0) })
        var claims = PorticoClaims(scopes: Set(scopes))
        claims.sub = SubjectClaim(value: subject)
        claims.iss = issuer.map { IssuerClaim(value: $0) }
        claims.aud = audience.map { AudienceClaim(value: [$0]) }
        claims.exp = ExpirationClaim(value: now.addingTimeInterval(lifetime))
        claims.nbf = notBefore.map { NotBeforeClaim(value: $0) }
        return try await keys.sign(claims, kid: kid.map { JWKIdentifier(string: $0) })
    }

    /// The first HS256 secret of the config, for `gatewayctl token`.
    public static func demoSecret(in config: AuthConfig) -> (secret: String, kid: String?)? {
        guard let key = config.jwt?.keys.first(where: { $0.algorithm == .HS256 }), let secret = key.secret else {
            return nil
        }
        return (secret.value, key.kid)
    }
}

extension PorticoClaims {
    init(scopes: Set<String>) {
        self.scopes = scopes
    }
}
