// One open WebSocket connection as the rest of the gateway sees it: its identity and context, a bounded
// outbound queue that never blocks the sender (a full queue closes the connection with 1008), and the
// close request that ends it. Frames are written by the connection's own writer task only.
import Foundation
import GatewayCore
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
    }

    let accepted: AcceptedHandshake
    var id: String { accepted.connectionID }
    let outbound: AsyncStream<OutboundMessage>
    private let continuation: AsyncStream<OutboundMessage>.Continuation
    private let state: Mutex<State>

    init(accepted: AcceptedHandshake, queueCapacity: Int) {
        self.accepted = accepted
        (outbound, continuation) = AsyncStream.makeStream(
            of: OutboundMessage.self, bufferingPolicy: .bufferingOldest(queueCapacity))
        state = Mutex(State(lastActive: accepted.connectedAt, lastActiveInstant: .now))
    }

    /// Queues `message` for the client without waiting.
    func send(_ message: OutboundMessage) -> SendResult {
        if state.withLock({ $0.closeRequest != nil }) { return .closed }
        switch continuation.yield(message) {
        case .enqueued:
            return .queued
        case .dropped:
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

    /// Records a message written to the client.
    func sentMessage() {
        state.withLock {
            $0.lastActive = Date()
            $0.lastActiveInstant = .now
            $0.counters.messagesOut += 1
        }
    }

    var lastActive: Date { state.withLock { $0.lastActive } }
    var lastActiveInstant: ContinuousClock.Instant { state.withLock { $0.lastActiveInstant } }
    var counters: Counters { state.withLock { $0.counters } }
}
