// What the byte-level data path keeps per connection rather than per request: the call deadline's
// timer, and the forwarding headers that describe the client.
import GatewayCore
import NIOCore
import ServiceClient

extension FastProxyHandler {
    // MARK: the call's deadline

    /// One timer per connection, not one per request: it is re-armed only when the exchange in
    /// progress when it fires has a later deadline, or when a new deadline comes before it (a
    /// schedule and a cancel per request cost more than the rest of the timing work together).
    func armDeadline(_ at: NIODeadline) {
        guard let context else { return }
        if let current = deadlineTimerAt, current <= at { return }
        deadlineTimer?.cancel()
        deadlineTimerAt = at
        deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { self.deadlineFired() }
    }

    func deadlineFired() {
        deadlineTimer = nil
        deadlineTimerAt = nil
        guard let exchange, let at = exchange.deadlineAt, let target = exchange.target,
            let deadline = exchange.deadline
        else { return }
        guard NIODeadline.now() >= at else { return armDeadline(at) }
        exchange.deadlineAt = nil
        guard exchange.canAnswer else { return }
        abandonUpstream()
        exchange.call?.finish(.timedOut)
        fail(
            GatewayError(
                .upstreamTimeout,
                "service '\(target.route.service.name)' did not answer within \(ConfigDuration(deadline.total))"),
            closeAfter: false)
    }

    /// The `X-Forwarded-*` and `Forwarded` headers for `client`, computed once per connection (and
    /// again only when the client, as trusted proxies describe it, changes).
    func forwardingHeaders(for client: ForwardedClient) -> [(String, String)] {
        if let cached = forwarding, cached.client == client { return cached.headers }
        let headers = UpstreamCallContext.forwardingHeaders(
            clientAddress: client.peer, priorForwardedFor: client.priorForwardedFor, clientScheme: client.scheme,
            clientHost: client.host)
        forwarding = (client, headers)
        return headers
    }
}
