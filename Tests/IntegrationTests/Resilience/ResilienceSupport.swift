// Shared pieces of the client-layer tests: plain HTTP calls, the admin view of upstreams, metrics,
// waiting for a condition, and which upstream served a response.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ServiceClient

enum Resilience {
    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var upstream: String? { headers.first(name: "x-upstream") }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static func call(
        _ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: [UInt8]? = nil,
        timeout: TimeAmount = .seconds(30), client: HTTPClient = .shared
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: timeout)
        var buffer = try await response.body.collect(upTo: 16 << 20)
        return Reply(
            status: Int(response.status.code), headers: response.headers,
            body: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    /// The gateway's `/upstreams` view.
    static func upstreams(_ gateway: GatewayProcess) async throws -> [String: UpstreamServiceSnapshot] {
        struct View: Decodable { var services: [UpstreamServiceSnapshot] }
        let reply = try await call(gateway.adminURL + "/upstreams")
        let view = try JSONDecoder().decode(View.self, from: Data(reply.body))
        return Dictionary(uniqueKeysWithValues: view.services.map { ($0.name, $0) })
    }

    /// The value of one Prometheus sample whose line contains every fragment (0 when absent).
    static func metric(_ gateway: GatewayProcess, _ name: String, _ fragments: [String] = []) async throws -> Double {
        let text = try await call(gateway.adminURL + "/metrics").text
        var total = 0.0
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            guard fragments.allSatisfy({ line.contains($0) }) else { continue }
            total += Double(line.split(separator: " ").last ?? "0") ?? 0
        }
        return total
    }

    /// Polls `condition` every 50 ms for up to `timeout`.
    static func eventually(
        timeout: Duration = .seconds(10), _ condition: () async throws -> Bool
    ) async throws -> Bool {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}
