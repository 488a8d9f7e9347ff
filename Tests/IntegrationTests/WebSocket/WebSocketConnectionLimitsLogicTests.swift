// Unit tests of the per-connection limits: the byte-bounded outbound, the message-rate bucket,
// and the sweeper's idle, lifetime and close timeouts.
import Foundation
import GatewayCore
import HTTPTypes
import HummingbirdWebSocket
import Testing

@testable import WebSocketGateway

@Suite("WebSocket connection limits")
struct WebSocketConnectionLimitsLogicTests {
    @Test func outboundIsBoundedInBytes() {
        let connection = WebSocketLogicTests.connection(maxQueuedBytes: 10)
        #expect(connection.send(.text("12345")) == .queued)
        #expect(connection.send(.binary([1, 2, 3, 4, 5])) == .queued)
        #expect(connection.queuedBytes == 10)
        #expect(connection.send(.text("x")) == .overflow)
        #expect(connection.closeRequest == .init(code: 1008, reason: "slow consumer", drain: false))

        // Written messages free their bytes; one message larger than the bound passes an empty queue.
        let other = WebSocketLogicTests.connection("c2", maxQueuedBytes: 10)
        #expect(other.send(.text("0123456789")) == .queued)
        #expect(WebSocketLogicTests.written(other) == ["0123456789"])
        #expect(other.queuedBytes == 0)
        #expect(other.send(.text(String(repeating: "y", count: 50))) == .queued)
        #expect(other.send(.text("z")) == .overflow)
    }

    @Test func messageRateIsATokenBucket() {
        let connection = WebSocketLogicTests.connection(
            rate: WebSocketMessageRateConfig(messages: 2, per: .seconds(1), burst: 3))
        let start = ContinuousClock.now
        #expect(connection.takeMessageToken(now: start))
        #expect(connection.takeMessageToken(now: start))
        #expect(connection.takeMessageToken(now: start))
        #expect(!connection.takeMessageToken(now: start))
        #expect(connection.takeMessageToken(now: start + .milliseconds(500)))  // 2/s: one token back
        #expect(!connection.takeMessageToken(now: start + .milliseconds(500)))
        #expect(connection.takeMessageToken(now: start + .seconds(60)))  // Saved up, to the burst at most.
        #expect(connection.takeMessageToken(now: start + .seconds(60)))
        #expect(connection.takeMessageToken(now: start + .seconds(60)))
        #expect(!connection.takeMessageToken(now: start + .seconds(60)))
        // Without a configured rate every message passes.
        let unlimited = WebSocketLogicTests.connection("c2")
        #expect((0..<1000).allSatisfy { _ in unlimited.takeMessageToken() })
    }

    @Test func sweeperClosesIdleAndOldConnections() {
        var config = WebSocketGatewayConfig()
        config.idleTimeout = .seconds(10)
        config.maxConnectionDuration = .seconds(60)
        let registry = ConnectionRegistry()
        let sweeper = ConnectionSweeper(
            registry: registry, config: config, closeTimeout: .seconds(5), interval: .seconds(1))
        let connection = WebSocketLogicTests.connection()
        #expect(registry.add(connection))
        sweeper.sweep(now: connection.openedAt + .seconds(5))
        #expect(connection.closeRequest == nil)
        sweeper.sweep(now: connection.lastActiveInstant + .seconds(11))
        #expect(connection.closeRequest == .init(code: 1001, reason: "idle timeout", drain: true))

        let busy = WebSocketLogicTests.connection("c2")
        #expect(registry.add(busy))
        busy.receivedMessage()
        sweeper.sweep(now: busy.openedAt + .seconds(61))
        #expect(busy.closeRequest == .init(code: 1001, reason: "maximum connection duration reached", drain: true))
    }

    @Test func registryCountsConnectionsPerSubject() {
        let registry = ConnectionRegistry()
        var accepted = WebSocketLogicTests.accepted("a")
        accepted.identity = Identity(subject: "alice", scopes: [], method: .apiKey)
        var second = accepted
        second.connectionID = "b"
        #expect(registry.add(WebSocketLogicTests.connection(accepted: accepted)))
        #expect(registry.add(WebSocketLogicTests.connection(accepted: second)))
        #expect(registry.count(subject: "alice") == 2)
        registry.remove("a")
        #expect(registry.count(subject: "alice") == 1)
        registry.remove("b")
        registry.remove("b")
        #expect(registry.count(subject: "alice") == 0)
    }
}
