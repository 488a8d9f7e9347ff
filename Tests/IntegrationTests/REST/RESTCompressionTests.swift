// Response compression as a client sees it: gzip when accepted and worth it, never for small,
// already-encoded or non-text responses, and the body decompresses to what the service sent.
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@Suite("REST compression", .serialized)
struct RESTCompressionTests {
    static func gunzip(_ bytes: [UInt8]) async throws -> [UInt8] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("portico-gz-\(UUID()).gz")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return Array(try await runTool("/bin/gzip", ["-dc", file.path], timeout: .seconds(30)).output)
    }

    @Test func compressesWhenAcceptedAndWorthIt() async throws {
        // A client that shows the bytes as they came (HTTPClient.shared decompresses).
        let client = HTTPClient(configuration: .init(decompression: .disabled))
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  echo: { endpoints: ["http://127.0.0.1:\(upstream.port)"] }
                gateways:
                  rest:
                    compression: { enabled: true, minSize: 512 }
                    routes:
                      - { name: echo, match: { prefix: /echo }, service: echo }
                      - { name: stream, match: { prefix: /stream }, service: echo }
                """)
        // A JSON echo padded to a few KiB by a long header.
        let padding = String(repeating: "portico ", count: 400) + "end"
        let plain = try await Resilience.call(
            gateway.baseURL + "/echo/x", headers: [("X-Pad", padding), ("Accept-Encoding", "identity")], client: client)
        let zipped = try await Resilience.call(
            gateway.baseURL + "/echo/x", headers: [("X-Pad", padding), ("Accept-Encoding", "gzip")], client: client)
        #expect(plain.headers.first(name: "content-encoding") == nil)
        #expect(zipped.status == 200)
        #expect(zipped.headers.first(name: "content-encoding") == "gzip")
        #expect(zipped.body.count < plain.body.count / 4)
        let restored =
            try JSONSerialization.jsonObject(with: Data(try await Self.gunzip(zipped.body))) as? [String: Any]
        #expect((restored?["headers"] as? [String: [String]])?["x-pad"]?.first == padding)

        // Small responses and non-text bodies go as they are.
        let small = try await Resilience.call(
            gateway.baseURL + "/echo/x", headers: [("Accept-Encoding", "gzip")], client: client)
        #expect(small.headers.first(name: "content-encoding") == nil)
        let binary = try await Resilience.call(
            gateway.baseURL + "/stream/64", headers: [("Accept-Encoding", "gzip")], client: client)
        #expect(binary.headers.first(name: "content-encoding") == nil)
        #expect(binary.body.count == 64 << 10)
        try await client.shutdown()
        await gateway.stop()
        upstream.stop()
    }
}
