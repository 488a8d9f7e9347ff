// The WebSocket handshake's negotiation as clients see it, with real processes: the Origin allow-list,
// subprotocols from the configured list, permessage-deflate with its inflate bound, and an API key as
// the handshake's credential.
import Foundation
import HTTPTypes
import HummingbirdWSClient
import HummingbirdWSCompression
import Logging
import NIOWebSocket
import Testing

@Suite("WebSocket handshake", .serialized)
struct WebSocketHandshakeTests {
    /// A raw upgrade request; the first bytes of the answer (the head of a 101, or a whole refusal).
    static func upgrade(port: Int, headers: [String]) async throws -> String {
        let lines =
            [
                "GET /ws HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
            ] + headers
        return try await RawSocket.exchange(port: port, lines.joined(separator: "\r\n") + "\r\n\r\n")
    }

    @Test func originsAndSubprotocols() async throws {
        let keys = WebSocketGatewayTests.websocketKeys(
            "    allowedOrigins: [\"https://app.example\", \"ws://127.0.0.1\"]\n    subprotocols: [chat.v2, chat.v1]\n")
        try await WebSocketGatewayTests.withGateway(edit: keys) { gateway, _ in
            let foreign = try await Self.upgrade(port: gateway.port, headers: ["Origin: https://evil.example"])
            #expect(foreign.hasPrefix("HTTP/1.1 403"))
            #expect(foreign.contains(#""code":"permission_denied""#))
            #expect(foreign.contains("https://evil.example"))

            // The client's order of preference wins among those the gateway speaks.
            let chosen = try await Self.upgrade(
                port: gateway.port,
                headers: ["Origin: https://app.example", "Sec-WebSocket-Protocol: chat.v3, chat.v1, chat.v2"])
            #expect(chosen.hasPrefix("HTTP/1.1 101"))
            #expect(chosen.lowercased().contains("sec-websocket-protocol: chat.v1\r\n"))

            let unknown = try await Self.upgrade(port: gateway.port, headers: ["Sec-WebSocket-Protocol: chat.v3"])
            #expect(unknown.hasPrefix("HTTP/1.1 400"))
            #expect(unknown.contains("chat.v2, chat.v1"))

            // No Origin (not a browser) and no subprotocol offered: accepted, none chosen.
            let plain = try await Self.upgrade(port: gateway.port, headers: [])
            #expect(plain.hasPrefix("HTTP/1.1 101"))
            #expect(!plain.lowercased().contains("sec-websocket-protocol"))

            let fromApp = try await Self.upgrade(port: gateway.port, headers: ["Origin: https://app.example"])
            #expect(fromApp.hasPrefix("HTTP/1.1 101"), "\(fromApp)")
            // swift-websocket's client sends its URL's scheme and host as the origin (ws://127.0.0.1 here) by itself.
            try await WebSocketGatewayTests.connect("ws://127.0.0.1:\(gateway.port)/ws") { messages, outbound in
                try await outbound.write(.text(#"{"action":"echo","data":"from the app"}"#))
                #expect(
                    WebSocketGatewayTests.text(try await messages.next()) == #"{"action":"echo","data":"from the app"}"#
                )
            }
        }
    }

    @Test func badOriginsAndSubprotocolNamesAreRefusedAtLoad() async throws {
        let demo = try await DemoServicesProcess.start()
        defer { Task { await demo.stop() } }
        let yaml = WebSocketGatewayTests.websocketKeys(
            "    allowedOrigins: [\"https://app.example/path\"]\n    subprotocols: [\"chat v1\"]\n")(
                TestConfig.yaml(demo: demo))
        let path = try TestConfig.write(yaml)
        let process = try RunningProcess(
            name: "websocket-gateway", executable: "websocket-gateway", arguments: ["--config", path])
        #expect(await process.waitForExit(timeout: .seconds(20)) == 2)
        #expect(process.output.contains("gateways.websocket.allowedOrigins[0]"))
        #expect(process.output.contains("gateways.websocket.subprotocols[0]"))
    }

    @Test func permessageDeflateIsNegotiatedAndBounded() async throws {
        try await WebSocketGatewayTests.withGateway(
            edit: WebSocketGatewayTests.websocketKeys("    maxMessageSize: 16KiB\n")
        ) {
            gateway, demo in
            let offered = try await Self.upgrade(
                port: gateway.port, headers: ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
            #expect(offered.hasPrefix("HTTP/1.1 101"))
            #expect(offered.lowercased().contains("sec-websocket-extensions: permessage-deflate"))

            // A compressing client: a 10 KB repetitive message goes and comes back compressed.
            let configuration = WebSocketClientConfiguration(extensions: [.perMessageDeflate()])
            let payload = String(repeating: "portico ", count: 1250)
            let echoed = #"{"action":"echo","data":"\#(payload)"}"#
            _ = try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(gateway.port)/ws", configuration: configuration, logger: Logger(label: "ws-test")
            ) { inbound, outbound, _ in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                try await outbound.write(.text(echoed))
                #expect(WebSocketGatewayTests.text(try await messages.next()) == echoed)
            }

            // A small frame that inflates past maxMessageSize: closed with 1009 before it is held.
            let bomb = try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { group in
                group.addTask {
                    try await WebSocketClient.connect(
                        url: "ws://127.0.0.1:\(gateway.port)/ws", configuration: configuration,
                        logger: Logger(label: "ws-test")
                    ) { inbound, outbound, _ in
                        var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                        try await outbound.write(.text(String(repeating: "x", count: 1 << 20)))
                        while try await messages.next() != nil {}
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(30))
                    throw HarnessError(description: "websocket client timed out")
                }
                let result = try await group.next() ?? nil
                group.cancelAll()
                return result
            }
            #expect(WebSocketGatewayTests.closeCode(bomb) == 1009)
            #expect(
                try await WebSocketGatewayTests.eventually {
                    try await WebSocketGatewayTests.chatConnections(demo).isEmpty
                })
        }
    }

    @Test func compressionCanBeTurnedOff() async throws {
        let keys = WebSocketGatewayTests.websocketKeys("    compression: { enabled: false }\n")
        try await WebSocketGatewayTests.withGateway(edit: keys) { gateway, _ in
            let offered = try await Self.upgrade(
                port: gateway.port, headers: ["Sec-WebSocket-Extensions: permessage-deflate"])
            #expect(offered.hasPrefix("HTTP/1.1 101"))
            #expect(!offered.lowercased().contains("sec-websocket-extensions"))
        }
    }

    @Test func anAPIKeyAtTheHandshakeIsTheIdentity() async throws {
        let keys = WebSocketGatewayTests.websocketKeys("    auth: { require: apiKey }\n")
        try await WebSocketGatewayTests.withGateway(edit: keys) { gateway, _ in
            let refused = try await Self.upgrade(port: gateway.port, headers: ["X-API-Key: wrong"])
            #expect(refused.hasPrefix("HTTP/1.1 401"))
            let accepted = try await Self.upgrade(port: gateway.port, headers: ["X-API-Key: demo-key"])
            #expect(accepted.hasPrefix("HTTP/1.1 101"))
            try await WebSocketGatewayTests.connect(
                "ws://127.0.0.1:\(gateway.port)/ws", headers: [HTTPField.Name("X-API-Key")!: "demo-key"]
            ) { messages, outbound in
                try await outbound.write(.text(#"{"action":"echo","data":"keyed"}"#))
                #expect(WebSocketGatewayTests.text(try await messages.next()) == #"{"action":"echo","data":"keyed"}"#)
            }
        }
    }
}
