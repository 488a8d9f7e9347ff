// How long a client may take on the byte-level data path (limits.clientIdleTimeout,
// clientHeaderTimeout, clientBodyTimeout, after nginx's keepalive_timeout, client_header_timeout and
// client_body_timeout): a connection with no request in progress is closed after the idle timeout; a
// head still arriving when the header timeout has passed since its first byte gets 408; a body with
// no byte for the body timeout gets 408 while nothing of the response has been sent, and is closed
// otherwise. While the service is answering, the call's deadline applies instead.
// One timer per connection, re-armed only when it fires early or a nearer deadline comes: the clock
// is read once per request (when its exchange ends) and once per read that leaves a head or body
// unfinished.
import GatewayCore
import NIOCore

extension FastProxyHandler {
    enum ClientWait {
        case idle
        case head
        case body
    }

    /// What the connection waits for from the client, and until when; nil while it waits for a response.
    func clientDeadline() -> (ClientWait, NIODeadline)? {
        switch body {
        case .length, .chunked:
            // Reading paused by the gateway (backpressure, an auth decision) is not the client's delay.
            if readingOff { return nil }
            return (.body, lastBodyRead + .nanoseconds(shared.clientTimeouts.body.nanoseconds))
        case .none: break
        }
        if exchange != nil { return nil }
        if let headSince { return (.head, headSince + .nanoseconds(shared.clientTimeouts.header.nanoseconds)) }
        return (.idle, idleSince + .nanoseconds(shared.clientTimeouts.idle.nanoseconds))
    }

    /// After bytes were handled: notes when a head started arriving or a body byte came, and arms the timer.
    func clientProgressed() {
        guard !closed, context != nil else { return }
        switch body {
        case .length, .chunked:
            lastBodyRead = .now()
            headSince = nil
        case .none:
            if exchange == nil && held != nil {
                if headSince == nil { headSince = .now() }
            } else {
                headSince = nil
            }
        }
        armClientTimer()
    }

    func armClientTimer() {
        guard let context, !closed, let (_, at) = clientDeadline() else { return }
        if let current = clientTimerAt, current <= at { return }
        clientTimer?.cancel()
        clientTimerAt = at
        clientTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { self.clientTimerFired() }
    }

    func cancelClientTimer() {
        clientTimer?.cancel()
        clientTimer = nil
        clientTimerAt = nil
    }

    private func clientTimerFired() {
        clientTimer = nil
        clientTimerAt = nil
        guard !closed, context != nil, let (wait, at) = clientDeadline() else { return }
        guard NIODeadline.now() >= at else { return armClientTimer() }
        let timeouts = shared.clientTimeouts
        switch wait {
        case .idle:
            close()
        case .head:
            held = nil
            refuseHead(
                "the request head did not arrive within \(ConfigDuration(timeouts.header))",
                code: .requestTimeout)
        case .body:
            guard exchange != nil else { return close() }
            body = .none
            failRequest(
                GatewayError(
                    .requestTimeout, "no request body byte arrived for \(ConfigDuration(timeouts.body))"))
        }
    }
}
