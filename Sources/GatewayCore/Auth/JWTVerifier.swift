// JWT verification on jwt-kit, with the checks a gateway must add around it: the header's `alg`
// must be one Portico accepts and must equal the selected key's algorithm (so `alg: none` and
// algorithm confusion are refused before any signature is checked), then `exp`, `nbf`, `iss` and
// `aud` are checked with the configured leeway.
public import Foundation
import JWTKit

/// Verifies bearer tokens against the configured keys.
public struct JWTVerifier: Sendable {
    struct Key: Sendable {
        var kid: String?
        var algorithm: String
        var collection: JWTKeyCollection
    }

    let keys: [Key]
    let jwks: JWTKeyCollection?
    let jwksAlgorithms: [String: String]  // kid -> alg
    /// Keys fetched from `jwksUrl`, refreshed while the gateway runs.
    let remote: RemoteJWKS?
    let config: JWTConfig

    /// Loads keys from the config; `readFile` resolves paths written in the config file.
    /// `fetch` is required when the config names a `jwksUrl`.
    public init(config: JWTConfig, readFile: (String) throws -> String, fetch: JWKSFetcher? = nil) async throws {
        self.config = config
        var keys: [Key] = []
        for (index, key) in config.keys.enumerated() {
            let collection = JWTKeyCollection()
            switch key.algorithm {
            case .HS256:
                guard let secret = key.secret?.value else {
                    throw JWTSetupError("auth.jwt.keys[\(index)]: HS256 needs 'secret'")
                }
                guard secret.utf8.count >= 32 else {
                    throw JWTSetupError("auth.jwt.keys[\(index)].secret: HS256 secrets must be at least 32 bytes")
                }
                await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            case .RS256:
                let pem = try Self.pem(key, index: index, readFile: readFile)
                await collection.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha256)
            case .ES256:
                let pem = try Self.pem(key, index: index, readFile: readFile)
                await collection.add(ecdsa: try ES256PublicKey(pem: pem))
            }
            keys.append(Key(kid: key.kid, algorithm: key.algorithm.rawValue, collection: collection))
        }
        self.keys = keys
        if let file = config.jwksFile {
            let keys = try await RemoteJWKS.parse(Array(try readFile(file).utf8))
            self.jwks = keys.collection
            self.jwksAlgorithms = keys.algorithms
        } else {
            self.jwks = nil
            self.jwksAlgorithms = [:]
        }
        if let url = config.jwksUrl {
            guard let fetch else { throw JWTSetupError("auth.jwt.jwksUrl: this process cannot fetch URLs") }
            let remote = RemoteJWKS(
                url: url, refreshInterval: config.jwksRefreshInterval.duration,
                minRefreshInterval: config.jwksMinRefreshInterval.duration, fetch: fetch)
            // A first fetch at start-up; when it fails the gateway still starts and tries again on
            // the first token that needs the set.
            await remote.refreshNow()
            self.remote = remote
        } else {
            self.remote = nil
        }
    }

    private static func pem(_ key: JWTKeyConfig, index: Int, readFile: (String) throws -> String) throws -> String {
        if let pem = key.publicKey { return pem }
        if let file = key.publicKeyFile { return try readFile(file) }
        throw JWTSetupError("auth.jwt.keys[\(index)]: \(key.algorithm.rawValue) needs 'publicKey' or 'publicKeyFile'")
    }

    /// Verifies `token` and returns the identity it carries.
    public func verify(_ token: String, now: Date = Date()) async throws(GatewayError) -> Identity {
        let header = try Self.decodeHeader(token)
        guard let alg = header.alg else { throw Self.invalid("token header has no 'alg'") }
        guard JWTAlgorithmName(rawValue: alg) != nil else {
            throw Self.invalid("algorithm '\(alg)' is not accepted")
        }
        let collection: JWTKeyCollection
        if let kid = header.kid, let key = keys.first(where: { $0.kid == kid }) {
            guard key.algorithm == alg else { throw Self.invalid("algorithm '\(alg)' does not match key '\(kid)'") }
            collection = key.collection
        } else if let kid = header.kid, let jwksAlg = jwksAlgorithms[kid], let jwks {
            guard jwksAlg == alg else { throw Self.invalid("algorithm '\(alg)' does not match key '\(kid)'") }
            collection = jwks
        } else if let kid = header.kid, let remote {
            let found = try await remote.keys(for: kid)
            guard found.algorithm == alg else {
                throw Self.invalid("algorithm '\(alg)' does not match key '\(kid)'")
            }
            collection = found.collection
        } else if header.kid == nil,
            let key = keys.first(where: { $0.algorithm == alg && ($0.kid == nil || keys.count == 1) })
        {
            collection = key.collection
        } else {
            throw Self.invalid(header.kid.map { "unknown key id '\($0)'" } ?? "no key for algorithm '\(alg)'")
        }
        let claims: PorticoClaims
        do {
            claims = try await collection.verify(token, as: PorticoClaims.self)
        } catch {
            throw Self.invalid("signature or payload is invalid")
        }
        let leeway = config.leeway.duration.timeInterval
        guard let exp = claims.exp else { throw Self.invalid("token has no 'exp'") }
        guard exp.value.addingTimeInterval(leeway) > now else { throw Self.invalid("token has expired") }
        if let nbf = claims.nbf, nbf.value.addingTimeInterval(-leeway) > now {
            throw Self.invalid("token is not valid yet")
        }
        if let issuer = config.issuer, claims.iss?.value != issuer {
            throw Self.invalid("wrong issuer")
        }
        if !config.audiences.isEmpty {
            guard let aud = claims.aud, !Set(aud.value).isDisjoint(with: config.audiences) else {
                throw Self.invalid("wrong audience")
            }
        }
        guard let subject = claims.sub?.value, !subject.isEmpty else { throw Self.invalid("token has no 'sub'") }
        return Identity(subject: subject, scopes: claims.scopes, method: .jwt)
    }

    static func invalid(_ reason: String) -> GatewayError {
        GatewayError(.unauthenticated, "invalid token: \(reason)")
    }

    struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    static func decodeHeader(_ token: String) throws(GatewayError) -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw invalid("not a JWS compact token") }
        var base64 = parts[0].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let header = try? JSONDecoder().decode(Header.self, from: data)
        else { throw invalid("token header is not valid JSON") }
        return header
    }
}

