// RedisSubscriber.swift — a self-healing pub/sub connection: SUBSCRIBE/PSUBSCRIBE, a message stream,
// reconnection with capped exponential backoff and re-subscription.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix

/// One pub/sub message.
public struct RedisPubSubMessage: Sendable, Hashable {
    /// The channel it was published on.
    public var channel: String
    /// The pattern that matched, for messages received through `psubscribe`.
    public var pattern: String?
    /// The published bytes.
    public var payload: ByteBuffer

    public init(channel: String, pattern: String? = nil, payload: ByteBuffer) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }

    /// The payload decoded as UTF-8.
    public var string: String { String(buffer: payload) }
}

/// Connection life-cycle events of a `RedisSubscriber`.
public enum RedisSubscriberEvent: Sendable, Hashable {
    /// The connection dropped; messages published from now on until `.reconnected` are lost.
    case disconnected
    /// A reconnection attempt failed; another follows after the backoff delay.
    case reconnectFailed(attempt: Int, reason: String)
    /// Connected again and re-subscribed to every channel and pattern: resync from here.
    case reconnected(attempts: Int)
}

/// How long to wait between reconnection attempts: `initialDelay`, doubling up to `maxDelay`.
public struct RedisReconnectPolicy: Sendable, Hashable {
    public var initialDelay: Duration
    public var maxDelay: Duration

    public init(initialDelay: Duration = .milliseconds(50), maxDelay: Duration = .seconds(2)) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }
}

/// A dedicated connection in subscribe mode that survives server restarts.
///
/// Messages arrive on `messages` and life-cycle changes on `events` (each a single-consumer
/// stream). When the connection drops the subscriber reconnects in the background and
/// re-subscribes to everything it had, then yields `.reconnected`. Call `close()` when done:
/// until then a background task keeps the subscriber alive.
public final class RedisSubscriber: Sendable {
    public let messages: AsyncStream<RedisPubSubMessage>
    public let events: AsyncStream<RedisSubscriberEvent>

    /// How many times the connection has dropped so far; counted before `.disconnected` is yielded, so
    /// whoever handles `.reconnected` can tell whether it dropped again meanwhile.
    public var disconnections: Int { state.withLockedValue { $0.disconnections } }

    private struct State: Sendable {
        var channels: Set<String> = []
        var patterns: Set<String> = []
        var connection: RedisConnection?
        var supervisor: Task<Void, Never>?
        var closed = false
        var disconnections = 0
    }

    private let url: RedisURL
    private let group: any EventLoopGroup
    private let timeout: Duration
    private let policy: RedisReconnectPolicy
    private let state = NIOLockedValueBox(State())
    private let messageSink: AsyncStream<RedisPubSubMessage>.Continuation
    private let eventSink: AsyncStream<RedisSubscriberEvent>.Continuation

    private init(
        url: RedisURL, group: any EventLoopGroup, timeout: Duration, policy: RedisReconnectPolicy,
        bufferingPolicy: AsyncStream<RedisPubSubMessage>.Continuation.BufferingPolicy
    ) {
        self.url = url
        self.group = group
        self.timeout = timeout
        self.policy = policy
        (self.messages, self.messageSink) = AsyncStream.makeStream(
            of: RedisPubSubMessage.self, bufferingPolicy: bufferingPolicy)
        (self.events, self.eventSink) = AsyncStream.makeStream(
            of: RedisSubscriberEvent.self, bufferingPolicy: .bufferingNewest(256))
    }

    /// Opens the first connection (which must succeed: errors such as a wrong password are thrown
    /// here) and starts supervising it. `timeout` bounds each connection attempt.
    public static func connect(
        to url: RedisURL,
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: Duration = .seconds(5),
        reconnectPolicy: RedisReconnectPolicy = .init(),
        bufferingPolicy: AsyncStream<RedisPubSubMessage>.Continuation.BufferingPolicy = .unbounded
    ) async throws -> RedisSubscriber {
        let subscriber = RedisSubscriber(
            url: url, group: group, timeout: timeout, policy: reconnectPolicy, bufferingPolicy: bufferingPolicy)
        let first = try await subscriber.establish()
        let task = Task { await subscriber.supervise(first) }
        subscriber.state.withLockedValue { $0.supervisor = task }
        return subscriber
    }

    /// Subscribes to `channels`. If connected, returns once the server has confirmed; if the
    /// connection is down, the channels are remembered and subscribed on reconnection.
    public func subscribe(channels: [String]) async throws {
        guard !channels.isEmpty else { return }
        let connection = try self.update { $0.channels.formUnion(channels) }
        try await self.sendThenPing(["SUBSCRIBE"] + channels, on: connection)
    }

    /// Subscribes to glob-style `patterns` (`PSUBSCRIBE`); messages carry the matching pattern.
    public func psubscribe(patterns: [String]) async throws {
        guard !patterns.isEmpty else { return }
        let connection = try self.update { $0.patterns.formUnion(patterns) }
        try await self.sendThenPing(["PSUBSCRIBE"] + patterns, on: connection)
    }

