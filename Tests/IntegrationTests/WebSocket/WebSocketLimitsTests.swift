// The per-connection limits as clients see them, with real processes: the maximum connection
// duration, the message rate, connections per identity, and the metrics that count them.
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Testing

@Suite("WebSocket limits", .serialized)
struct WebSocketLimitsTests {
    @Test func connectionsEndAtTheirMaximumDuration() async throws {
        let keys = WebSocketGatewayTests.websocketKeys("    maxConnectionDuration: 2s\n")
        try await WebSocketGatewayTests.withGateway(edit: keys) { gateway, demo in
            let started = ContinuousClock.now
            let closed = try await WebSocketGatewayTests.connect("ws://127.0.0.1:\(gateway.port)/ws") {
                messages, _ in
                while try await messages.next() != nil {}
            }
            // Closed by the sweeper (once a second) after the 2 s lifetime, not before.
            #expect(WebSocketGatewayTests.closeCode(closed) == 1001)
            #expect(closed?.reason == "maximum connection duration reached")
            #expect(ContinuousClock.now - started >= .seconds(2))
            #expect(
                try await WebSocketGatewayTests.eventually {
                    try await WebSocketGatewayTests.chatConnections(demo).isEmpty
                })
        }
    }

    @Test func messagesOverTheRateGetAnErrorAndTheConnectionStays() async throws {
        let keys = WebSocketGatewayTests.websocketKeys("    messageRate: { messages: 2, per: 1m }\n")
        try await WebSocketGatewayTests.withGateway(edit: keys) { gateway, _ in
            try await WebSocketGatewayTests.connect("ws://127.0.0.1:\(gateway.port)/ws") { messages, outbound in
                for id in 1...3 {
                    try await outbound.write(.text(#"{"action":"echo","data":"m\#(id)","correlationId":"c\#(id)"}"#))
                }
                var replies: [[String: Any]] = []
                for _ in 1...3 {
                    replies.append(
                        WebSocketGatewayTests.json(WebSocketGatewayTests.text(try await messages.next()) ?? ""))
                }
                let errors = replies.filter { $0["type"] as? String == "error" }
                #expect(errors.count == 1)
                #expect(errors.first?["code"] as? String == "rate_limited")
                #expect(errors.first?["correlationId"] as? String == "c3")
                #expect(
                    replies.filter { $0["correlationId"] as? String == "c1" || $0["correlationId"] as? String == "c2" }
                        .count == 2)
            }
            let metrics = try await WebSocketGatewayTests.http("\(gateway.adminURL)/metrics")
            #expect(metrics.body.contains("portico_websocket_rate_limited_messages_total"))
            #expect(metrics.body.contains("portico_websocket_bytes_in_total"))
            #expect(metrics.body.contains("portico_websocket_integration_duration_seconds"))
            // The client closed normally: counted by close code once `$disconnect` has run.
            #expect(
                try await WebSocketGatewayTests.eventually {
                    let body = try await WebSocketGatewayTests.http("\(gateway.adminURL)/metrics").body
                    return body.split(separator: "\n").contains {
                        $0.hasPrefix("portico_websocket_disconnects_total{") && $0.contains(#"code="1000""#)
                    }
                })
        }
    }

    @Test func connectionsPerIdentityAreLimited() async throws {
        let keys = WebSocketGatewayTests.websocketKeys(
            "    auth: { require: apiKey }\n    maxConnectionsPerIdentity: 1\n")
        try await WebSocketGatewayTests.withGateway(edit: keys) { gateway, _ in
            let key: HTTPFields = [HTTPField.Name("X-API-Key")!: "demo-key"]
            try await WebSocketGatewayTests.connect("ws://127.0.0.1:\(gateway.port)/ws", headers: key) {
                messages, outbound in
                try await outbound.write(.text(#"{"action":"echo","data":"first"}"#))
                #expect(WebSocketGatewayTests.text(try await messages.next()) == #"{"action":"echo","data":"first"}"#)
                let second = try await WebSocketHandshakeTests.upgrade(
                    port: gateway.port, headers: ["X-API-Key: demo-key"])
                #expect(second.hasPrefix("HTTP/1.1 429"))
                #expect(second.contains(#""code":"rate_limited""#))
            }
            // Once the first has gone, the identity may connect again.
            #expect(
                try await WebSocketGatewayTests.eventually {
                    try await WebSocketHandshakeTests.upgrade(port: gateway.port, headers: ["X-API-Key: demo-key"])
                        .hasPrefix("HTTP/1.1 101")
                })
        }
    }
}
