// The WebSocket gateway as clients and services see it, with real processes (websocket-gateway and
// demo-services' chat backend): routing, replies and errors, the management API, handshake auth and
// `$connect` refusals, the message size limit and graceful shutdown.
import AsyncHTTPClient
import Foundation
import GatewayCore
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Synchronization
import Testing

@Suite("WebSocket gateway", .serialized)
struct WebSocketGatewayTests {
    static let apiKey = [("X-API-Key", "demo-key")]

    /// Starts demo-services and the gateway with the demo config, edited by `edit`.
    static func withGateway(
        edit: (String) -> String = { $0 }, _ body: (GatewayProcess, DemoServicesProcess) async throws -> Void
    ) async throws {
        let demo = try await DemoServicesProcess.start()
        let gateway: GatewayProcess
        do {
            gateway = try await GatewayProcess.start("websocket", configYAML: edit(TestConfig.yaml(demo: demo)))
        } catch {
            await demo.stop()
            throw error
        }
        do {
            try await body(gateway, demo)
        } catch {
            await gateway.stop()
            await demo.stop()
            throw error
        }
        await gateway.stop()
        await demo.stop()
    }

    /// Adds keys to the `gateways.websocket` section of the demo config.
    static func websocketKeys(_ lines: String) -> (String) -> String {
        { $0.replacingOccurrences(of: "    path: /ws\n", with: "    path: /ws\n" + lines) }
    }

