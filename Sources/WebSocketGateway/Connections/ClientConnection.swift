// One open WebSocket connection as the rest of the gateway sees it: its identity and context, an
// outbound bound in bytes that never blocks the sender (past it, the connection is closed with 1008),
// its message-rate bucket, and the close request that ends it.
//
// Messages are written straight onto the channel's event loop (DirectConnectionHandler, which serves the
// connection, compresses them when permessage-deflate was agreed): one hop, no task to wake, so a
// broadcast to thousands costs little more than their `writev`s. The byte bound applies to messages
// handed to the loop and not written yet, and to what the socket has not taken yet (NIO's buffered
// bytes); a close request is handed to the handler (`onClose`), which writes the close frame after what
// was written before it.
import Foundation
import GatewayCore
import NIOCore
import NIOWebSocket
import Synchronization

final class ClientConnection: Sendable {
    /// How a close was asked for: code, reason, and whether queued messages are sent first.
    struct CloseRequest: Sendable, Equatable {
        var code: UInt16
        var reason: String
        var drain: Bool
    }

    enum SendResult: Equatable {
        case queued
        /// The connection is closing or closed.
        case closed
        /// The queue was full: the connection is being closed with 1008 "slow consumer".
        case overflow
    }

    struct Counters: Sendable {
        var messagesIn = 0
        var messagesOut = 0
    }

    private struct State {
        var lastActive: Date
        var lastActiveInstant: ContinuousClock.Instant
        var closeRequest: CloseRequest?
        var closeRequestedAt: ContinuousClock.Instant?
        var counters = Counters()
        var queuedBytes = 0
        var tokens: Double
        var tokensUpdated: ContinuousClock.Instant
    }

    let accepted: AcceptedHandshake
    var id: String { accepted.connectionID }
    let openedAt = ContinuousClock.now
    /// The socket, closed by the sweeper when a close handshake does not finish in time.
    let channel: any Channel
    private let state: Mutex<State>
    private let maxQueuedBytes: Int
    private let rate: WebSocketMessageRateConfig?
    /// Told the size of each message written directly.
    private let onWritten: (@Sendable (Int) -> Void)?
    /// Told when a direct write finds the socket too far behind (a queue overflow is the sender's to count).
    private let onSlowConsumer: (@Sendable () -> Void)?
    /// Told the first close request of a connection that writes directly.
    private let onClose: (@Sendable (CloseRequest) -> Void)?

    /// Messages longer than this are sent as fragments (clients often cap frames at 16 KiB).
    static var fragmentSize: Int { WebSocketRuntime.outboundFragmentSize }

    init(
        accepted: AcceptedHandshake, channel: any Channel, maxQueuedBytes: Int = .max,
        rate: WebSocketMessageRateConfig? = nil,
        onWritten: (@Sendable (Int) -> Void)? = nil, onSlowConsumer: (@Sendable () -> Void)? = nil,
        onClose: (@Sendable (CloseRequest) -> Void)? = nil
    ) {
        self.accepted = accepted
        self.channel = channel
        self.onWritten = onWritten
        self.onSlowConsumer = onSlowConsumer
        self.onClose = onClose
        self.maxQueuedBytes = maxQueuedBytes
        self.rate = rate
        state = Mutex(
            State(
                lastActive: accepted.connectedAt, lastActiveInstant: .now, tokens: Double(rate?.capacity ?? 0),
                tokensUpdated: .now))
    }

    /// Queues `message` for the client without waiting.
    func send(_ message: OutboundMessage) -> SendResult {
        var batch: OutboundBatch? = nil
        return send(message, batch: &batch)
    }

    /// `send`, with a direct write added to `batch` (when there is one) instead of scheduled on its own.
    func send(_ message: OutboundMessage, batch: inout OutboundBatch?) -> SendResult {
        let size = message.size
        let admitted = state.withLock { state -> Bool? in
            guard state.closeRequest == nil else { return nil }
            guard state.queuedBytes + size <= maxQueuedBytes || state.queuedBytes == 0 else { return false }
            state.queuedBytes += size
            return true
        }
        guard let admitted else { return .closed }
        guard admitted else {
            close(code: 1008, reason: "slow consumer", drain: false)
            return .overflow
        }
        if batch != nil {
            batch!.add(self, message, size: size)
        } else {
            channel.eventLoop.execute { self.write(message, size: size) }
        }
        return .queued
    }

