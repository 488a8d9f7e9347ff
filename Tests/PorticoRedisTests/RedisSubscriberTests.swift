// RedisSubscriberTests.swift — RedisSubscriber pub/sub and reconnection against a real redis-server.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
import NIOCore
import Testing

@testable import PorticoRedis

@Suite("RedisSubscriber", .timeLimit(.minutes(1)))
struct RedisSubscriberTests {
    @Test func receivesPublishedMessages() async throws {
        try await withRedisServer { server in
            let subscriber = try await RedisSubscriber.connect(to: server.url, timeout: testConnectTimeout)
            let inbox = Collector(subscriber.messages)
            let publisher = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)

            try await subscriber.subscribe(channels: ["news", "sport"])
            try await subscriber.psubscribe(patterns: ["events.*"])
            #expect(subscriber.subscriptions.channels == ["news", "sport"])

            #expect(try await publisher.publish(channel: "news", message: "hello") == 1)
            #expect(try await publisher.publish(channel: "events.login", message: [UInt8]([0, 1, 2])) == 1)
            #expect(try await publisher.publish(channel: "other", message: "ignored") == 0)

            let news = try await inbox.first(within: 20, "news message") { $0.channel == "news" }
            #expect(news.string == "hello")
            #expect(news.pattern == nil)
            let event = try await inbox.first(within: 20, "pattern message") { $0.channel == "events.login" }
            #expect(event.pattern == "events.*")
            #expect(Array(event.payload.readableBytesView) == [0, 1, 2])

            // Many messages arrive in order.
            for i in 0..<200 { try await publisher.publish(channel: "sport", message: "m\(i)") }
            try await waitUntil(20, "200 sport messages") { inbox.all.filter { $0.channel == "sport" }.count == 200 }
            #expect(inbox.all.filter { $0.channel == "sport" }.map(\.string) == (0..<200).map { "m\($0)" })

            try await subscriber.unsubscribe(channels: ["news"])
            try await subscriber.punsubscribe()
            #expect(try await publisher.publish(channel: "news", message: "gone") == 0)
            #expect(try await publisher.publish(channel: "events.x", message: "gone") == 0)
            #expect(try await publisher.publish(channel: "sport", message: "still") == 1)
            _ = try await inbox.first(within: 20, "message after unsubscribe") { $0.string == "still" }

            await subscriber.close()
            try await inbox.waitForEnd(within: 20)
            await #expect(throws: RedisClientError.subscriberClosed) { try await subscriber.subscribe(channels: ["x"]) }
            await publisher.close()
        }
    }

    @Test func subscriberUsesPassword() async throws {
        try await withRedisServer(password: "pw") { server in
            let subscriber = try await RedisSubscriber.connect(to: server.url, timeout: testConnectTimeout)
            let inbox = Collector(subscriber.messages)
            try await subscriber.subscribe(channels: ["c"])
            let publisher = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            #expect(try await publisher.publish(channel: "c", message: "authed") == 1)
            _ = try await inbox.first(within: 20, "authed message") { $0.string == "authed" }
            await subscriber.close()
            await publisher.close()

            var wrong = server.url
            wrong.password = "nope"
            await #expect(throws: RedisClientError.self) {
                _ = try await RedisSubscriber.connect(to: wrong, timeout: testConnectTimeout)
            }
        }
    }

    @Test func reconnectsAndResubscribesAfterServerRestart() async throws {
        try await withRedisServer { server in
            let subscriber = try await RedisSubscriber.connect(to: server.url, timeout: testConnectTimeout)
            let inbox = Collector(subscriber.messages)
            let events = Collector(subscriber.events)
            try await subscriber.subscribe(channels: ["jobs"])
            try await subscriber.psubscribe(patterns: ["audit.*"])

            var publisher = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            #expect(try await publisher.publish(channel: "jobs", message: "before") == 1)
            _ = try await inbox.first(within: 20, "message before restart") { $0.string == "before" }
            await publisher.close()

            // Kill the server outright, leave it down long enough for a few failed attempts.
            server.stop()
            _ = try await events.first(within: 20, "disconnected event") { $0 == .disconnected }
            _ = try await events.first(within: 20, "a failed reconnect attempt") {
                if case .reconnectFailed = $0 { return true }
                return false
            }
            #expect(!subscriber.isConnected)
            // Subscribing while down is remembered and applied on reconnection.
            try await subscriber.subscribe(channels: ["late"])

            try await server.restart()
            _ = try await events.first(within: 30, "reconnected event") {
                if case .reconnected = $0 { return true }
                return false
            }
            #expect(subscriber.isConnected)

            publisher = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            #expect(try await publisher.publish(channel: "jobs", message: "after") == 1)
            #expect(try await publisher.publish(channel: "audit.login", message: "pattern after") == 1)
            #expect(try await publisher.publish(channel: "late", message: "late after") == 1)
            _ = try await inbox.first(within: 20, "message after restart") { $0.string == "after" }
            _ = try await inbox.first(within: 20, "pattern message after restart") { $0.string == "pattern after" }
            _ = try await inbox.first(within: 20, "late subscription after restart") { $0.string == "late after" }

            await subscriber.close()
            try await events.waitForEnd(within: 20)
            await publisher.close()
        }
    }

    @Test func closeWhileReconnectingStopsCleanly() async throws {
        try await withRedisServer { server in
            let subscriber = try await RedisSubscriber.connect(
                to: server.url, timeout: testConnectTimeout,
                reconnectPolicy: RedisReconnectPolicy(initialDelay: .milliseconds(20), maxDelay: .milliseconds(200)))
            let events = Collector(subscriber.events)
            try await subscriber.subscribe(channels: ["x"])
            server.stop()
            _ = try await events.first(within: 20, "disconnected event") { $0 == .disconnected }
            try await withTimeout(20, "close while reconnecting") { await subscriber.close() }
            try await events.waitForEnd(within: 20)
        }
    }
}