    /// Unsubscribes from `channels`, or from every channel if `channels` is empty.
    public func unsubscribe(channels: [String] = []) async throws {
        let connection = try self.update { state in
            if channels.isEmpty { state.channels.removeAll() } else { state.channels.subtract(channels) }
        }
        try await self.sendThenPing(["UNSUBSCRIBE"] + channels, on: connection)
    }

    /// Unsubscribes from `patterns`, or from every pattern if `patterns` is empty.
    public func punsubscribe(patterns: [String] = []) async throws {
        let connection = try self.update { state in
            if patterns.isEmpty { state.patterns.removeAll() } else { state.patterns.subtract(patterns) }
        }
        try await self.sendThenPing(["PUNSUBSCRIBE"] + patterns, on: connection)
    }

    /// The channels and patterns currently wanted (and re-subscribed after a reconnection).
    public var subscriptions: (channels: Set<String>, patterns: Set<String>) {
        self.state.withLockedValue { ($0.channels, $0.patterns) }
    }

    /// True while a connection is up.
    public var isConnected: Bool {
        self.state.withLockedValue { $0.connection?.isConnected ?? false }
    }

    /// Stops reconnecting, closes the connection and finishes both streams. Idempotent.
    public func close() async {
        let (connection, supervisor) = self.state.withLockedValue { state in
            state.closed = true
            defer { state.connection = nil }
            return (state.connection, state.supervisor)
        }
        supervisor?.cancel()
        await connection?.close()
        await supervisor?.value
        self.messageSink.finish()
        self.eventSink.finish()
    }

    // MARK: - Internals

    private func update(_ body: (inout State) -> Void) throws -> RedisConnection? {
        try self.state.withLockedValue { state in
            guard !state.closed else { throw RedisClientError.subscriberClosed }
            body(&state)
            return state.connection
        }
    }

    /// Writes `command` followed by PING in one write and waits for the PING's reply: replies are
    /// ordered, so by then the server has processed the command. A dropped connection is not an
    /// error here: the supervisor re-applies the wanted subscriptions when it reconnects.
    private func sendThenPing(_ command: [any RESPArgument], on connection: RedisConnection?) async throws {
        guard let connection else { return }
        var buffer = RESPEncoder.encodeCommand(command)
        RESPEncoder.encodeCommand(["PING"], into: &buffer)
        do {
            let reply = try await connection.write(buffer, expectingReply: true)!.get()
            if let message = reply.errorMessage { throw RedisError(message: message) }
        } catch RedisClientError.connectionClosed {
            return
        }
    }

    /// Connects, installs the connection as current and subscribes to everything wanted.
    private func establish() async throws -> RedisConnection {
        let sink = self.messageSink
        let connection = try await RedisConnection.connect(
            to: url, on: group, timeout: timeout, selectDatabase: false,
            onPush: { push in
                if case .message(let channel, let pattern, let payload) = push {
                    sink.yield(RedisPubSubMessage(channel: channel, pattern: pattern, payload: payload))
                }
            }
        )
        let wanted: (channels: Set<String>, patterns: Set<String>)? = self.state.withLockedValue { state in
            guard !state.closed else { return nil }
            state.connection = connection
            return (state.channels, state.patterns)
        }
        guard let wanted else {
            await connection.close()
            throw RedisClientError.subscriberClosed
        }
        var buffer = ByteBuffer()
        if !wanted.channels.isEmpty {
            RESPEncoder.encodeCommand(["SUBSCRIBE"] + wanted.channels.sorted(), into: &buffer)
        }
        if !wanted.patterns.isEmpty {
            RESPEncoder.encodeCommand(["PSUBSCRIBE"] + wanted.patterns.sorted(), into: &buffer)
        }
        RESPEncoder.encodeCommand(["PING"], into: &buffer)
        let timer = connection.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            connection.channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            let reply = try await connection.write(buffer, expectingReply: true)!.get()
            if let message = reply.errorMessage { throw RedisError(message: message) }
            // The timer may have fired between the reply and this task running (a loaded machine): decided
            // on the event loop, where the timer runs, the connection is either still ours or closed.
            let kept = try await connection.channel.eventLoop.submit {
                timer.cancel()
                return connection.channel.isActive
            }.get()
            guard kept else { throw RedisClientError.connectTimeout }
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    private var isClosed: Bool { self.state.withLockedValue { $0.closed } }

    /// Waits for the current connection to drop, then reconnects with backoff; forever, until closed.
    private func supervise(_ first: RedisConnection) async {
        var connection = first
        while true {
            try? await connection.closeFuture.get()
            if self.isClosed { return }
            self.state.withLockedValue { state in
                if state.connection === connection { state.connection = nil }
                state.disconnections += 1
            }
            self.eventSink.yield(.disconnected)
            var delay = self.policy.initialDelay
            var attempt = 0
            while true {
                try? await Task.sleep(for: delay)
                if self.isClosed { return }
                attempt += 1
                do {
                    connection = try await self.establish()
                    self.eventSink.yield(.reconnected(attempts: attempt))
                    break
                } catch {
                    if self.isClosed { return }
                    self.eventSink.yield(.reconnectFailed(attempt: attempt, reason: "\(error)"))
                    delay = min(delay * 2, self.policy.maxDelay)
                }
            }
        }
    }
}
