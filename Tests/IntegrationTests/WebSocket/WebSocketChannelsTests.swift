// Channels as clients and services see them, with real processes: subscribing, publishing from a
// client and from a service, presence with join and leave events, recovery after a reconnect (and
// "impossible" from another epoch), backend-only subscriptions, and the policy errors.
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import Synchronization
import Testing

@Suite("WebSocket channels", .serialized)
struct WebSocketChannelsTests {
    /// The demo config's channels (room:*) plus a service-only one and a backend-subscribed one.
    static func channels(_ yaml: String) -> String {
        yaml.replacingOccurrences(
            of: "      \"room:*\": { subscribe: client, publish: client, presence: true, historySize: 100 }\n",
            with: "      \"room:*\": { subscribe: client, publish: client, presence: true, historySize: 100 }\n"
                + "      news: {}\n      \"vip:*\": { subscribe: backend }\n")
    }

    typealias Messages = WebSocketInboundMessageStream.AsyncIterator

    /// The next text message as JSON.
    static func next(_ messages: inout Messages) async throws -> [String: Any] {
        WebSocketGatewayTests.json(WebSocketGatewayTests.text(try await messages.next()) ?? "")
    }

    static func publish(_ gateway: GatewayProcess, _ channel: String, _ body: String) async throws -> [String: Any] {
        let response = try await WebSocketGatewayTests.http(
            "\(gateway.baseURL)/channels/\(channel)/messages", method: .POST, headers: WebSocketGatewayTests.apiKey,
            body: body)
        #expect(response.status == 200)
        return WebSocketGatewayTests.json(response.body)
    }

