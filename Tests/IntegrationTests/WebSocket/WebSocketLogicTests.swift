// Unit tests of the WebSocket gateway's pure logic: route selection, envelope and client message
// formats, message reassembly, `$connect` answers, connection ids and close bookkeeping.
import Foundation
import GatewayCore
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import WebSocketGateway

@Suite("WebSocket gateway logic")
struct WebSocketLogicTests {
    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    static func json(_ bytes: [UInt8]) -> [String: Any] { json(String(decoding: bytes, as: UTF8.self)) }

    // MARK: route selection

    @Test func selectionExpressions() {
        #expect(RouteSelector(expression: "$request.body.action")?.path == ["action"])
        #expect(RouteSelector(expression: "$request.body.meta.action")?.path == ["meta", "action"])
        #expect(RouteSelector(expression: "$request.body.") == nil)
        #expect(RouteSelector(expression: "$request.body.a..b") == nil)
        #expect(RouteSelector(expression: "$request.header.action") == nil)
        #expect(RouteSelector(expression: "action") == nil)
    }

    @Test func selectsTopLevelAndNestedKeys() throws {
        let top = try #require(RouteSelector(expression: "$request.body.action"))
        #expect(top.inspect(text: #"{"action":"echo","data":"hi"}"#).selection == .key("echo"))
        let nested = try #require(RouteSelector(expression: "$request.body.meta.action"))
        #expect(
            nested.inspect(text: #"{"meta":{"action":"sendMessage"},"action":"echo"}"#).selection == .key("sendMessage")
        )
        #expect(nested.inspect(text: #"{"meta":"flat"}"#).selection == .missingKey)
        #expect(nested.inspect(text: #"{"action":"echo"}"#).selection == .missingKey)
    }

    @Test func nonJSONAndMissingKeys() throws {
        let selector = try #require(RouteSelector(expression: "$request.body.action"))
        #expect(selector.inspect(text: "hello").selection == .notJSON)
        #expect(selector.inspect(text: "").selection == .notJSON)
        #expect(selector.inspect(text: #"["action"]"#).selection == .notJSON)
        #expect(selector.inspect(text: #""echo""#).selection == .notJSON)
        #expect(selector.inspect(text: #"{"data":1}"#).selection == .missingKey)
        #expect(selector.inspect(text: #"{"action":1}"#).selection == .missingKey)
        #expect(selector.inspect(text: #"{"action":true}"#).selection == .missingKey)
        #expect(selector.inspect(text: #"{"action":null}"#).selection == .missingKey)
    }

    @Test func correlationIDs() throws {
        let selector = try #require(RouteSelector(expression: "$request.body.action"))
        #expect(selector.inspect(text: #"{"action":"a","correlationId":"c-1"}"#).correlationID == #""c-1""#)
        #expect(selector.inspect(text: #"{"action":"a","correlationId":42}"#).correlationID == "42")
        #expect(selector.inspect(text: #"{"action":"a","correlationId":true}"#).correlationID == nil)
        #expect(selector.inspect(text: #"{"action":"a","meta":{"correlationId":"x"}}"#).correlationID == nil)
        #expect(selector.inspect(text: #"{"action":"a","correlationId":"q\"uote"}"#).correlationID == #""q\"uote""#)
    }

    @Test func routeResolution() {
        let route = WebSocketRouteConfig(service: "chat", path: "/x")
        let withDefault = WebSocketRoutes(routes: [
            "echo": route, "$default": route, "$connect": route, "$disconnect": route,
        ])
        #expect(withDefault.resolve(.key("echo")) == .route(routeKey: "echo"))
        #expect(withDefault.resolve(.key("unknown")) == .route(routeKey: "$default"))
        #expect(withDefault.resolve(.key("$connect")) == .route(routeKey: "$default"))
        #expect(withDefault.resolve(.key("$disconnect")) == .route(routeKey: "$default"))
        #expect(withDefault.resolve(.notJSON) == .route(routeKey: "$default"))
        #expect(withDefault.resolve(.binary) == .route(routeKey: "$default"))
        #expect(withDefault.resolve(.missingKey) == .route(routeKey: "$default"))
        let noDefault = WebSocketRoutes(routes: ["echo": route])
        #expect(noDefault.resolve(.key("echo")) == .route(routeKey: "echo"))
        #expect(noDefault.resolve(.key("nope")) == .unrouted(selectedKey: "nope"))
        #expect(noDefault.resolve(.notJSON) == .unrouted(selectedKey: nil))
        #expect(noDefault.resolve(.binary) == .unrouted(selectedKey: nil))
    }

