// JWKS fetched from a URL (rotation without restart, refresh on unknown kid bounded by the minimum
// interval, identity provider down), and HTTP Basic (PBKDF2 hashes, plain secrets, policies).
import Foundation
import JWTKit
import Synchronization
import Testing

@testable import GatewayCore

/// A JWKS "server" whose document the test changes, counting fetches.
final class FakeJWKSServer: Sendable {
    struct State {
        var keys: [(kid: String, key: ES256PrivateKey)] = []
        var fetches = 0
        var down = false
    }
    let state = Mutex(State())

    func publish(_ keys: [(String, ES256PrivateKey)]) { state.withLock { $0.keys = keys.map { ($0.0, $0.1) } } }
    var fetches: Int { state.withLock { $0.fetches } }

    var fetcher: JWKSFetcher {
        { [self] _ in
            let (keys, down) = state.withLock { state in
                state.fetches += 1
                return (state.keys, state.down)
            }
            if down { throw JWTSetupError("connection refused") }
            let entries = try keys.map { entry in
                let parameters = try #require(entry.key.publicKey.parameters)
                return
                    #"{"kty":"EC","crv":"P-256","kid":"\#(entry.kid)","alg":"ES256","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
            }
            return Array(#"{"keys":[\#(entries.joined(separator: ","))]}"#.utf8)
        }
    }

    static func token(_ key: ES256PrivateKey, kid: String) async throws -> String {
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        return try await signer.sign(TestClaims.valid(), kid: JWKIdentifier(string: kid))
    }
}

@Suite("JWKS from a URL and HTTP Basic")
struct RemoteAuthTests {
    func authenticator(_ server: FakeJWKSServer, refresh: Duration = .seconds(300), minimum: Duration = .zero)
        async throws -> Authenticator
    {
        var jwt = AuthTests.jwtConfig(keys: [])
        jwt.jwksUrl = "http://idp.test/jwks.json"
        jwt.jwksRefreshInterval = .init(refresh)
        jwt.jwksMinRefreshInterval = .init(minimum)
        return try await Authenticator(config: AuthConfig(jwt: jwt), readFile: { _ in "" }, fetch: server.fetcher)
    }

    @Test func rotatedKeysAreFetchedWhenATokenNamesThem() async throws {
        let server = FakeJWKSServer()
        let first = ES256PrivateKey()
        server.publish([("k1", first)])
        let auth = try await authenticator(server)
        #expect(server.fetches == 1)  // fetched at start
        let token1 = try await FakeJWKSServer.token(first, kid: "k1")
        #expect(try await auth.authenticate(Credentials(bearerToken: token1))?.subject == "alice")
        #expect(server.fetches == 1)  // served from the set

        // The identity provider rotates: k2 replaces k1.
        let second = ES256PrivateKey()
        server.publish([("k2", second)])
        let token2 = try await FakeJWKSServer.token(second, kid: "k2")
        #expect(try await auth.authenticate(Credentials(bearerToken: token2))?.subject == "alice")
        #expect(server.fetches == 2)
        // k1 is gone from the new set.
        await #expect(throws: GatewayError.self) { try await auth.authenticate(Credentials(bearerToken: token1)) }
    }

    @Test func unknownKidsDoNotHammerTheProvider() async throws {
        let server = FakeJWKSServer()
        server.publish([("k1", ES256PrivateKey())])
        let auth = try await authenticator(server, minimum: .seconds(60))
        let stranger = try await FakeJWKSServer.token(ES256PrivateKey(), kid: "made-up")
        for _ in 0..<5 {
            do {
                _ = try await auth.authenticate(Credentials(bearerToken: stranger))
                Issue.record("an unknown key must be refused")
            } catch {
                #expect(error.message.contains("unknown key id 'made-up'"))
            }
        }
        #expect(server.fetches == 1)  // only the start-up fetch: the minimum interval has not passed
    }

    @Test func staleSetsAreRefreshedInTheBackground() async throws {
        let server = FakeJWKSServer()
        let key = ES256PrivateKey()
        server.publish([("k1", key)])
        let auth = try await authenticator(server, refresh: .milliseconds(1))
        try await Task.sleep(for: .milliseconds(5))
        let token = try await FakeJWKSServer.token(key, kid: "k1")
        #expect(try await auth.authenticate(Credentials(bearerToken: token))?.subject == "alice")
        // The stale set answered at once and a refresh started behind it.
        for _ in 0..<100 where server.fetches < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(server.fetches >= 2)
    }

