// The Swift client SDK (PorticoWebSocketClient) against a real websocket-gateway: an action awaited by
// its reply, errors as thrown errors, a typed channel subscription, and a reconnect after the gateway
// closed the connection, with the publication made meanwhile recovered exactly once and in order.
import Foundation
import PorticoWebSocketClient
import Synchronization
import Testing

@Suite("WebSocket client SDK", .serialized)
struct WebSocketClientSDKTests {
    struct Echo: Codable, Sendable, Equatable {
        var action: String?
        var data: String
    }

    struct Note: Codable, Sendable, Equatable {
        var n: Int
    }

    final class EventLog: Sendable {
        let events = Mutex<[PorticoWebSocketClient.Event]>([])

        /// Waits until `count` events matching `predicate` have been seen (10 s at most).
        func wait(count: Int = 1, _ predicate: @escaping (PorticoWebSocketClient.Event) -> Bool) async throws -> Bool {
            try await WebSocketGatewayTests.eventually { self.events.withLock { $0.filter(predicate).count >= count } }
        }

        func contains(_ event: PorticoWebSocketClient.Event) -> Bool { events.withLock { $0.contains(event) } }
    }

    @Test func actionsSubscriptionsAndRecoveryAfterAReconnect() async throws {
        try await WebSocketGatewayTests.withGateway(
            edit: WebSocketChannelsTests.channels
        ) { gateway, demo in
            let client = PorticoWebSocketClient(
                .init(url: "ws://127.0.0.1:\(gateway.port)/ws", initialBackoff: .milliseconds(50)))
            let seen = EventLog()
            let running = Task { await client.run() }
            let watching = Task { for await event in client.events { seen.events.withLock { $0.append(event) } } }
            defer {
                running.cancel()
                watching.cancel()
            }
            #expect(try await seen.wait { $0 == .connected })

            let reply = try await client.send(action: "echo", Echo(action: nil, data: "hello"), as: Echo.self)
            #expect(reply == Echo(action: "echo", data: "hello"))
            await #expect(throws: PorticoWebSocketError.self) {
                _ = try await client.publish(Note(n: 1), to: "news")  // Only services publish to news.
            }

            let notes = try await client.subscribe("room:sdk", as: Note.self)
            var iterator = notes.makeAsyncIterator()
            _ = try await WebSocketChannelsTests.publish(gateway, "room:sdk", #"{"n":1}"#)
            #expect(try await iterator.next()?.data == Note(n: 1))
            #expect(try await client.publish(Note(n: 2), to: "room:sdk") == 2)
            #expect(try await iterator.next()?.data == Note(n: 2))

            // The gateway closes the connection; a publication happens while the client is away.
            let id = try #require(try await WebSocketGatewayTests.chatConnections(demo).first)
            let closed = try await WebSocketGatewayTests.http(
                "\(gateway.baseURL)/@connections/\(id)?code=4000&reason=test", method: .DELETE,
                headers: WebSocketGatewayTests.apiKey)
            #expect(closed.status == 204)
            #expect(try await seen.wait { $0 == .disconnected(code: 4000) })
            _ = try await WebSocketChannelsTests.publish(gateway, "room:sdk", #"{"n":3}"#)
            #expect(try await seen.wait(count: 2) { $0 == .connected })
            _ = try await WebSocketChannelsTests.publish(gateway, "room:sdk", #"{"n":4}"#)
            let after = [try await iterator.next(), try await iterator.next()]
            #expect(after.map { $0?.data.n } == [3, 4])
            #expect(after.map { $0?.offset } == [3, 4])
            #expect(!seen.contains(.recoveryImpossible(channel: "room:sdk")))
        }
    }
}
