// RedisConnection.swift — one pipelined Redis connection over SwiftNIO (connect, AUTH, SELECT, send, close).
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
public import NIOCore
public import NIOPosix

/// A single TCP connection to Redis.
///
/// `send` may be called concurrently from any number of tasks: commands are written in the
/// order they reach the event loop and replies are matched to them in FIFO order, so many
/// commands can be in flight at once (pipelining). When the connection drops, every pending
/// and every later command fails with `RedisClientError.connectionClosed`; this type does not
/// reconnect (make a new one, or use `RedisSubscriber` for pub/sub, which does).
public final class RedisConnection: Sendable {
    /// The URL this connection was made from.
    public let url: RedisURL
    let channel: any Channel

    private init(url: RedisURL, channel: any Channel) {
        self.url = url
        self.channel = channel
    }

    /// Connects, then sends `AUTH` if the URL has a password and `SELECT` if it names a database.
    ///
    /// - Parameter timeout: bound on the whole connect + AUTH + SELECT sequence.
    /// - Throws: `RedisClientError.connectTimeout`, `.authenticationFailed`, `.selectFailed`,
    ///   or the underlying NIO/socket error (e.g. connection refused).
    public static func connect(
        to url: RedisURL,
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: Duration = .seconds(5)
    ) async throws -> RedisConnection {
        try await self.connect(to: url, on: group, timeout: timeout, selectDatabase: true, onPush: nil)
    }

    static func connect(
        to url: RedisURL,
        on group: any EventLoopGroup,
        timeout: Duration,
        selectDatabase: Bool,
        onPush: (@Sendable (RedisPush) -> Void)?
    ) async throws -> RedisConnection {
        let start = ContinuousClock.now
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(timeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPMessageDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(onPush: onPush))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: url.host, port: url.port).get()
        } catch ChannelError.connectTimeout {
            throw RedisClientError.connectTimeout
        }
        let connection = RedisConnection(url: url, channel: channel)
        let remaining = timeout - (ContinuousClock.now - start)
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(remaining)) {
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            try await connection.handshake(selectDatabase: selectDatabase)
            // As in RedisSubscriber: the timer may have fired after the handshake's reply; decide on the loop.
            let kept = try await channel.eventLoop.submit {
                timer.cancel()
                return channel.isActive
            }.get()
            guard kept else { throw RedisClientError.connectTimeout }
        } catch {
            await connection.close()
            if ContinuousClock.now - start >= timeout { throw RedisClientError.connectTimeout }
            throw error
        }
        return connection
    }

    private func handshake(selectDatabase: Bool) async throws {
        if let password = url.password {
            var command: [any RESPArgument] = ["AUTH"]
            if let username = url.username { command.append(username) }
            command.append(password)
            let reply = try await self.sendRaw(command)
            if let message = reply.errorMessage { throw RedisClientError.authenticationFailed(message) }
        }
        if selectDatabase, let db = url.database {
            let reply = try await self.sendRaw(["SELECT", db])
            if let message = reply.errorMessage { throw RedisClientError.selectFailed(db: db, message: message) }
        }
    }

    /// Sends one command and returns its reply. A Redis error reply is thrown as `RedisError`.
    ///
    /// Cancelling the calling task does not withdraw a command already written.
    @discardableResult
    public func send(_ command: [any RESPArgument]) async throws -> RESPValue {
        let reply = try await self.sendRaw(command)
        if let message = reply.errorMessage { throw RedisError(message: message) }
        return reply
    }

    /// `send(["SET", "key", "value"])` written as `send("SET", "key", "value")`.
    @discardableResult
    public func send(_ command: any RESPArgument...) async throws -> RESPValue {
        try await self.send(command)
    }

    /// Sends one command and returns its reply as is, error replies included.
    public func sendRaw(_ command: [any RESPArgument]) async throws -> RESPValue {
        try await self.write(RESPEncoder.encodeCommand(command), expectingReply: true)!.get()
    }

    /// Writes `encoded`; if `expectingReply`, returns the future of the next reply in FIFO order.
    @discardableResult
    func write(_ encoded: ByteBuffer, expectingReply: Bool) async throws -> EventLoopFuture<RESPValue>? {
        let promise = expectingReply ? self.channel.eventLoop.makePromise(of: RESPValue.self) : nil
        let written: EventLoopFuture<Void> = self.channel.writeAndFlush(RedisRequest(encoded: encoded, reply: promise))
        guard let promise else {
            try await written.flatMapErrorThrowing { throw Self.mapClosed($0) }.get()
            return nil
        }
        written.whenFailure { promise.fail(Self.mapClosed($0)) }
        return promise.futureResult
    }

    /// True while the TCP connection is open.
    public var isConnected: Bool { self.channel.isActive }

    /// Completes when the connection has closed, for whatever reason.
    public var closeFuture: EventLoopFuture<Void> { self.channel.closeFuture }

    /// Closes the connection; pending commands fail with `RedisClientError.connectionClosed`.
    /// Safe to call more than once.
    public func close() async {
        try? await self.channel.close()
    }

    static func mapClosed(_ error: any Error) -> any Error {
        if let channelError = error as? ChannelError {
            switch channelError {
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed:
                return RedisClientError.connectionClosed
            default:
                return error
            }
        }
        return error
    }
}