    @Test func aProviderThatIsDownAtStartIsRetriedLater() async throws {
        let server = FakeJWKSServer()
        let key = ES256PrivateKey()
        server.publish([("k1", key)])
        server.state.withLock { $0.down = true }
        let auth = try await authenticator(server)
        let token = try await FakeJWKSServer.token(key, kid: "k1")
        do {
            _ = try await auth.authenticate(Credentials(bearerToken: token))
            Issue.record("no keys yet")
        } catch {
            #expect(error.code == .unauthenticated)
            #expect(error.message.contains("signing keys are unavailable"))
        }
        server.state.withLock { $0.down = false }
        #expect(try await auth.authenticate(Credentials(bearerToken: token))?.subject == "alice")
    }

    // MARK: Basic

    static func basicAuthenticator() async throws -> Authenticator {
        var config = AuthConfig()
        let hash = try PasswordHash.make(password: "s3cret pass", rounds: 10_000)
        config.basic = BasicAuthConfig(users: [
            BasicUserConfig(name: "ops", passwordHash: hash, scopes: ["admin"]),
            BasicUserConfig(name: "robot", password: "from-env"),
        ])
        return try await Authenticator(config: config) { _ in "" }
    }

    static func basic(_ user: String, _ password: String) -> Credentials {
        let encoded = Data("\(user):\(password)".utf8).base64EncodedString()
        return Credentials(header: { $0 == "authorization" ? "Basic \(encoded)" : nil }, apiKeyHeader: "x-api-key")
    }

    @Test func basicUsersWithHashesAndSecrets() async throws {
        let auth = try await Self.basicAuthenticator()
        let ops = try await auth.authenticate(Self.basic("ops", "s3cret pass"))
        #expect(ops == Identity(subject: "ops", scopes: ["admin"], method: .basic))
        // Verified pairs are remembered; the answer stays the same.
        #expect(try await auth.authenticate(Self.basic("ops", "s3cret pass"))?.subject == "ops")
        #expect(try await auth.authenticate(Self.basic("robot", "from-env"))?.subject == "robot")
        for (user, password) in [("ops", "wrong"), ("nobody", "s3cret pass"), ("robot", "from-env ")] {
            await #expect(throws: GatewayError.self) { try await auth.authenticate(Self.basic(user, password)) }
        }
        let malformed = Credentials(header: { $0 == "authorization" ? "Basic !!!" : nil }, apiKeyHeader: "x")
        #expect(!malformed.isEmpty)
        await #expect(throws: GatewayError.self) { try await auth.authenticate(malformed) }
        #expect(auth.challenges == ["Basic realm=\"portico\", charset=\"UTF-8\""])
    }

    @Test func basicAndPolicies() async throws {
        let auth = try await Self.basicAuthenticator()
        #expect(
            try await auth.authorize(Self.basic("ops", "s3cret pass"), policy: .init(require: .basic))?.subject == "ops"
        )
        #expect(try await auth.authorize(Self.basic("ops", "s3cret pass"), policy: .init(scopes: ["admin"])) != nil)
        do {
            _ = try await auth.authorize(Self.basic("robot", "from-env"), policy: .init(require: .jwt))
            Issue.record("Basic must not satisfy a JWT-only route")
        } catch {
            #expect(error.code == .permissionDenied)
        }
    }

    @Test func passwordHashFormat() throws {
        let text = try PasswordHash.make(password: "pw", rounds: 10_000)
        #expect(text.hasPrefix("pbkdf2-sha256$10000$"))
        let hash = try PasswordHash.parse(text).get()
        #expect(hash.verify("pw"))
        #expect(!hash.verify("pW"))
        for bad in ["plain", "pbkdf2-sha256$100$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==", "pbkdf2-sha256$10000$!$!"] {
            #expect(throws: PasswordHashError.self) { try PasswordHash.parse(bad).get() }
        }
        // RFC 6070-style known answer for PBKDF2-HMAC-SHA256 (password, salt, 4096 rounds, 32 bytes).
        let derived = try PasswordHash.derive("password", salt: Array("salt".utf8), rounds: 4096, length: 32)
        #expect(
            derived.map { String(format: "%02x", $0) }.joined()
                == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
    }
}
