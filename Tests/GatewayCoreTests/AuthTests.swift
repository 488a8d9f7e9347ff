// Authentication: JWT verification (HS256, RS256, ES256 and the attacks a gateway must refuse), API keys, policies.
import Foundation
import JWTKit
import Testing

@testable import GatewayCore

enum TestKeys {
    static let rsaPrivate = """
        -----BEGIN PRIVATE KEY-----
        MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCKVi8gcq170ZEd
        ADK1rh1e6IXBDyy/uWWufHWtc+9unatSwa5w+ghA9ZueguRGLkv0HPXChfUvbdDh
        thMdvikqIy3T58u+L7N2BIjSJ/honLuCU2LxqkNK9R9ijM6G86XsqO5kNpHu5pLR
        M14q/WP1jfh4lUMkBd3vW5nQvsmxAdDooDYDGg1lky/3/aWfNY1NU+XhNIBcUVn8
        RFpEE4mfSE7aCJAM1JI9VGrNGM4Q7QVrxSVIoffl/Hpaje6wr0cWNqt0nCSzF6Hd
        Vqe4mFRjnSC5LVCSTtsL4j6Z/F6R4HDrURtVWbcz7bl8wJRCTSVVmczCM5lgAhIC
        T7cl27dPAgMBAAECggEAJfvyJru2TPhHGypxwhcT83pvN4p+JAq5E8cS3NSnmrzq
        TOfniRfuaj/GQij4mxidPGMzS/1STHqfz0oaR6FuViagr73G4OriIPavxty4xai7
        h9ZzpZ21qoBR5NJ65u1B0xCznIqrWWiwSYcMRUucRdF8t0dszxhZTx7cxkeMw/Av
        UNWZ1595xMkqdVUvYcwzspuxqhfBhitW9BDiNonVCFkrMXZVvm/ZGptiPTw1dKi2
        VyJmX7SJyp0x+hy2CtpJvL7CaN+m4uonZcfnCJqgyjQR9AgEoy4yciBFJgGa5juL
        DRBtkjEeWixydiNe/+WM4Z/LFIKP7/8pS8P8X73NIQKBgQDCgCks/Dmh6bkvnoiN
        cv2O73OMMFB6XfK3f8oIsUXCbG8KCvPZ4hQ0AOdVpjWzQLyHcJyMEM66PLi91DsM
        cs3S6MM6gbeiMTKj5WOLlpTRLPozDc7+1xRkYR/1UyHrPNlB2+sBx9v9v48ssgMR
        4AXEPyJwltJ/f5CTKq+GHFF0nwKBgQC2E9WsIHNmLHhvTnc0NnetWfHCYmnE5U4a
        Jqr323EoWLrqqbOD86xqUmJmpRTF0FCoUgNY3yBPq1sk8MET1yJx31eZL4YQzcMZ
        0wdJBgHXrTat4LeM8BheZH/5YO7zp4/hDKV35/WzQxQYadzGx4+1UYYS+LJP22uL
        dkH/gW+PUQKBgQCriGfH+rHBL+VYL9JyHQWtt1QKQNnY8V4LozHEtMK3EvZivwIM
        GCyFKH7ctHcLnX4nXJNTm8cVzFOJZtCky+LlrM3wnVIcQpNMpBNEmgqo56fIutbh
        PUIIvPd4Xla9pa5dPNxnd6F2iih03JGEhDPRvXRcI0eFljUk9TJTbkoQNQKBgCmU
        Qfk6t9+fTClu673aql3F6nWPb8Ps8Xb7WZOcYyzphlXMRxhc7wSgp6P1EtdRiPnH
        MMh8u6413WyEJjNXr5/9ds2ekqkHtAQTstg0LPuJrLDsXj4rHgWAQdE7F5ZAr5Sf
        BLJrICq9qLsiga5LKEApy8pNTLr7yoVgjhXBAy7hAoGBAKwRT6rps27mcA44OvW7
        JuM3rFhZfRunFIGSEbxRSN37e/+YK/8/bIiAe2Hym1gMVUJkW0P+OcZKK246+7Rh
        VzqzoivTW0szh98zUiLrWk++6DCgwzjaQsB8y/+3MJ26gOD2IDukk4aDIUbE92NT
        0y9+oDGi115cJEpGRXiCu+Uc
        -----END PRIVATE KEY-----
        """
    static let rsaPublic = """
        -----BEGIN PUBLIC KEY-----
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAilYvIHKte9GRHQAyta4d
        XuiFwQ8sv7llrnx1rXPvbp2rUsGucPoIQPWbnoLkRi5L9Bz1woX1L23Q4bYTHb4p
        KiMt0+fLvi+zdgSI0if4aJy7glNi8apDSvUfYozOhvOl7KjuZDaR7uaS0TNeKv1j
        9Y34eJVDJAXd71uZ0L7JsQHQ6KA2AxoNZZMv9/2lnzWNTVPl4TSAXFFZ/ERaRBOJ
        n0hO2giQDNSSPVRqzRjOEO0Fa8UlSKH35fx6Wo3usK9HFjardJwksxeh3VanuJhU
        Y50guS1Qkk7bC+I+mfxekeBw61EbVVm3M+25fMCUQk0lVZnMwjOZYAISAk+3Jdu3
        TwIDAQAB
        -----END PUBLIC KEY-----
        """
}

