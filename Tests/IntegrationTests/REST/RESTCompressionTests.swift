// Response compression as a client sees it: gzip when accepted and worth it, never for small,
// already-encoded or non-text responses, and the body decompresses to what the service sent.
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@Suite("REST compression", .serialized)
struct RESTCompressionTests {
    static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("portico-gz-\(UUID()).gz")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(output)
    }

    /// A client that shows the bytes as they came (HTTPClient.shared decompresses).
    static func get(_ client: HTTPClient, _ url: String, headers: [(String, String)]) async throws -> Resilience.Reply {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 16 << 20)
        return .init(
            status: Int(response.status.code), headers: response.headers,
            body: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    @Test func compressesWhenAcceptedAndWorthIt() async throws {
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
        let plain = try await Self.get(
            client, gateway.baseURL + "/echo/x", headers: [("X-Pad", padding), ("Accept-Encoding", "identity")])
        let zipped = try await Self.get(
            client, gateway.baseURL + "/echo/x", headers: [("X-Pad", padding), ("Accept-Encoding", "gzip")])
        #expect(plain.headers.first(name: "content-encoding") == nil)
        #expect(zipped.status == 200)
        #expect(zipped.headers.first(name: "content-encoding") == "gzip")
        #expect(zipped.body.count < plain.body.count / 4)
        let restored = try JSONSerialization.jsonObject(with: Data(try Self.gunzip(zipped.body))) as? [String: Any]
        #expect((restored?["headers"] as? [String: [String]])?["x-pad"]?.first == padding)

        // Small responses and non-text bodies go as they are.
        let small = try await Self.get(client, gateway.baseURL + "/echo/x", headers: [("Accept-Encoding", "gzip")])
        #expect(small.headers.first(name: "content-encoding") == nil)
        let binary = try await Self.get(client, gateway.baseURL + "/stream/64", headers: [("Accept-Encoding", "gzip")])
        #expect(binary.headers.first(name: "content-encoding") == nil)
        #expect(binary.body.count == 64 << 10)
        try await client.shutdown()
        await gateway.stop()
        upstream.stop()
    }
}
