// The REST listener's protocols as clients see them: HTTPS with HTTP/2 chosen by ALPN (AsyncHTTPClient),
// HTTPS with HTTP/1.1, prior-knowledge h2c on the plain port (curl), client certificates when a client
// CA is configured, and new certificates served after a reload.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

@Suite("REST listener: TLS and HTTP/2", .serialized)
struct RESTListenerTLSTests {
    static func config(upstream: Int, certs: TestCertificates, clientCA: Bool = false, http2: Bool = true) -> String {
        """
        services:
          echo: { endpoints: ["http://127.0.0.1:\(upstream)"] }
        gateways:
          rest:
            http2: \(http2)
            tls:
              certificateFile: \(certs.serverCertPath)
              privateKeyFile: \(certs.serverKeyPath)
        \(clientCA ? "      clientCAFile: \(certs.caPath)" : "")
            routes:
              - { name: echo, match: { prefix: /echo }, service: echo }
        """
    }

    static func client(trusting ca: String, certificate: (String, String)? = nil) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(ca)
        if let (cert, key) = certificate {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    static func get(_ client: HTTPClient, _ url: String, timeout: TimeAmount = .seconds(10)) async throws -> (
        status: Int, version: HTTPVersion, body: String
    ) {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: timeout)
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.version, String(buffer: body))
    }

    @Test func httpsNegotiatesHTTP2AndHTTP1() async throws {
        let upstream = try await TestUpstream.start()
        let certs = try await TestCertificates.make()
        let gateway = try await GatewayProcess.start(
            "rest", configYAML: Self.config(upstream: upstream.port, certs: certs))
        let client = try Self.client(trusting: certs.caPath)
        let reply = try await Self.get(client, "https://localhost:\(gateway.port)/echo/h2")
        #expect(reply.status == 200)
        #expect(reply.version == .http2)
        // The service behind is reached over HTTP/1.1 with the request as the client sent it.
        let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(reply.body.utf8))
        #expect(echoed.path == "/echo/h2")
        #expect(echoed.header("x-forwarded-proto") == "https")
        // Several requests share the HTTP/2 connection concurrently.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<20 {
                group.addTask { try await Self.get(client, "https://localhost:\(gateway.port)/echo/\(index)").status }
            }
            for try await status in group { #expect(status == 200) }
        }
        try await client.shutdown()

        // A client that only speaks HTTP/1.1 gets HTTP/1.1 over TLS.
        var http1 = HTTPClient.Configuration(tlsConfiguration: .makeClientConfiguration())
        http1.tlsConfiguration?.trustRoots = .file(certs.caPath)
        http1.httpVersion = .http1Only
        let oldClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http1)
        let old = try await Self.get(oldClient, "https://localhost:\(gateway.port)/echo/h1")
        #expect(old.status == 200)
        #expect(old.version == .http1_1)
        try await oldClient.shutdown()
        await gateway.stop()
        upstream.stop()
    }

    @Test func clientCertificatesWhenAClientCAIsSet() async throws {
        let upstream = try await TestUpstream.start()
        let certs = try await TestCertificates.make()
        let gateway = try await GatewayProcess.start(
            "rest", configYAML: Self.config(upstream: upstream.port, certs: certs, clientCA: true))
        let withCert = try Self.client(trusting: certs.caPath, certificate: (certs.clientCertPath, certs.clientKeyPath))
        #expect(try await Self.get(withCert, "https://localhost:\(gateway.port)/echo/x").status == 200)
        try await withCert.shutdown()
        let without = try Self.client(trusting: certs.caPath)
        await #expect(throws: (any Error).self) {
            try await Self.get(without, "https://localhost:\(gateway.port)/echo/x", timeout: .seconds(2))
        }
        try await without.shutdown()
        await gateway.stop()
        upstream.stop()
    }

    @Test func reloadServesNewCertificates() async throws {
        let upstream = try await TestUpstream.start()
        let first = try await TestCertificates.make()
        let second = try await TestCertificates.make()
        let gateway = try await GatewayProcess.start(
            "rest", configYAML: Self.config(upstream: upstream.port, certs: first))
        let trustsSecond = try Self.client(trusting: second.caPath)
        await #expect(throws: (any Error).self) {
            try await Self.get(trustsSecond, "https://localhost:\(gateway.port)/echo/x", timeout: .seconds(2))
        }
        try Self.config(upstream: upstream.port, certs: second).write(
            toFile: gateway.configPath, atomically: true, encoding: .utf8)
        let reload = try await Resilience.call(gateway.adminURL + "/reload", method: .POST)
        #expect(reload.status == 200)
        #expect(try await Self.get(trustsSecond, "https://localhost:\(gateway.port)/echo/x").status == 200)
        try await trustsSecond.shutdown()
        await gateway.stop()
        upstream.stop()
    }

    @Test func priorKnowledgeH2COnThePlainPort() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  echo: { endpoints: ["http://127.0.0.1:\(upstream.port)"] }
                gateways:
                  rest:
                    routes: [{ name: echo, match: { prefix: /echo }, service: echo }]
                """)
        let curl = try await runTool(
            "/usr/bin/curl",
            [
                "-s", "--max-time", "10", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                "%{http_version} %{http_code}", "\(gateway.baseURL)/echo/h2c",
            ])
        let output = curl.text
        #expect(output == "2 200")
        // HTTP/1.1 still works on the same port.
        #expect(try await Resilience.call(gateway.baseURL + "/echo/h1").status == 200)
        await gateway.stop()
        upstream.stop()
    }
}
