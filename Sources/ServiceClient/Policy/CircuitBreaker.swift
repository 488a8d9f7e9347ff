// Circuit breaking for one service, two mechanisms in one place: concurrency limits (requests,
// pending connections, retries) that fail fast when reached, as Envoy's thresholds do; and a
// closed → open → half-open → closed state machine on consecutive failed calls. Pure state; the
// service calls it under its lock.
import GatewayCore

struct CircuitBreaker {
    enum State: Equatable, CustomStringConvertible {
        case closed
        case open(until: ContinuousClock.Instant)
        case halfOpen

        var description: String {
            switch self {
            case .closed: return "closed"
            case .open: return "open"
            case .halfOpen: return "half-open"
            }
        }

        /// The value of the `portico_upstream_circuit_state` gauge.
        var gaugeValue: Int {
            switch self {
            case .closed: return 0
            case .open: return 1
            case .halfOpen: return 2
            }
        }
    }

    /// Why a call was refused, for the error and the metric label.
    enum Rejection: String, Error {
        case open, halfOpenBusy = "half_open_busy", maxRequests = "max_requests", maxPending = "max_pending"
    }

    let config: CircuitBreakerConfig
    private(set) var state: State = .closed
    private(set) var activeRequests = 0
    private(set) var pending = 0
    private(set) var activeRetries = 0
    private var consecutiveFailures = 0
    private var probesInFlight = 0

    init(config: CircuitBreakerConfig) {
        self.config = config
    }

    /// Admits a new call or says why not. A call admitted while half-open is a probe.
    mutating func admit(now: ContinuousClock.Instant) -> Result<Bool, Rejection> {
        if case .open(let until) = state {
            guard now >= until else { return .failure(.open) }
            state = .halfOpen
            probesInFlight = 0
        }
        guard activeRequests < config.maxConcurrentRequests else { return .failure(.maxRequests) }
        var probe = false
        if state == .halfOpen {
            guard probesInFlight < config.halfOpenRequests else { return .failure(.halfOpenBusy) }
            probesInFlight += 1
            probe = true
        }
        activeRequests += 1
        return .success(probe)
    }

    /// Records the end of an admitted call. Returns the new state when it changed.
    mutating func finish(probe: Bool, failed: Bool?, now: ContinuousClock.Instant) -> State? {
        activeRequests -= 1
        if probe { probesInFlight -= 1 }
        guard let failed else { return nil }  // Cancelled: says nothing about the service.
        let before = state
        switch state {
        case .closed:
            if failed {
                consecutiveFailures += 1
                if config.consecutiveFailures > 0 && consecutiveFailures >= config.consecutiveFailures {
                    state = .open(until: now + config.openDuration.duration)
                }
            } else {
                consecutiveFailures = 0
            }
        case .halfOpen where probe:
            state = failed ? .open(until: now + config.openDuration.duration) : .closed
            consecutiveFailures = 0
        case .halfOpen, .open:
            break  // Results of calls admitted before the circuit opened do not move it.
        }
        return state == before ? nil : state
    }

    /// A call starts waiting for a connection; false when too many already wait.
    mutating func beginPending() -> Bool {
        guard pending < config.maxPendingRequests else { return false }
        pending += 1
        return true
    }

    mutating func endPending() { pending = max(0, pending - 1) }

    /// A retry may start when fewer than `maxConcurrentRetries` are in flight and, when `budgeted`,
    /// the budget allows: `max(minConcurrency, percent × active calls)`. Retries of connect failures
    /// are not budgeted: the service never saw the call, so retrying it adds no load to it.
    mutating func beginRetry(budget: RetryBudgetConfig, budgeted: Bool = true) -> Bool {
        let allowed = budgeted ? max(budget.minConcurrency, activeRequests * budget.percent / 100) : Int.max
        guard activeRetries < min(config.maxConcurrentRetries, allowed) else { return false }
        activeRetries += 1
        return true
    }

    mutating func endRetry() { activeRetries = max(0, activeRetries - 1) }
}
