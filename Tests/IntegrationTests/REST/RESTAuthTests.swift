// Authentication through a running rest-gateway: JWTs verified with keys from a JWKS URL that rotate
// while the gateway runs, and HTTP Basic users, with the 401/403 answers and challenges a client sees.
import Foundation
import GatewayCore
import Hummingbird
import JWTKit
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

/// An identity provider's JWKS endpoint whose key set the test replaces.
final class TestJWKSServer: Sendable {
    let port: Int
    private let group: ServiceGroup
    private let document: Document

    final class Document: Sendable {
        let text = Mutex(#"{"keys":[]}"#)
    }

    private init(port: Int, group: ServiceGroup, document: Document) {
        self.port = port
        self.group = group
        self.document = document
    }

    static func start() async throws -> TestJWKSServer {
        let document = Document()
        let router = Router()
        router.get("/jwks.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: document.text.withLock { $0 })))
        }
        let bound = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in bound.continuation.yield(channel.localAddress?.port ?? 0) })
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "test-jwks")))
        Task { try await group.run() }
        var iterator = bound.stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw HarnessError(description: "JWKS server did not start") }
        return TestJWKSServer(port: port, group: group, document: document)
    }

    func publish(_ keys: [(kid: String, key: ES256PrivateKey)]) throws {
        let entries = try keys.map { entry in
            let parameters = try #require(entry.key.publicKey.parameters)
            return
                #"{"kty":"EC","crv":"P-256","kid":"\#(entry.kid)","alg":"ES256","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
        }
        document.text.withLock { $0 = #"{"keys":[\#(entries.joined(separator: ","))]}"# }
    }

    func stop() { Task { await group.triggerGracefulShutdown() } }
}

struct IdPClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var scope: String
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

@Suite("REST authentication: JWKS URL and Basic", .serialized)
struct RESTAuthTests {
    static func config(upstream: Int, jwks: Int, hash: String) -> String {
        """
        auth:
          jwt:
            jwksUrl: "http://127.0.0.1:\(jwks)/jwks.json"
            jwksMinRefreshInterval: 0s
          basic:
            realm: ops
            users:
              - { name: ops, passwordHash: "\(hash)", scopes: [admin] }
        services:
          echo: { endpoints: ["http://127.0.0.1:\(upstream)"] }
        gateways:
          rest:
            routes:
              - { name: token-only, match: { prefix: /jwt }, service: echo, rewrite: { stripPrefix: /jwt, addPrefix: /echo }, auth: { require: jwt } }
              - { name: admin, match: { prefix: /admin }, service: echo, rewrite: { stripPrefix: /admin, addPrefix: /echo }, auth: { scopes: [admin] } }
        """
    }

    static func token(_ key: ES256PrivateKey, kid: String, scope: String = "") async throws -> String {
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        return try await signer.sign(
            IdPClaims(sub: "alice", exp: .init(value: Date().addingTimeInterval(600)), scope: scope),
            kid: JWKIdentifier(string: kid))
    }

    @Test func keysRotateAtTheProviderWithoutARestart() async throws {
        let upstream = try await TestUpstream.start()
        let jwks = try await TestJWKSServer.start()
        let first = ES256PrivateKey()
        try jwks.publish([("2026-a", first)])
        let hash = try PasswordHash.make(password: "pw", rounds: 10_000)
        let gateway = try await GatewayProcess.start(
            "rest", configYAML: Self.config(upstream: upstream.port, jwks: jwks.port, hash: hash))
        let url = gateway.baseURL + "/jwt/x"
        let token1 = try await Self.token(first, kid: "2026-a")
        #expect(try await Resilience.call(url, headers: [("Authorization", "Bearer \(token1)")]).status == 200)

        // The provider rotates to a new key; a token signed with it works at once.
        let second = ES256PrivateKey()
        try jwks.publish([("2026-b", second)])
        let token2 = try await Self.token(second, kid: "2026-b")
        let reply = try await Resilience.call(url, headers: [("Authorization", "Bearer \(token2)")])
        #expect(reply.status == 200)
        let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(reply.body))
        #expect(echoed.header("x-portico-subject") == "alice")
        // The retired key no longer verifies.
        let retired = try await Resilience.call(url, headers: [("Authorization", "Bearer \(token1)")])
        #expect(retired.status == 401)
        #expect(retired.text.contains("unknown key id '2026-a'"))
        await gateway.stop()
        jwks.stop()
        upstream.stop()
    }

    @Test func basicUsersAndChallenges() async throws {
        let upstream = try await TestUpstream.start()
        let jwks = try await TestJWKSServer.start()
        let hash = try PasswordHash.make(password: "correct horse", rounds: 10_000)
        let gateway = try await GatewayProcess.start(
            "rest", configYAML: Self.config(upstream: upstream.port, jwks: jwks.port, hash: hash))
        func basic(_ user: String, _ password: String) -> (String, String) {
            ("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
        }
        let ok = try await Resilience.call(gateway.baseURL + "/admin/x", headers: [basic("ops", "correct horse")])
        #expect(ok.status == 200)
        let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(ok.body))
        #expect(echoed.header("x-portico-auth-method") == "basic")

        let anonymous = try await Resilience.call(gateway.baseURL + "/admin/x")
        #expect(anonymous.status == 401)
        let challenges = anonymous.headers["www-authenticate"]
        #expect(challenges.contains("Basic realm=\"ops\", charset=\"UTF-8\""))
        #expect(challenges.contains("Bearer realm=\"portico\""))
        #expect(try await Resilience.call(gateway.baseURL + "/admin/x", headers: [basic("ops", "wrong")]).status == 401)
        // Basic does not satisfy a route that requires a token.
        #expect(
            try await Resilience.call(gateway.baseURL + "/jwt/x", headers: [basic("ops", "correct horse")]).status
                == 403)
        // The password never reaches the logs.
        #expect(!gateway.process.output.contains("correct horse"))
        await gateway.stop()
        jwks.stop()
        upstream.stop()
    }
}
