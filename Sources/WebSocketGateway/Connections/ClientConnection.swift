// One open WebSocket connection as the rest of the gateway sees it: its identity and context, an
// outbound queue bounded in messages and bytes that never blocks the sender (a full queue closes the
// connection with 1008), its message-rate bucket, and the close request that ends it. Frames are
// written by the connection's own writer task only.
import Foundation
import GatewayCore
import NIOCore
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
    let channel: (any Channel)?
    let outbound: AsyncStream<OutboundMessage>
    private let continuation: AsyncStream<OutboundMessage>.Continuation
    private let state: Mutex<State>
    private let maxQueuedBytes: Int
    private let rate: WebSocketMessageRateConfig?

    init(
        accepted: AcceptedHandshake, queueCapacity: Int, maxQueuedBytes: Int = .max,
        rate: WebSocketMessageRateConfig? = nil, channel: (any Channel)? = nil
    ) {
        self.accepted = accepted
        self.channel = channel
        self.maxQueuedBytes = maxQueuedBytes
        self.rate = rate
        (outbound, continuation) = AsyncStream.makeStream(
            of: OutboundMessage.self, bufferingPolicy: .bufferingOldest(queueCapacity))
        state = Mutex(
            State(
                lastActive: accepted.connectedAt, lastActiveInstant: .now, tokens: Double(rate?.capacity ?? 0),
                tokensUpdated: .now))
    }

    /// Queues `message` for the client without waiting.
    func send(_ message: OutboundMessage) -> SendResult {
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
        switch continuation.yield(message) {
        case .enqueued:
            return .queued
        case .dropped:
            state.withLock { $0.queuedBytes -= size }
            close(code: 1008, reason: "slow consumer", drain: false)
            return .overflow
        case .terminated:
            return .closed
        @unknown default:
            return .closed
        }
    }

    /// Asks for the connection to close; the first request wins. With `drain`, queued messages are sent
    /// before the close frame; without, they are dropped.
    func close(code: UInt16, reason: String, drain: Bool) {
        let first = state.withLock { state -> Bool in
            guard state.closeRequest == nil else { return false }
            state.closeRequest = CloseRequest(code: code, reason: reason, drain: drain)
            state.closeRequestedAt = .now
            return true
        }
        if first { continuation.finish() }
    }

    /// Ends the outbound queue once the connection is gone (no close frame is sent).
    func finishOutbound() { continuation.finish() }

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
