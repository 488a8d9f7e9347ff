// One call to a service from start to end, across its tries: admitted by the breaker, each try on an
// endpoint chosen by the balancer (never the one that just failed when another is available),
// retried by the route's policy within the retry budget and the call's deadline. Transports drive it;
// it holds no connection. Used from one task or one event loop at a time.
public import GatewayCore

public final class UpstreamCall {
    public let service: UpstreamService
    public let retry: RetryPolicy
    let probe: Bool
    /// Tries made so far.
    public private(set) var attempt = 0
    private var failed: Set<UpstreamAddress> = []
    private var current: (address: UpstreamAddress, start: ContinuousClock.Instant)?
    /// The endpoint of the last finished try, blamed when the response breaks after its head.
    private var last: UpstreamAddress?
    private var inRetry = false
    private var finished = false

    init(service: UpstreamService, probe: Bool, retry: RetryPolicy) {
        self.service = service
        self.probe = probe
        self.retry = retry
    }

    /// Chooses the endpoint of the next try. `key` is the consistent-hashing key, if any.
    public func nextEndpoint(key: String? = nil) throws(GatewayError) -> UpstreamAddress {
        let address = try service.select(key: key, excluding: failed)
        attempt += 1
        current = (address, .now)
        return address
    }

    /// Ends the current try. Returns whether the call may try again, given the request's facts.
    /// When it may, the caller waits `delay(...)` and calls `nextEndpoint` again.
    @discardableResult
    public func finishTry(_ outcome: UpstreamOutcome, request: RetryableRequest? = nil) -> Bool {
        guard let (address, start) = current else { return false }
        current = nil
        last = address
        service.finishTry(address, outcome: outcome, latency: .now - start)
        if inRetry {
            inRetry = false
            service.endRetry()
        }
        if outcome.isFailure(failureStatuses: service.config.failureStatuses) {
            failed.insert(address)
        }
        guard let request, retry.allows(outcome, attempt: attempt, request: request) else { return false }
        guard service.beginRetry(after: outcome) else { return false }
        inRetry = true
        return true
    }

    /// Gives back a retry slot taken by `finishTry` when the call will not try again after all
    /// (the deadline is too close, the client went away).
    public func abandonRetry() {
        if inRetry {
            inRetry = false
            service.endRetry()
        }
    }

    /// The wait before the next try, or nil when the deadline does not leave room for it.
    public func delay(retryAfter: String?, deadline: CallDeadline) -> Duration? {
        retry.delay(after: attempt, retryAfter: retryAfter, remaining: deadline.remaining)
    }

    /// Ends the current try and returns the wait before the next one when the policy, the retry budget
    /// and the deadline allow another; nil otherwise (a retry slot taken but not usable is given back).
    /// `retryAfter` (the response's `Retry-After`) is read only when a retry is possible.
    public func retryWait(
        after outcome: UpstreamOutcome, request: RetryableRequest, retryAfter: @autoclosure () -> String?,
        deadline: CallDeadline
    ) -> Duration? {
        guard finishTry(outcome, request: request) else { return nil }
        if let wait = delay(retryAfter: retryAfter(), deadline: deadline) { return wait }
        abandonRetry()
        return nil
    }

    /// Starts / ends waiting for a connection, for `maxPendingRequests`.
    public func beginPending() throws(GatewayError) {
        guard service.beginPending() else {
            throw GatewayError(
                .circuitOpen, "service '\(service.name)' is not taking calls: too many calls wait for a connection")
        }
    }

    public func endPending() { service.endPending() }

    /// Ends the call with the outcome the client gets. Idempotent.
    public func finish(_ outcome: UpstreamOutcome) {
        guard !finished else { return }
        finished = true
        if let (address, start) = current {
            current = nil
            service.finishTry(address, outcome: outcome, latency: .now - start)
        } else if let last, outcome == .reset || outcome == .timedOut {
            // The try was counted when its response began; the response then broke.
            service.lateFailure(last, outcome: outcome)
        }
        abandonRetry()
        service.endCall(probe: probe, outcome: outcome)
    }

    deinit {
        if !finished { finish(.cancelled) }
    }
}