    // MARK: envelope

    static let time = Date(timeIntervalSince1970: 1_735_732_800.123)

    @Test func messageEnvelope() throws {
        let envelope = IntegrationEnvelope(
            connectionId: "abc", routeKey: "echo", eventType: .message, messageId: "m1",
            identity: .init(Identity(subject: "alice", scopes: ["b", "a"], method: .jwt)), context: ["room": "1"],
            requestTime: Self.time, callbackUrl: "http://127.0.0.1:8084", sourceIp: "127.0.0.1",
            body: #"{"action":"echo"}"#)
        let text = String(decoding: try envelope.encoded(), as: UTF8.self)
        #expect(
            text
                == #"{"body":"{\"action\":\"echo\"}","callbackUrl":"http://127.0.0.1:8084","connectionId":"abc","#
                + #""context":{"room":"1"},"eventType":"MESSAGE","identity":{"method":"jwt","scopes":["a","b"],"#
                + #""subject":"alice"},"isBase64Encoded":false,"messageId":"m1","#
                + #""requestTime":"2025-01-01T12:00:00.123Z","requestTimeEpochMs":1735732800123,"#
                + #""routeKey":"echo","sourceIp":"127.0.0.1"}"#)
    }

    @Test func envelopeStringsSurviveEscaping() throws {
        let body = "quote \" backslash \\ slash / newline \n tab \t bell \u{07} nul \u{00} é 😀 end"
        let envelope = IntegrationEnvelope(
            connectionId: "abc", routeKey: "echo", eventType: .message, messageId: "m1", identity: nil,
            context: ["k\"ey": "v\nal", "a": "b"], requestTime: Self.time, callbackUrl: "http://h:1", body: body)
        let bytes = try envelope.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#"\u0007"#) && text.contains(#"\u0000"#) && !text.contains("\n"))
        let object = Self.json(bytes)
        #expect(object["body"] as? String == body)
        #expect(object["context"] as? [String: String] == ["k\"ey": "v\nal", "a": "b"])
        #expect(text.contains(#""context":{"a":"b","k\"ey":"v\nal"}"#))
    }

    @Test func connectAndDisconnectEnvelopes() throws {
        let connect = IntegrationEnvelope(
            connectionId: "abc", routeKey: "$connect", eventType: .connect, messageId: "r1", identity: nil,
            context: [:], requestTime: Self.time, callbackUrl: "http://h:1",
            headers: ConnectHeaders.select([
                ("Host", "h:1"), ("Authorization", "Bearer secret"), ("Cookie", "c=1"), ("User-Agent", "ua"),
                ("Sec-WebSocket-Key", "k"), ("X-API-Key", "demo-key"), ("Origin", "http://o"),
            ]),
            queryParameters: ConnectHeaders.queryParameters(
                [("token", "secret"), ("room", "7"), ("x-api-key", "k"), ("room", "8")], apiKeyHeader: "X-API-Key"))
        let object = Self.json(try connect.encoded())
        #expect(object["eventType"] as? String == "CONNECT")
        #expect(object["identity"] is NSNull)
        #expect(object["body"] == nil)
        #expect(object["disconnect"] == nil)
        #expect(object["headers"] as? [String: String] == ["host": "h:1", "user-agent": "ua", "origin": "http://o"])
        #expect(object["queryParameters"] as? [String: String] == ["room": "7"])

        let disconnect = IntegrationEnvelope(
            connectionId: "abc", routeKey: "$disconnect", eventType: .disconnect, messageId: "r2", identity: nil,
            context: ["k": "v"], requestTime: Self.time, callbackUrl: "http://h:1",
            disconnect: .init(code: 1001, reason: "going away"))
        let closed = Self.json(try disconnect.encoded())
        #expect(closed["eventType"] as? String == "DISCONNECT")
        let details = closed["disconnect"] as? [String: Any]
        #expect(details?["code"] as? Int == 1001)
        #expect(details?["reason"] as? String == "going away")
        #expect(closed["headers"] == nil)
        #expect(closed["context"] as? [String: String] == ["k": "v"])
    }

    @Test func requestTimesAgree() {
        #expect(IntegrationEnvelope.iso8601(epochMilliseconds: 1_735_732_800_005) == "2025-01-01T12:00:00.005Z")
        #expect(IntegrationEnvelope.iso8601(epochMilliseconds: 0) == "1970-01-01T00:00:00.000Z")
        let now = Date()
        let text = IntegrationEnvelope.iso8601(now)
        #expect(text.hasSuffix(String(format: "%03dZ", Int(IntegrationEnvelope.epochMilliseconds(now) % 1000))))
    }

    @Test func binaryEnvelopeIsBase64() throws {
        let envelope = IntegrationEnvelope(
            connectionId: "abc", routeKey: "$default", eventType: .message, messageId: "m", identity: nil, context: [:],
            requestTime: Self.time, callbackUrl: "http://h:1", body: Data([0, 1, 2]).base64EncodedString(),
            isBase64Encoded: true)
        let object = Self.json(try envelope.encoded())
        #expect(object["body"] as? String == "AAEC")
        #expect(object["isBase64Encoded"] as? Bool == true)
    }

    // MARK: replies and errors

    @Test func repliesWithoutCorrelation() {
        #expect(ClientMessages.reply(body: Array(#"{"a":1}"#.utf8), correlationID: nil) == .text(#"{"a":1}"#))
        #expect(ClientMessages.reply(body: Array("plain".utf8), correlationID: nil) == .text("plain"))
        #expect(ClientMessages.reply(body: [], correlationID: nil) == nil)
        #expect(ClientMessages.reply(body: [0xFF, 0xFE], correlationID: nil) == .binary([0xFF, 0xFE]))
    }

    @Test func repliesWithCorrelation() {
        #expect(
            ClientMessages.reply(body: Array(#" {"a":1} "#.utf8), correlationID: #""c""#)
                == .text(#"{"correlationId":"c","data":{"a":1}}"#))
        #expect(
            ClientMessages.reply(body: Array("plain".utf8), correlationID: "7")
                == .text(#"{"correlationId":7,"data":"plain"}"#))
        #expect(ClientMessages.reply(body: [], correlationID: "7") == .text(#"{"correlationId":7,"data":null}"#))
        #expect(
            ClientMessages.reply(body: [0xFF], correlationID: "7")
                == .text(#"{"correlationId":7,"data":"/w==","isBase64Encoded":true}"#))
    }

    @Test func errorMessages() {
        let timeout = ClientMessages.error(
            GatewayError(.upstreamTimeout, "no answer in 5s"), routeKey: "echo", messageID: "m1", correlationID: #""c""#
        )
        #expect(
            timeout
                == .text(
                    #"{"type":"error","code":"upstream_timeout","message":"no answer in 5s","routeKey":"echo","#
                        + #""messageId":"m1","correlationId":"c"}"#))
        let rejected = ClientMessages.error(
            GatewayError(.badRequest, "bad"), routeKey: nil, messageID: nil, correlationID: nil, integrationStatus: 400)
        #expect(
            rejected == .text(#"{"type":"error","code":"bad_request","message":"bad","routeKey":null,"status":400}"#))
    }

    @Test func integrationRejections() {
        let fromJSON = IntegrationCaller.rejection(
            status: 400, body: Array(#"{"error":"body must have a message"}"#.utf8))
        #expect(fromJSON.code == .badRequest)
        #expect(fromJSON.message == "body must have a message")
        #expect(IntegrationCaller.rejection(status: 403, body: []).code == .permissionDenied)
        #expect(IntegrationCaller.rejection(status: 409, body: []).code == .badRequest)
        #expect(
            IntegrationCaller.rejection(status: 500, body: Array("oops".utf8)).message
                == "the integration answered HTTP 500")
        #expect(IntegrationCaller.rejection(status: 500, body: []).code == .upstreamError)
        #expect(IntegrationCaller.rejection(status: 503, body: []).code == .unavailable)
    }

    // MARK: $connect answers

    @Test func connectAnswers() {
        let answer = ConnectAnswer(
            body: Array(#"{"context":{"room":"lobby","n":3,"ok":true,"skip":{"x":1}},"subprotocol":"chat.v1"}"#.utf8))
        #expect(answer.context == ["room": "lobby", "n": "3", "ok": "true"])
        #expect(answer.subprotocol == "chat.v1")
        #expect(ConnectAnswer(body: Array("not json".utf8)) == ConnectAnswer(body: []))
        #expect(ConnectAnswer(body: Array(#"{"context":"flat"}"#.utf8)).context.isEmpty)
    }

    // MARK: message reassembly

    @Test func reassemblesFragments() {
        var assembler = MessageAssembler(maxSize: 10)
        #expect(assembler.append(kind: .text, fin: false, data: ByteBuffer(string: "hel")) == .incomplete)
        #expect(assembler.append(kind: nil, fin: true, data: ByteBuffer(string: "lo")) == .text("hello"))
        #expect(
            assembler.append(kind: .binary, fin: true, data: ByteBuffer(bytes: [1, 2]))
                == .binary(ByteBuffer(bytes: [1, 2])))
    }

    @Test func limitsAndProtocolErrors() {
        var assembler = MessageAssembler(maxSize: 4)
        #expect(assembler.append(kind: .text, fin: true, data: ByteBuffer(string: "12345")) == .tooLarge)
        #expect(assembler.append(kind: .text, fin: false, data: ByteBuffer(string: "123")) == .incomplete)
        #expect(assembler.append(kind: nil, fin: true, data: ByteBuffer(string: "45")) == .tooLarge)
        #expect(assembler.append(kind: nil, fin: true, data: ByteBuffer(string: "x")) == .protocolError)
        #expect(assembler.append(kind: .text, fin: false, data: ByteBuffer(string: "a")) == .incomplete)
        #expect(assembler.append(kind: .text, fin: true, data: ByteBuffer(string: "b")) == .protocolError)
        #expect(assembler.append(kind: .text, fin: true, data: ByteBuffer(bytes: [0xC3])) == .invalidUTF8)
        #expect(assembler.append(kind: .text, fin: true, data: ByteBuffer(string: "ok")) == .text("ok"))
    }

    // MARK: connections

    @Test func connectionIDsAreURLSafeAndUnique() {
        let registry = ConnectionRegistry()
        var seen = Set<String>()
        for _ in 0..<2000 {
            let id = registry.makeConnectionID()
            #expect(id.count == 22)
            #expect(
                id.utf8.allSatisfy {
                    $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (48...57).contains($0)
                        || (65...90).contains($0) || (97...122).contains($0)
                })
            seen.insert(id)
        }
        #expect(seen.count == 2000)
    }

    static func accepted(_ id: String = "c1") -> AcceptedHandshake {
        AcceptedHandshake(
            connectionID: id, identity: nil, context: [:], requestID: "r", trace: nil, clientAddress: "127.0.0.1",
            host: nil, path: "/ws", subprotocol: nil, connectedAt: Date())
    }

    /// A connection as the gateway makes it, on a connected `EmbeddedChannel` (use it from the test's own
    /// thread: the embedded loop runs only in `written`).
    static func connection(
        _ id: String = "c1", accepted: AcceptedHandshake? = nil, maxQueuedBytes: Int = .max,
        rate: WebSocketMessageRateConfig? = nil
    ) -> ClientConnection {
        let channel = EmbeddedChannel()
        _ = channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 1))
        return ClientConnection(
            accepted: accepted ?? Self.accepted(id), channel: channel, maxQueuedBytes: maxQueuedBytes, rate: rate)
    }

    /// The text messages `connection` has written to its socket so far (runs its event loop first).
    static func written(_ connection: ClientConnection) -> [String] {
        guard let channel = connection.channel as? EmbeddedChannel else { return [] }
        channel.embeddedEventLoop.run()
        var texts: [String] = []
        var message = ""
        while let frame = try? channel.readOutbound(as: WebSocketFrame.self) {
            guard frame.opcode == .text || frame.opcode == .continuation else { continue }
            message += String(buffer: frame.unmaskedData)
            if frame.fin {
                texts.append(message)
                message = ""
            }
        }
        return texts
    }

    @Test func messagesAreWrittenInOrderAndAfterACloseNothingIs() {
        let connection = Self.connection()
        #expect(connection.send(.text("1")) == .queued)
        #expect(connection.send(.text("2")) == .queued)
        #expect(Self.written(connection) == ["1", "2"])
        #expect(connection.queuedBytes == 0)
        // Handed to the loop, then a close without draining: dropped there, and its bytes given back.
        #expect(connection.send(.text("3")) == .queued)
        connection.close(code: 1008, reason: "slow consumer", drain: false)
        #expect(connection.send(.text("4")) == .closed)
        #expect(Self.written(connection).isEmpty)
        #expect(connection.queuedBytes == 0)
    }

    @Test func firstCloseRequestWins() {
        let connection = Self.connection()
        connection.close(code: 4000, reason: "first", drain: true)
        connection.close(code: 1001, reason: "second", drain: false)
        #expect(connection.closeRequest == .init(code: 4000, reason: "first", drain: true))
        #expect(connection.send(.text("late")) == .closed)
    }

    @Test func closeOutcomes() {
        typealias R = WebSocketRuntime
        let client = ObservedClose(code: 4001, reason: "bye", initiator: .client)
        #expect(R.closeOutcome(observed: client, requested: nil) == client)
        let requested = ClientConnection.CloseRequest(code: 1001, reason: "idle timeout", drain: true)
        #expect(
            R.closeOutcome(observed: nil, requested: requested)
                == .init(code: 1001, reason: "idle timeout", initiator: .gateway))
        #expect(R.closeOutcome(observed: nil, requested: nil) == .abnormal)
        let echoedReply = ObservedClose(code: 1000, reason: "", initiator: .gateway)
        #expect(
            R.closeOutcome(observed: echoedReply, requested: nil) == .init(code: 1005, reason: "", initiator: .client))
        #expect(R.closeOutcome(observed: echoedReply, requested: requested) == echoedReply)
        #expect(CloseRecord.parse(ByteBuffer(bytes: [0x0F, 0xA1] + Array("bye".utf8)), initiator: .client) == client)
        #expect(CloseRecord.parse(ByteBuffer(), initiator: .client).code == 1005)
    }

    @Test func managementCloseCodes() {
        for code: UInt16 in [1000, 1001, 1003, 1008, 1011, 3000, 4999] {
            #expect(ManagementAPI.isSendableCloseCode(code))
        }
        for code: UInt16 in [999, 1004, 1005, 1006, 1012, 1015, 2000, 5000] {
            #expect(!ManagementAPI.isSendableCloseCode(code))
        }
    }

    @Test func callbackAddresses() {
        let loopback = CallbackAddress(listen: ListenAddress(host: "127.0.0.1", port: 0))
        loopback.bound(port: 8084)
        #expect(loopback.url == "http://127.0.0.1:8084")
        #expect(CallbackAddress(listen: ListenAddress(host: "0.0.0.0", port: 9)).url == "http://127.0.0.1:9")
        #expect(CallbackAddress(listen: ListenAddress(host: "::1", port: 9)).url == "http://[::1]:9")
    }
}
