// RedisChannelHandler.swift — NIO handler matching pipelined replies to commands in FIFO order,
// and (for subscribers) routing pub/sub pushes to a callback.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
import NIOCore

/// One command on its way to the server. `reply` is nil for commands whose replies arrive as
/// pub/sub pushes (SUBSCRIBE and friends on a subscriber connection).
struct RedisRequest: Sendable {
    var encoded: ByteBuffer
    var reply: EventLoopPromise<RESPValue>?
}

/// A pub/sub push received on a subscriber connection.
enum RedisPush: Sendable {
    case message(channel: String, pattern: String?, payload: ByteBuffer)
    case confirmation(kind: String, name: String?, count: Int)
}

final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private var pending = CircularBuffer<EventLoopPromise<RESPValue>>(initialCapacity: 16)
    private var closedError: (any Error)?
    /// Set on subscriber connections: receives pub/sub pushes instead of the FIFO queue.
    private let onPush: (@Sendable (RedisPush) -> Void)?

    init(onPush: (@Sendable (RedisPush) -> Void)? = nil) {
        self.onPush = onPush
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        if let error = self.closedError {
            request.reply?.fail(error)
            promise?.fail(error)
            return
        }
        if let reply = request.reply { self.pending.append(reply) }
        context.write(Self.wrapOutboundOut(request.encoded), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        if let onPush = self.onPush, let push = Self.push(from: value) {
            onPush(push)
            return
        }
        guard let promise = self.pending.popFirst() else {
            self.failAll(RedisClientError.protocolError("received a reply with no command waiting for it: \(value)"))
            context.close(promise: nil)
            return
        }
        promise.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(RedisClientError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        if self.closedError == nil { self.closedError = error }
        while let promise = self.pending.popFirst() {
            promise.fail(error)
        }
    }

    /// Recognises RESP2 pub/sub pushes; everything else (including `["pong", ""]`) is a reply.
    private static func push(from value: RESPValue) -> RedisPush? {
        guard let elements = value.array, let kind = elements.first?.string else { return nil }
        switch (kind, elements.count) {
        case ("message", 3):
            guard let channel = elements[1].string, let payload = elements[2].buffer else { return nil }
            return .message(channel: channel, pattern: nil, payload: payload)
        case ("pmessage", 4):
            guard let pattern = elements[1].string, let channel = elements[2].string,
                let payload = elements[3].buffer
            else { return nil }
            return .message(channel: channel, pattern: pattern, payload: payload)
        case ("subscribe", 3), ("unsubscribe", 3), ("psubscribe", 3), ("punsubscribe", 3):
            return .confirmation(kind: kind, name: elements[1].string, count: elements[2].int ?? 0)
        default:
            return nil
        }
    }
}

@available(*, unavailable)
extension RedisChannelHandler: Sendable {}