    @Test func subscribePublishPresenceAndRecovery() async throws {
        try await WebSocketGatewayTests.withGateway(edit: Self.channels) {
            gateway, _ in
            let url = "ws://127.0.0.1:\(gateway.port)/ws"
            let alice = try await TestWebSocketClient.open(url)
            alice.send(#"{"action":"$subscribe","channel":"room:1","correlationId":1}"#)
            let subscribed = try await alice.next()
            #expect(subscribed["type"] as? String == "subscribed")
            #expect(subscribed["recovery"] as? String == "none")
            #expect(subscribed["offset"] as? Int == 0)
            #expect(subscribed["correlationId"] as? Int == 1)
            let epoch = try #require(subscribed["epoch"] as? String)

            let bob = try await TestWebSocketClient.open(url)
            bob.send(#"{"action":"$subscribe","channel":"room:1"}"#)
            #expect(try await bob.next()["type"] as? String == "subscribed")
            let join = try await alice.next()
            #expect(join["type"] as? String == "join")
            let bobID = try #require(join["connectionId"] as? String)

            // A client publishes: every subscriber gets it, the sender also an acknowledgement.
            bob.send(#"{"action":"$publish","channel":"room:1","data":{"text":"hi"}}"#)
            let toAlice = try await alice.next()
            #expect(toAlice["type"] as? String == "publication")
            #expect(toAlice["offset"] as? Int == 1)
            #expect((toAlice["data"] as? [String: Any])?["text"] as? String == "hi")
            let bobSaw = [try await bob.next(), try await bob.next()].compactMap { $0["type"] as? String }.sorted()
            #expect(bobSaw == ["publication", "published"])

            // A service publishes through the management API.
            let published = try await Self.publish(gateway, "room:1", #"{"text":"from the service"}"#)
            #expect(published["offset"] as? Int == 2)
            #expect(published["epoch"] as? String == epoch)
            #expect((try await alice.next()["data"] as? [String: Any])?["text"] as? String == "from the service")
            #expect(try await bob.next()["offset"] as? Int == 2)

            // Presence, and the connection's subscriptions as services see them.
            alice.send(#"{"action":"$presence","channel":"room:1"}"#)
            #expect((try await alice.next()["members"] as? [[String: Any]])?.count == 2)
            let described = try await WebSocketGatewayTests.http(
                "\(gateway.baseURL)/@connections/\(bobID)", headers: WebSocketGatewayTests.apiKey)
            #expect(WebSocketGatewayTests.json(described.body)["subscriptions"] as? [String] == ["room:1"])

            // Bob goes: Alice sees him leave.
            await bob.close()
            #expect(try await alice.next()["type"] as? String == "leave")

            // While Bob is away, two more publications (kept in the history).
            _ = try await Self.publish(gateway, "room:1", #"{"n":3}"#)
            _ = try await Self.publish(gateway, "room:1", "plain text")
            let back = try await TestWebSocketClient.open(url)
            back.send(#"{"action":"$subscribe","channel":"room:1","since":{"offset":2,"epoch":"\#(epoch)"}}"#)
            let recovered = try await back.next()
            #expect(recovered["recovery"] as? String == "recovered")
            let publications = recovered["publications"] as? [[String: Any]] ?? []
            #expect(publications.map { $0["offset"] as? Int } == [3, 4])
            #expect(publications.last?["data"] as? String == "plain text")
            back.send(#"{"action":"$subscribe","channel":"room:1","since":{"offset":1,"epoch":"not-this-one"}}"#)
            #expect(try await back.next()["recovery"] as? String == "impossible")
            await back.close()
            await alice.close()

            let metrics = try await WebSocketGatewayTests.http("\(gateway.adminURL)/metrics")
            #expect(metrics.body.contains(#"outcome="recovered""#))
            #expect(metrics.body.contains(#"outcome="impossible""#))
        }
    }

    @Test func policiesDecideWhoSubscribesAndPublishes() async throws {
        try await WebSocketGatewayTests.withGateway(edit: Self.channels) {
            gateway, demo in
            try await WebSocketGatewayTests.connect("ws://127.0.0.1:\(gateway.port)/ws") { client, out in
                for (operation, code) in [
                    (#"{"action":"$publish","channel":"news","data":1}"#, "permission_denied"),
                    (#"{"action":"$subscribe","channel":"vip:1"}"#, "permission_denied"),
                    (#"{"action":"$subscribe","channel":"nope"}"#, "not_found"),
                    (#"{"action":"$subscribe","channel":"bad/name"}"#, "bad_request"),
                    (#"{"action":"$presence","channel":"news"}"#, "bad_request"),
                ] {
                    try await out.write(.text(operation))
                    let error = try await Self.next(&client)
                    #expect(error["type"] as? String == "error", "\(operation)")
                    #expect(error["code"] as? String == code, "\(operation)")
                }
                // A service subscribes the connection to a backend-only channel, then publishes to it.
                let id = try #require(try await WebSocketGatewayTests.chatConnections(demo).first)
                let subscribe = try await WebSocketGatewayTests.http(
                    "\(gateway.baseURL)/@connections/\(id)/channels/vip:1", method: .POST,
                    headers: WebSocketGatewayTests.apiKey)
                #expect(subscribe.status == 204)
                #expect(try await Self.next(&client)["type"] as? String == "subscribed")
                _ = try await Self.publish(gateway, "vip:1", #"{"offer":42}"#)
                #expect((try await Self.next(&client)["data"] as? [String: Any])?["offer"] as? Int == 42)
                let unsubscribe = try await WebSocketGatewayTests.http(
                    "\(gateway.baseURL)/@connections/\(id)/channels/vip:1", method: .DELETE,
                    headers: WebSocketGatewayTests.apiKey)
                #expect(unsubscribe.status == 204)
                #expect(try await Self.next(&client)["type"] as? String == "unsubscribed")
            }
            let anonymous = try await WebSocketGatewayTests.http(
                "\(gateway.baseURL)/channels/news/messages", method: .POST, body: "x")
            #expect(anonymous.status == 401)
            let unknown = try await WebSocketGatewayTests.http(
                "\(gateway.baseURL)/channels/nope/messages", method: .POST, headers: WebSocketGatewayTests.apiKey,
                body: "x")
            #expect(unknown.status == 404)
            // A body no client message could carry (over maxMessageSize, 64 KiB here): 413, not 500.
            let huge = String(repeating: "x", count: 70_000)
            let tooBig = try await WebSocketGatewayTests.http(
                "\(gateway.baseURL)/channels/news/messages", method: .POST, headers: WebSocketGatewayTests.apiKey,
                body: huge)
            #expect(tooBig.status == 413)
            #expect(WebSocketGatewayTests.json(tooBig.body)["code"] as? String == "payload_too_large")
            let pushTooBig = try await WebSocketGatewayTests.http(
                "\(gateway.baseURL)/@connections/AAAAAAAAAAAAAAAAAAAAAA", method: .POST,
                headers: WebSocketGatewayTests.apiKey, body: huge)
            #expect(pushTooBig.status == 413)
            // An unknown connection is gone here as on /@connections/{id}.
            let noSuchConnection = try await WebSocketGatewayTests.http(
                "\(gateway.baseURL)/@connections/AAAAAAAAAAAAAAAAAAAAAA/channels/vip:1", method: .POST,
                headers: WebSocketGatewayTests.apiKey)
            #expect(noSuchConnection.status == 410)
            #expect(WebSocketGatewayTests.json(noSuchConnection.body)["code"] as? String == "gone")
            // Each endpoint is counted under its own route, errors included.
            let metrics = try await WebSocketGatewayTests.http("\(gateway.adminURL)/metrics").body
            for line in [
                #"route="channels",status="401""#, #"route="channels-publish",status="404""#,
                #"route="channels-publish",status="413""#, #"route="connections-channel-subscribe",status="410""#,
                #"route="connections-channel-subscribe",status="204""#,
            ] {
                #expect(metrics.contains(line), "\(line)")
            }
        }
    }
}

/// A WebSocket client for tests that talk to several connections at once: sends without waiting, and
/// hands out received text messages in order (waiting up to 10 s for one).
final class TestWebSocketClient: Sendable {
    private let writes: AsyncStream<String>.Continuation
    private let received = Mutex<[String]>([])
    private let task = Mutex<Task<Void, any Error>?>(nil)

    private init(writes: AsyncStream<String>.Continuation) { self.writes = writes }

    static func open(_ url: String, headers: HTTPFields = [:]) async throws -> TestWebSocketClient {
        let (outgoing, writes) = AsyncStream<String>.makeStream()
        let client = TestWebSocketClient(writes: writes)
        let connected = AsyncStream<Void>.makeStream()
        let task = Task {
            try await WebSocketClient.connect(
                url: url, configuration: .init(additionalHeaders: headers), logger: Logger(label: "ws-test")
            ) { inbound, outbound, _ in
                connected.continuation.yield()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            if case .text(let text) = message { client.received.withLock { $0.append(text) } }
                        }
                    }
                    group.addTask {
                        for await text in outgoing { try await outbound.write(.text(text)) }
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
            connected.continuation.finish()
        }
        client.task.withLock { $0 = task }
        var iterator = connected.stream.makeAsyncIterator()
        guard await iterator.next() != nil else {
            _ = try await task.value
            throw HarnessError(description: "websocket client did not connect")
        }
        return client
    }

    func send(_ text: String) { writes.yield(text) }

    /// The next text message as JSON.
    func next() async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let text = received.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                return WebSocketGatewayTests.json(text)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw HarnessError(description: "no message within 10 s")
    }

    /// Closes with 1000 and waits for the connection to end.
    func close() async {
        writes.finish()
        _ = try? await task.withLock { $0 }?.value
    }
}