public struct JWTSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The claims Portico reads. `scope` may be a space-separated string or a list (`scp` is also read).
struct PorticoClaims: JWTPayload {
    var sub: SubjectClaim?
    var iss: IssuerClaim?
    var aud: AudienceClaim?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var scopes: Set<String>

    enum CodingKeys: String, CodingKey { case sub, iss, aud, exp, nbf, scope, scp }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sub = try c.decodeIfPresent(SubjectClaim.self, forKey: .sub)
        iss = try c.decodeIfPresent(IssuerClaim.self, forKey: .iss)
        aud = try c.decodeIfPresent(AudienceClaim.self, forKey: .aud)
        exp = try c.decodeIfPresent(ExpirationClaim.self, forKey: .exp)
        nbf = try c.decodeIfPresent(NotBeforeClaim.self, forKey: .nbf)
        var scopes = Set<String>()
        for key in [CodingKeys.scope, .scp] {
            if let text = try? c.decodeIfPresent(String.self, forKey: key) {
                scopes.formUnion(text.split(separator: " ").map(String.init))
            } else if let list = try? c.decodeIfPresent([String].self, forKey: key) {
                scopes.formUnion(list)
            }
        }
        self.scopes = scopes
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(sub, forKey: .sub)
        try c.encodeIfPresent(iss, forKey: .iss)
        try c.encodeIfPresent(aud, forKey: .aud)
        try c.encodeIfPresent(exp, forKey: .exp)
        try c.encodeIfPresent(nbf, forKey: .nbf)
        if !scopes.isEmpty { try c.encode(scopes.sorted().joined(separator: " "), forKey: .scope) }
    }

    // Claims are checked by `JWTVerifier` with the configured leeway.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