struct TestClaims: JWTPayload {
    var sub: SubjectClaim?
    var iss: IssuerClaim?
    var aud: AudienceClaim?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var scope: String?
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    static func valid(_ now: Date = Date()) -> TestClaims {
        TestClaims(
            sub: "alice", iss: "portico-demo", aud: .init(value: ["portico"]),
            exp: .init(value: now.addingTimeInterval(600)),
            nbf: nil, scope: "orders:write users:read")
    }
}

@Suite("Authentication")
struct AuthTests {
    static let secret = "portico-demo-secret-change-me-0123456789"

    static func jwtConfig(keys: [JWTKeyConfig]) -> JWTConfig {
        JWTConfig(issuer: "portico-demo", audiences: ["portico"], keys: keys)
    }

    static func authenticator(_ keys: [JWTKeyConfig] = [.init(kid: "demo", algorithm: .HS256, secret: Secret(secret))])
        async throws -> Authenticator
    {
        try await Authenticator(
            config: AuthConfig(
                jwt: jwtConfig(keys: keys),
                apiKeys: [APIKeyConfig(name: "svc", key: "k-123", scopes: ["connections:manage"])])
        ) { _ in "" }
    }

    static func sign(_ claims: TestClaims, secret: String = secret, kid: String? = "demo") async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(
            hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: kid.map { JWKIdentifier(string: $0) })
        return try await keys.sign(claims, kid: kid.map { JWKIdentifier(string: $0) })
    }

    func verifyError(_ token: String, _ auth: Authenticator) async -> GatewayError? {
        do {
            _ = try await auth.authenticate(Credentials(bearerToken: token))
            return nil
        } catch {
            return error
        }
    }

    @Test func claimsCannotAddHeaderLinesUpstream() {
        let identity = Identity(subject: "alice\r\nX-Admin: true", scopes: ["a\nb", "c"], method: .jwt)
        let headers = identity.forwardedHeaders(IdentityHeadersConfig())
        #expect(headers.allSatisfy { !$0.1.utf8.contains(where: { $0 == 13 || $0 == 10 }) })
        #expect(headers[0].1 == "aliceX-Admin: true")
        #expect(
            Identity(subject: "bob", scopes: [], method: .jwt).forwardedHeaders(IdentityHeadersConfig())[0].1 == "bob")
    }

    @Test func validHS256TokenYieldsIdentity() async throws {
        let auth = try await Self.authenticator()
        let identity = try await auth.authenticate(Credentials(bearerToken: try await Self.sign(.valid())))
        #expect(identity == Identity(subject: "alice", scopes: ["orders:write", "users:read"], method: .jwt))
    }

    @Test func mintedDemoTokenVerifies() async throws {
        let auth = try await Self.authenticator()
        let token = try await TokenMinter.hs256(
            secret: Self.secret, subject: "bob", scopes: ["users:write"], issuer: "portico-demo", audience: "portico",
            kid: "demo")
        let identity = try await auth.authenticate(Credentials(bearerToken: token))
        #expect(identity?.subject == "bob")
        #expect(identity?.scopes == ["users:write"])
    }

    @Test func expiredToken() async throws {
        var claims = TestClaims.valid()
        claims.exp = .init(value: Date().addingTimeInterval(-120))
        let error = await verifyError(try await Self.sign(claims), try await Self.authenticator())
        #expect(error?.code == .unauthenticated)
        #expect(error?.message.contains("expired") == true)
    }

    @Test func notYetValidToken() async throws {
        var claims = TestClaims.valid()
        claims.nbf = .init(value: Date().addingTimeInterval(3600))
        let error = await verifyError(try await Self.sign(claims), try await Self.authenticator())
        #expect(error?.message.contains("not valid yet") == true)
    }

    @Test func wrongIssuer() async throws {
        var claims = TestClaims.valid()
        claims.iss = "someone-else"
        #expect(
            await verifyError(try await Self.sign(claims), try await Self.authenticator())?.message.contains("issuer")
                == true)
    }

    @Test func wrongAudience() async throws {
        var claims = TestClaims.valid()
        claims.aud = .init(value: ["other"])
        #expect(
            await verifyError(try await Self.sign(claims), try await Self.authenticator())?.message.contains("audience")
                == true)
    }

    @Test func badSignature() async throws {
        let token = try await Self.sign(.valid(), secret: "another-secret-that-is-long-enough-000")
        #expect(await verifyError(token, try await Self.authenticator())?.message.contains("signature") == true)
        // A tampered payload fails too.
        let parts = try await Self.sign(.valid()).split(separator: ".")
        let forged = parts[0] + "." + parts[1].dropLast(2) + "xx." + parts[2]
        #expect(await verifyError(String(forged), try await Self.authenticator()) != nil)
    }

    @Test func algNoneIsRefused() async throws {
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URL
        let payload = Data(#"{"sub":"mallory","exp":9999999999,"iss":"portico-demo","aud":"portico"}"#.utf8).base64URL
        let error = await verifyError("\(header).\(payload).", try await Self.authenticator())
        #expect(error?.code == .unauthenticated)
        #expect(error?.message.contains("'none' is not accepted") == true)
    }

    @Test func algorithmConfusionIsRefused() async throws {
        // The classic attack: sign HS256 with the RSA public key as the HMAC secret.
        let auth = try await Self.authenticator([.init(kid: "rsa", algorithm: .RS256, publicKey: TestKeys.rsaPublic)])
        let forged = try await Self.sign(.valid(), secret: TestKeys.rsaPublic, kid: "rsa")
        let error = await verifyError(forged, auth)
        #expect(error?.message.contains("does not match key") == true)
    }

    @Test func rs256AndES256() async throws {
        let es = ES256PrivateKey()
        let auth = try await Self.authenticator([
            .init(kid: "rsa", algorithm: .RS256, publicKey: TestKeys.rsaPublic),
            .init(kid: "ec", algorithm: .ES256, publicKey: es.publicKey.pemRepresentation),
        ])
        let signer = JWTKeyCollection()
        await signer.add(
            rsa: try Insecure.RSA.PrivateKey(pem: TestKeys.rsaPrivate), digestAlgorithm: .sha256, kid: "rsa")
        await signer.add(ecdsa: es, kid: "ec")
        let rsToken = try await signer.sign(TestClaims.valid(), kid: "rsa")
        let esToken = try await signer.sign(TestClaims.valid(), kid: "ec")
        #expect(try await auth.authenticate(Credentials(bearerToken: rsToken))?.subject == "alice")
        #expect(try await auth.authenticate(Credentials(bearerToken: esToken))?.subject == "alice")
        #expect(await verifyError("garbage", auth)?.code == .unauthenticated)
    }

    @Test func jwksFileKeysVerifyByKid() async throws {
        let key = ES256PrivateKey()
        let parameters = try #require(key.publicKey.parameters)
        let jwks = """
            {"keys":[{"kty":"EC","crv":"P-256","kid":"rotating-1","alg":"ES256","x":"\(parameters.x)","y":"\(parameters.y)"}]}
            """
        var config = Self.jwtConfig(keys: [])
        config.jwksFile = "jwks.json"
        let auth = try await Authenticator(config: AuthConfig(jwt: config)) { path in
            #expect(path == "jwks.json")
            return jwks
        }
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: key, kid: "rotating-1")
        let token = try await signer.sign(TestClaims.valid(), kid: "rotating-1")
        #expect(try await auth.authenticate(Credentials(bearerToken: token))?.subject == "alice")
        // A token naming a kid the set does not hold is refused.
        let other = JWTKeyCollection()
        await other.add(ecdsa: ES256PrivateKey(), kid: "rotating-2")
        #expect(
            await verifyError(try await other.sign(TestClaims.valid(), kid: "rotating-2"), auth)?.code
                == .unauthenticated)
    }

    @Test func unknownKid() async throws {
        let token = try await Self.sign(.valid(), kid: "other")
        #expect(await verifyError(token, try await Self.authenticator())?.message.contains("unknown key id") == true)
    }

    @Test func apiKeys() async throws {
        let auth = try await Self.authenticator()
        let identity = try await auth.authenticate(Credentials(apiKey: "k-123"))
        #expect(identity == Identity(subject: "svc", scopes: ["connections:manage"], method: .apiKey))
        do {
            _ = try await auth.authenticate(Credentials(apiKey: "k-124"))
            Issue.record("a wrong key must fail")
        } catch {
            #expect(error.code == .unauthenticated)
        }
    }

    @Test func policies() async throws {
        let auth = try await Self.authenticator()
        let token = try await Self.sign(.valid())
        // Public route, no credentials.
        #expect(try await auth.authorize(Credentials(), policy: .public) == nil)
        // Authentication required.
        do {
            _ = try await auth.authorize(Credentials(), policy: .init(require: .jwt))
            Issue.record("expected 401")
        } catch { #expect(error.code.httpStatus == 401) }
        // Scope present / missing.
        #expect(
            try await auth.authorize(
                Credentials(bearerToken: token), policy: .init(require: .jwt, scopes: ["orders:write"]))?.subject
                == "alice")
        do {
            _ = try await auth.authorize(
                Credentials(bearerToken: token), policy: .init(require: .jwt, scopes: ["users:write"]))
            Issue.record("expected 403")
        } catch { #expect(error.code.httpStatus == 403) }
        // Method mismatch: an API key on a JWT-only route.
        do {
            _ = try await auth.authorize(Credentials(apiKey: "k-123"), policy: .init(require: .jwt))
            Issue.record("expected 403")
        } catch { #expect(error.code == .permissionDenied) }
    }

    @Test func credentialsFromHeaders() {
        let headers = ["authorization": "Bearer abc.def.ghi", "x-api-key": "k"]
        let found = Credentials(header: { headers[$0] }, apiKeyHeader: "X-API-Key")
        #expect(found.bearerToken == "abc.def.ghi")
        #expect(found.apiKey == "k")
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