    static func http(
        _ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> (status: Int, headers: HTTPHeaders, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers, String(buffer: buffer))
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// The connection ids the chat backend knows (added by `$connect`, removed by `$disconnect`).
    static func chatConnections(_ demo: DemoServicesProcess) async throws -> [String] {
        let response = try await http("http://127.0.0.1:\(demo.chatPort)/connections")
        return (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String] ?? []
    }

    /// Polls `condition` for up to 10 seconds.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Connects a client and runs `body` with it; returns the close frame the server sent. Fails after 30s.
    @discardableResult
    static func connect(
        _ url: String, headers: HTTPFields = [:],
        _ body:
            @escaping @Sendable (inout WebSocketInboundMessageStream.AsyncIterator, WebSocketOutboundWriter)
            async throws -> Void
    ) async throws -> WebSocketCloseFrame? {
        try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { group in
            group.addTask {
                try await WebSocketClient.connect(
                    url: url, configuration: .init(additionalHeaders: headers), logger: Logger(label: "ws-test")
                ) { inbound, outbound, _ in
                    var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    try await body(&messages, outbound)
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
    }

    static func text(_ message: WebSocketMessage?) -> String? {
        if case .text(let text)? = message { return text }
        return nil
    }

    static func closeCode(_ frame: WebSocketCloseFrame?) -> UInt16? {
        frame.map { UInt16(webSocketErrorCode: $0.closeCode) }
    }

    @Test func routesRepliesAndErrors() async throws {
        let addDeadRoute: (String) -> String = { yaml in
            yaml.replacingOccurrences(
                of: "services:\n",
                with: "services:\n  dead:\n    endpoints: [\"http://127.0.0.1:1\"]\n    connectTimeout: 500ms\n"
            ).replacingOccurrences(
                of: "      sendMessage: { service: chat, path: /sendMessage, twoWay: false }\n",
                with: "      sendMessage: { service: chat, path: /sendMessage, twoWay: false }\n"
                    + "      broken: { service: dead, path: /x }\n")
        }
        try await Self.withGateway(edit: addDeadRoute) { gateway, _ in
            try await Self.connect("ws://127.0.0.1:\(gateway.port)/ws") { messages, outbound in
                try await outbound.write(.text(#"{"action":"echo","data":"hi"}"#))
                #expect(Self.text(try await messages.next()) == #"{"action":"echo","data":"hi"}"#)

                try await outbound.write(.text("not json"))
                #expect(Self.text(try await messages.next()) == #"{"action":"default","received":"not json"}"#)

                try await outbound.write(.text(#"{"action":"echo","data":"x","correlationId":"c1"}"#))
                #expect(
                    Self.text(try await messages.next())
                        == #"{"correlationId":"c1","data":{"action":"echo","data":"x"}}"#)

                // The integration answers 400: an error message, and the connection stays open.
                try await outbound.write(.text(#"{"action":"sendMessage","correlationId":7}"#))
                let rejected = Self.json(Self.text(try await messages.next()) ?? "")
                #expect(rejected["type"] as? String == "error")
                #expect(rejected["code"] as? String == "bad_request")
                #expect(rejected["routeKey"] as? String == "sendMessage")
                #expect(rejected["correlationId"] as? Int == 7)
                #expect(rejected["status"] as? Int == 400)

                // The integration cannot be reached: an error message naming the gateway error code.
                try await outbound.write(.text(#"{"action":"broken"}"#))
                let failed = Self.json(Self.text(try await messages.next()) ?? "")
                #expect(failed["type"] as? String == "error")
                #expect(failed["code"] as? String == "upstream_connect_failed")
                #expect(failed["routeKey"] as? String == "broken")
                #expect((failed["messageId"] as? String)?.isEmpty == false)

                // sendMessage is one-way; the chat backend broadcasts through the callbackUrl we sent it.
                try await outbound.write(.text(#"{"action":"sendMessage","message":"hello all"}"#))
                let broadcast = Self.json(Self.text(try await messages.next()) ?? "")
                #expect(broadcast["action"] as? String == "message")
                #expect(broadcast["message"] as? String == "hello all")

                try await outbound.write(.binary(ByteBuffer(bytes: [0, 1, 2])))
                #expect(Self.text(try await messages.next()) == #"{"action":"default","received":"AAEC"}"#)

                try await outbound.write(.text(#"{"action":"echo","data":"still open"}"#))
                #expect(Self.text(try await messages.next()) == #"{"action":"echo","data":"still open"}"#)
            }
        }
    }

    @Test func managementAPI() async throws {
        try await Self.withGateway { gateway, demo in
            let base = gateway.baseURL
            let unknown = try await Self.http("\(base)/@connections/nope", headers: Self.apiKey)
            #expect(unknown.status == 410)
            #expect(unknown.headers.first(name: "content-type") == "application/problem+json")
            #expect(Self.json(unknown.body)["code"] as? String == "gone")
            #expect(
                try await Self.http("\(base)/@connections/nope", method: .POST, headers: Self.apiKey, body: "x").status
                    == 410)
            #expect(
                try await Self.http("\(base)/@connections/nope", method: .DELETE, headers: Self.apiKey).status == 410)
            #expect(try await Self.http("\(base)/@connections/nope").status == 401)
            #expect(try await Self.http("\(base)/ws").status == 426)

            let closed = try await Self.connect("ws://127.0.0.1:\(gateway.port)/ws") { messages, outbound in
                try await outbound.write(.text(#"{"action":"echo","data":"ready"}"#))
                #expect(Self.text(try await messages.next()) == #"{"action":"echo","data":"ready"}"#)
                let id = try #require(try await Self.chatConnections(demo).first)

                let push = try await Self.http(
                    "\(base)/@connections/\(id)", method: .POST, headers: Self.apiKey, body: #"{"pushed":true}"#)
                #expect(push.status == 204)
                #expect(Self.text(try await messages.next()) == #"{"pushed":true}"#)

                let described = try await Self.http("\(base)/@connections/\(id)", headers: Self.apiKey)
                #expect(described.status == 200)
                let object = Self.json(described.body)
                #expect(object["connectionId"] as? String == id)
                #expect(object["sourceIp"] as? String == "127.0.0.1")
                #expect(object["identity"] is NSNull)
                #expect((object["connectedAt"] as? String)?.hasSuffix("Z") == true)
                #expect(object["lastActiveAt"] is String)

                #expect(
                    try await Self.http("\(base)/@connections/\(id)?code=1005", method: .DELETE, headers: Self.apiKey)
                        .status
                        == 400)
                let deleted = try await Self.http(
                    "\(base)/@connections/\(id)?code=4001&reason=bye", method: .DELETE, headers: Self.apiKey)
                #expect(deleted.status == 204)
                while try await messages.next() != nil {}
            }
            #expect(Self.closeCode(closed) == 4001)
            #expect(closed?.reason == "bye")
            // $disconnect ran (the chat backend forgot the connection) and the id is gone.
            #expect(try await Self.eventually { try await Self.chatConnections(demo).isEmpty })
            let ids = try await Self.chatConnections(demo)
            #expect(ids.isEmpty)
        }
    }

    @Test func handshakeAuthentication() async throws {
        try await Self.withGateway(edit: Self.websocketKeys("    auth: { require: jwt }\n")) { gateway, _ in
            let upgrade = [
                ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
            ]
            let anonymous = try await Self.http("\(gateway.baseURL)/ws", headers: upgrade)
            #expect(anonymous.status == 401)
            #expect(anonymous.headers.first(name: "content-type") == "application/problem+json")
            #expect(Self.json(anonymous.body)["code"] as? String == "unauthenticated")

            let bad = try await Self.http("\(gateway.baseURL)/ws?token=not-a-token", headers: upgrade)
            #expect(bad.status == 401)
            #expect(Self.json(bad.body)["code"] as? String == "unauthenticated")
            #expect(Self.json(bad.body)["requestId"] as? String == bad.headers.first(name: "x-request-id"))

            let token = try await TokenMinter.hs256(
                secret: TestConfig.demoSecret, subject: "alice", scopes: ["chat"], issuer: "portico-demo",
                audience: "portico", kid: "demo")
            let clients: [(url: String, headers: HTTPFields)] = [
                ("ws://127.0.0.1:\(gateway.port)/ws?token=\(token)", [:]),
                ("ws://127.0.0.1:\(gateway.port)/ws", [.authorization: "Bearer \(token)"]),
            ]
            for (url, headers) in clients {
                try await Self.connect(url, headers: headers) { messages, outbound in
                    try await outbound.write(.text(#"{"action":"echo","data":"authenticated"}"#))
                    #expect(Self.text(try await messages.next()) == #"{"action":"echo","data":"authenticated"}"#)
                }
            }
        }
    }

    @Test func connectIntegrationRefusesHandshake() async throws {
        let refuse: (String) -> String = {
            $0.replacingOccurrences(
                of: "$connect: { service: chat, path: /connect }", with: "$connect: { service: chat, path: /missing }")
        }
        try await Self.withGateway(edit: refuse) { gateway, _ in
            let upgrade = [
                ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
            ]
            let refused = try await Self.http("\(gateway.baseURL)/ws", headers: upgrade)
            #expect(refused.status == 404)
            #expect(Self.json(refused.body)["code"] as? String == "not_found")
        }
    }

    @Test func oversizedMessageClosesWith1009() async throws {
        try await Self.withGateway(edit: Self.websocketKeys("    maxMessageSize: 1KiB\n")) { gateway, demo in
            let closed = try await Self.connect("ws://127.0.0.1:\(gateway.port)/ws") { messages, outbound in
                try await outbound.write(.text(#"{"action":"echo","data":"small"}"#))
                #expect(Self.text(try await messages.next()) == #"{"action":"echo","data":"small"}"#)
                try await outbound.write(.text(String(repeating: "x", count: 2048)))
                while try await messages.next() != nil {}
            }
            #expect(Self.closeCode(closed) == 1009)
            #expect(try await Self.eventually { try await Self.chatConnections(demo).isEmpty })
        }
    }

    @Test func gracefulShutdownClosesWith1001() async throws {
        try await Self.withGateway { gateway, demo in
            let closed = try await Self.connect("ws://127.0.0.1:\(gateway.port)/ws") { messages, outbound in
                try await outbound.write(.text(#"{"action":"echo","data":"ready"}"#))
                #expect(Self.text(try await messages.next()) == #"{"action":"echo","data":"ready"}"#)
                #expect(try await Self.chatConnections(demo).count == 1)
                Task { await gateway.stop() }
                while try await messages.next() != nil {}
            }
            #expect(Self.closeCode(closed) == 1001)
            #expect(try await Self.eventually { try await Self.chatConnections(demo).isEmpty })
            #expect(await gateway.process.waitForExit() == 0)
        }
    }
}