    /// On the event loop: writes `message` as one frame, or as fragments when it is long. Dropped when the
    /// connection is closing without draining or gone; a socket that has not taken `maxQueuedBytes` yet
    /// makes the connection a slow consumer.
    fileprivate func write(_ message: OutboundMessage, size: Int, payload: ByteBuffer? = nil) {
        // Dropped when the connection is closing without draining, or gone.
        let dropped = state.withLock { state -> Bool in
            let drop = !channel.isActive || state.closeRequest.map { !$0.drain } ?? false
            if drop { state.queuedBytes -= size }
            return drop
        }
        guard !dropped else { return }
        // What the socket has not taken: only asked for when it could pass the bound (a writable channel
        // has at most NIO's high watermark, 64 KiB, buffered).
        if !channel.isWritable || Self.writableBelow + size > maxQueuedBytes {
            let buffered = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            if buffered > 0 && buffered + size > maxQueuedBytes {
                state.withLock { $0.queuedBytes -= size }
                close(code: 1008, reason: "slow consumer", drain: false)
                onSlowConsumer?()
                return
            }
        }
        sentMessage(size: size)
        let (opcode, data): (WebSocketOpcode, ByteBuffer) =
            switch message {
            case .text(let text): (.text, payload ?? channel.allocator.buffer(string: text))
            case .binary(let bytes): (.binary, payload ?? channel.allocator.buffer(bytes: bytes))
            }
        if data.readableBytes <= Self.fragmentSize {
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: opcode, data: data), promise: nil)
        } else {
            var rest = data
            var first = true
            while rest.readableBytes > 0, let slice = rest.readSlice(length: min(Self.fragmentSize, rest.readableBytes))
            {
                let frame = WebSocketFrame(
                    fin: rest.readableBytes == 0, opcode: first ? opcode : .continuation, data: slice)
                channel.write(frame, promise: nil)
                first = false
            }
            channel.flush()
        }
        onWritten?(size)
    }

    /// NIO's default high watermark: a channel with more buffered is not writable.
    private static let writableBelow = 64 << 10

    /// Asks for the connection to close; the first request wins. With `drain`, queued messages are sent
    /// before the close frame; without, they are dropped.
    func close(code: UInt16, reason: String, drain: Bool) {
        let request = CloseRequest(code: code, reason: reason, drain: drain)
        let first = state.withLock { state -> Bool in
            guard state.closeRequest == nil else { return false }
            state.closeRequest = request
            state.closeRequestedAt = .now
            return true
        }
        guard first else { return }
        onClose?(request)
    }

    var closeRequest: CloseRequest? { state.withLock { $0.closeRequest } }
    var closeRequestedAt: ContinuousClock.Instant? { state.withLock { $0.closeRequestedAt } }

    /// Records a message from the client (activity for the idle timeout).
    func receivedMessage() {
        state.withLock {
            $0.lastActive = Date()
            $0.lastActiveInstant = .now
            $0.counters.messagesIn += 1
        }
    }

    /// Records a message written to the client (`size` bytes leave the queue).
    func sentMessage(size: Int) {
        state.withLock {
            $0.lastActive = Date()
            $0.lastActiveInstant = .now
            $0.counters.messagesOut += 1
            $0.queuedBytes -= size
        }
    }

    /// Takes a token for one client message; false when the connection is over its message rate.
    func takeMessageToken(now: ContinuousClock.Instant = .now) -> Bool {
        guard let rate else { return true }
        return state.withLock { state in
            let elapsed = now - state.tokensUpdated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let period = rate.per.duration
            let perSecond =
                Double(rate.messages)
                / (Double(period.components.seconds) + Double(period.components.attoseconds) / 1e18)
            state.tokens = min(Double(rate.capacity), state.tokens + seconds * perSecond)
            state.tokensUpdated = now
            guard state.tokens >= 1 else { return false }
            state.tokens -= 1
            return true
        }
    }

    var queuedBytes: Int { state.withLock { $0.queuedBytes } }

    var lastActive: Date { state.withLock { $0.lastActive } }
    var lastActiveInstant: ContinuousClock.Instant { state.withLock { $0.lastActiveInstant } }
    var counters: Counters { state.withLock { $0.counters } }
}

/// Messages for many connections at once (a channel publication): the direct writes are grouped by event
/// loop and run as one task per loop, instead of one task (and one loop wake-up) per connection, and a
/// message's bytes are copied into one buffer that every connection's frame shares (NIO writes a server
/// frame's header and payload separately, so the payload is not copied again per connection).
struct OutboundBatch {
    private struct Write {
        let connection: ClientConnection
        let message: OutboundMessage
        let size: Int
        let payload: ByteBuffer
    }

    private var byLoop: [ObjectIdentifier: (loop: any EventLoop, writes: [Write])] = [:]
    /// The last message added and its bytes (a publication adds the same message for every subscriber).
    private var last: (message: OutboundMessage, payload: ByteBuffer)?

    init() {}

    fileprivate mutating func add(_ connection: ClientConnection, _ message: OutboundMessage, size: Int) {
        let payload: ByteBuffer
        if let last, last.message == message {
            payload = last.payload
        } else {
            payload =
                switch message {
                case .text(let text): ByteBuffer(string: text)
                case .binary(let bytes): ByteBuffer(bytes: bytes)
                }
            last = (message, payload)
        }
        let loop = connection.channel.eventLoop
        byLoop[ObjectIdentifier(loop), default: (loop, [])].writes.append(
            Write(connection: connection, message: message, size: size, payload: payload))
    }

    /// Schedules the writes, in the order they were added on each loop.
    func submit() {
        for (_, group) in byLoop {
            let writes = group.writes
            group.loop.execute {
                for write in writes {
                    write.connection.write(write.message, size: write.size, payload: write.payload)
                }
            }
        }
    }
}
