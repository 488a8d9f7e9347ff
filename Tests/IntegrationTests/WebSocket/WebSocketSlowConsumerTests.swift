// A client that stops reading while a service keeps pushing: the gateway closes it with 1008 "slow
// consumer" once the bytes its socket has not taken pass `outboundQueue.maxBytes`, counts it, answers
// the pushes with 410, and another client on the same gateway keeps getting its messages meanwhile.
import Foundation
import Testing

@Suite("WebSocket slow consumers", .serialized)
struct WebSocketSlowConsumerTests {
    /// A raw WebSocket connection that completes the handshake and then never reads again.
    final class StalledClient: Sendable {
        let fd: Int32

        init(port: Int) throws {
            // A small receive buffer keeps the kernel's share of the backlog small.
            fd = try RawSocket.connect(port: port, receiveBuffer: 4096)
            let request =
                "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            _ = request.withCString { send(fd, $0, strlen($0), 0) }
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0, String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
                close(fd)
                throw HarnessError(description: "no 101")
            }
        }

        deinit { close(fd) }
    }

    @Test func aClientThatStopsReadingIsClosedAndOthersAreNotSlowed() async throws {
        let queue = "    outboundQueue: { maxMessages: 256, maxBytes: 256KiB }\n"
        try await WebSocketGatewayTests.withGateway(edit: WebSocketGatewayTests.websocketKeys(queue)) { gateway, demo in
            let stalled = try StalledClient(port: gateway.port)
            #expect(
                try await WebSocketGatewayTests.eventually {
                    try await WebSocketGatewayTests.chatConnections(demo).count == 1
                })
            let stalledID = try #require(try await WebSocketGatewayTests.chatConnections(demo).first)
            let healthy = try await TestWebSocketClient.open("ws://127.0.0.1:\(gateway.port)/ws")
            let healthyID = try #require(
                try await WebSocketGatewayTests.chatConnections(demo).first { $0 != stalledID })

            // 64 KiB pushes to the stalled client until the gateway gives up on it (410), each followed by a
            // small push to the healthy one, which must arrive.
            let chunk = String(repeating: "x", count: 64 << 10)
            var pushes = 0
            var closed = false
            while pushes < 400 && !closed {
                let pushed = try await WebSocketGatewayTests.http(
                    "\(gateway.baseURL)/@connections/\(stalledID)", method: .POST,
                    headers: WebSocketGatewayTests.apiKey,
                    body: chunk)
                pushes += 1
                if pushed.status == 410 {
                    closed = true
                    break
                }
                #expect(pushed.status == 204)
                if pushes % 10 == 0 {
                    let toHealthy = try await WebSocketGatewayTests.http(
                        "\(gateway.baseURL)/@connections/\(healthyID)", method: .POST,
                        headers: WebSocketGatewayTests.apiKey, body: #"{"n":\#(pushes)}"#)
                    #expect(toHealthy.status == 204)
                    #expect(try await healthy.next()["n"] as? Int == pushes)
                }
            }
            #expect(closed, "the stalled client was still open after \(pushes) pushes of 64 KiB")
            // Gone for the services too, with its close code.
            #expect(
                try await WebSocketGatewayTests.eventually {
                    try await WebSocketGatewayTests.chatConnections(demo) == [healthyID]
                })
            let metrics = try await WebSocketGatewayTests.http("\(gateway.adminURL)/metrics").body
            #expect(metrics.contains("portico_websocket_slow_consumer_closes_total{gateway=\"websocket\"} 1"))
            #expect(metrics.contains(#"code="1008""#))
            await healthy.close()
            _ = stalled
        }
    }
}
