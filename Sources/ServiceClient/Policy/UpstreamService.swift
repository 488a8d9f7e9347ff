// One declared service at run time: its endpoint table (static, or replaced by discovery), their
// health and outlier state, the load balancer and the circuit breaker. Every transport asks it for an
// endpoint and tells it how the try went; one lock guards it all (two short critical sections per try).
public import GatewayCore
import Synchronization

/// An endpoint's health as active checks see it.
public enum EndpointHealth: String, Sendable, Codable {
    /// Not checked (no health check configured) or no verdict yet: receives traffic.
    case unknown
    case healthy
    case unhealthy
}

public final class UpstreamService: Sendable {
    public let name: String
    public let config: ServiceConfig
    let metrics: UpstreamMetrics
    private let state: Mutex<State>

    struct Endpoint: Balanced {
        var address: UpstreamAddress
        var balance: BalancerEndpoint
        var health: EndpointHealth
        var healthStreak = 0
        var consecutiveFailures = 0
        var ejectedUntil: ContinuousClock.Instant?
        var ejections = 0
        var lastEjection: ContinuousClock.Instant?

        func isEjected(at now: ContinuousClock.Instant) -> Bool { ejectedUntil.map { now < $0 } ?? false }
    }

    struct State {
        var endpoints: [Endpoint] = []
        var index: [UpstreamAddress: Int] = [:]
        var balancer: LoadBalancer
        var breaker: CircuitBreaker
    }

    public init(name: String, config: ServiceConfig) {
        self.name = name
        self.config = config
        self.metrics = UpstreamMetrics(service: name)
        var state = State(
            balancer: LoadBalancer(policy: config.loadBalancing), breaker: CircuitBreaker(config: config.circuitBreaker)
        )
        let initial = config.endpoints.map { (UpstreamAddress(url: $0.url), $0.weight) }
        Self.replace(&state, with: initial)
        self.state = Mutex(state)
        metrics.circuitState(0)
    }

    public var connectTimeout: Duration { config.connectTimeout.duration }

    /// The request timeout for a call: the route's when it sets one, else the service's.
    public func requestTimeout(route: ConfigDuration?) -> Duration {
        (route ?? config.requestTimeout).duration
    }

    /// The endpoints as they stand (declared, or as discovery last resolved them).
    public var addresses: [UpstreamAddress] { state.withLock { $0.endpoints.map(\.address) } }

    // MARK: calls

    /// Admits a call through the circuit breaker, or fails fast with `circuitOpen`.
    public func beginCall(retry: RetryConfig? = nil) throws(GatewayError) -> UpstreamCall {
        let now = ContinuousClock.now
        let admitted = state.withLock { state -> Result<Bool, CircuitBreaker.Rejection> in
            let before = state.breaker.state
            let result = state.breaker.admit(now: now)
            if state.breaker.state != before { metrics.circuitState(state.breaker.state.gaugeValue) }
            metrics.activeRequests(state.breaker.activeRequests)
            return result
        }
        switch admitted {
        case .success(let probe):
            return UpstreamCall(service: self, probe: probe, retry: RetryPolicy(retry ?? config.retry))
        case .failure(let rejection):
            metrics.rejected(reason: rejection.rawValue)
            let why =
                switch rejection {
                case .open: "its circuit breaker is open after repeated failures"
                case .halfOpenBusy: "its circuit breaker is half-open and a probe call is in flight"
                case .maxRequests: "it has \(config.circuitBreaker.maxConcurrentRequests) calls in flight (the limit)"
                case .maxPending: "too many calls wait for a connection"
                }
            throw GatewayError(.circuitOpen, "service '\(name)' is not taking calls: \(why)")
        }
    }

    func endCall(probe: Bool, outcome: UpstreamOutcome) {
        let failed: Bool? = outcome == .cancelled ? nil : outcome.isFailure(failureStatuses: config.failureStatuses)
        let now = ContinuousClock.now
        state.withLock { state in
            if let changed = state.breaker.finish(probe: probe, failed: failed, now: now) {
                metrics.circuitState(changed.gaugeValue)
            }
            metrics.activeRequests(state.breaker.activeRequests)
        }
    }

    /// Picks an endpoint for one try: healthy and not ejected, preferring one not in `excluding`
    /// (those that just failed this call). Counts the try as outstanding until `finishTry`.
    func select(key: String?, excluding: Set<UpstreamAddress>) throws(GatewayError) -> UpstreamAddress {
        let now = ContinuousClock.now
        let picked = state.withLock { state -> UpstreamAddress? in
            guard !state.endpoints.isEmpty else { return nil }
            // One endpoint, usable: no candidate list to build.
            if state.endpoints.count == 1, state.endpoints[0].health != .unhealthy,
                state.endpoints[0].ejectedUntil == nil
            {
                state.endpoints[0].balance.outstanding += 1
                return state.endpoints[0].address
            }
            var candidates: [Int] = []
            for (index, endpoint) in state.endpoints.enumerated() {
                if let until = endpoint.ejectedUntil, now >= until {
                    state.endpoints[index].ejectedUntil = nil
                    metrics.ejected(endpoint.address, false)
                }
                if state.endpoints[index].health != .unhealthy && state.endpoints[index].ejectedUntil == nil {
                    candidates.append(index)
                }
            }
            if candidates.isEmpty {
                guard config.whenAllUnhealthy == .panic else { return nil }
                metrics.panic()
                candidates = Array(state.endpoints.indices)
            }
            if !excluding.isEmpty {
                let fresh = candidates.filter { !excluding.contains(state.endpoints[$0].address) }
                if !fresh.isEmpty { candidates = fresh }
            }
            let index = state.balancer.pick(candidates: candidates, endpoints: &state.endpoints, key: key)
            state.endpoints[index].balance.outstanding += 1
            return state.endpoints[index].address
        }
        guard let picked else {
            let count = addresses.count
            throw GatewayError(
                .noHealthyUpstream,
                count == 0
                    ? "service '\(name)' has no endpoints"
                    : "every endpoint of service '\(name)' is unhealthy or ejected")
        }
        return picked
    }

    /// Records how a try on `address` went: latency for the balancer, failures for outlier detection.
    func finishTry(_ address: UpstreamAddress, outcome: UpstreamOutcome, latency: Duration) {
        metrics.recordTry(address, outcome: outcome, latency: latency)
        record(address, outcome: outcome, latency: latency, outstanding: true)
    }

    /// A try already recorded as answered broke later (reset or timeout mid-body).
    func lateFailure(_ address: UpstreamAddress, outcome: UpstreamOutcome) {
        metrics.lateFailure(address, outcome: outcome)
        record(address, outcome: outcome, latency: .zero, outstanding: false)
    }

    private func record(_ address: UpstreamAddress, outcome: UpstreamOutcome, latency: Duration, outstanding: Bool) {
        let now = ContinuousClock.now
        let failed = outcome.isFailure(failureStatuses: config.failureStatuses)
        state.withLock { state in
            guard let index = state.index[address] else { return }  // removed by discovery meanwhile
            if outstanding { state.endpoints[index].balance.outstanding -= 1 }
            if outcome == .cancelled { return }
            if !failed {
                state.endpoints[index].consecutiveFailures = 0
                state.endpoints[index].balance.observe(latency: latency, now: now)
                return
            }
            state.endpoints[index].consecutiveFailures += 1
            let outlier = config.outlierDetection
            guard outlier.enabled, state.endpoints[index].consecutiveFailures >= outlier.consecutiveFailures,
                !state.endpoints[index].isEjected(at: now)
            else { return }
            let ejected = state.endpoints.filter { $0.isEjected(at: now) }.count
            // At least one endpoint may be ejected when there are two or more; never the only one.
            let count = state.endpoints.count
            let allowed =
                outlier.maxEjectionPercent == 0 || count < 2
                ? 0 : max(1, count * outlier.maxEjectionPercent / 100)
            guard ejected < allowed else { return }
            var endpoint = state.endpoints[index]
            if let last = endpoint.lastEjection,
                now - last > outlier.maxEjectionTime.duration + outlier.baseEjectionTime.duration
            {
                endpoint.ejections = 0  // Long since the last ejection: start the growth over.
            }
            endpoint.ejections += 1
            let duration = min(outlier.baseEjectionTime.duration * endpoint.ejections, outlier.maxEjectionTime.duration)
            endpoint.ejectedUntil = now + duration
            endpoint.lastEjection = now
            endpoint.consecutiveFailures = 0
            state.endpoints[index] = endpoint
            metrics.ejected(address, true)
        }
    }

    /// Starts waiting for a connection (the NIO pools): false when `maxPendingRequests` wait already.
    func beginPending() -> Bool {
        let admitted = state.withLock { $0.breaker.beginPending() }
        if !admitted { metrics.rejected(reason: CircuitBreaker.Rejection.maxPending.rawValue) }
        return admitted
    }

    func endPending() { state.withLock { $0.breaker.endPending() } }

    func beginRetry(after outcome: UpstreamOutcome) -> Bool {
        let budgeted = outcome != .connectFailed
        let allowed = state.withLock { $0.breaker.beginRetry(budget: config.retryBudget, budgeted: budgeted) }
        if allowed { metrics.retried() } else { metrics.budgetExhausted() }
        return allowed
    }

    func endRetry() { state.withLock { $0.breaker.endRetry() } }

    // MARK: health and discovery

    /// Applies one active health check result with the configured thresholds.
    public func recordHealthCheck(_ address: UpstreamAddress, healthy: Bool) {
        guard let check = config.healthCheck else { return }
        metrics.healthCheck(address, passed: healthy)
        state.withLock { state in
            guard let index = state.index[address] else { return }
            var endpoint = state.endpoints[index]
            let agrees = (endpoint.health == .healthy) == healthy && endpoint.health != .unknown
            endpoint.healthStreak = agrees ? 0 : endpoint.healthStreak + 1
            if healthy && endpoint.health != .healthy
                && (endpoint.health == .unknown || endpoint.healthStreak >= check.healthyThreshold)
            {
                endpoint.health = .healthy
                endpoint.healthStreak = 0
            } else if !healthy && endpoint.health != .unhealthy && endpoint.healthStreak >= check.unhealthyThreshold {
                endpoint.health = .unhealthy
                endpoint.healthStreak = 0
            }
            if endpoint.health != state.endpoints[index].health { metrics.health(address, endpoint.health) }
            state.endpoints[index] = endpoint
        }
    }

    /// Replaces the endpoint set (discovery). Endpoints that stay keep their state; calls in flight to
    /// removed ones finish on their own connections.
    public func updateEndpoints(_ endpoints: [(UpstreamAddress, Int)]) {
        state.withLock { Self.replace(&$0, with: endpoints) }
    }

    private static func replace(_ state: inout State, with endpoints: [(UpstreamAddress, Int)]) {
        var next: [Endpoint] = []
        var index: [UpstreamAddress: Int] = [:]
        for (address, weight) in endpoints where index[address] == nil {
            if let existing = state.index[address] {
                var kept = state.endpoints[existing]
                kept.balance.weight = weight
                next.append(kept)
            } else {
                next.append(Endpoint(address: address, balance: BalancerEndpoint(weight: weight), health: .unknown))
            }
            index[address] = next.count - 1
        }
        state.endpoints = next
        state.index = index
        state.balancer.endpointsChanged(
            keys: next.map { "\($0.address.url.host):\($0.address.port)/\($0.address.ip ?? "")" },
            weights: next.map(\.balance.weight))
    }

    /// A point-in-time view for the admin listener.
    public func snapshot() -> UpstreamServiceSnapshot {
        let now = ContinuousClock.now
        return state.withLock { state in
            UpstreamServiceSnapshot(
                name: name, protocol: config.protocol.rawValue, loadBalancing: config.loadBalancing.rawValue,
                circuit: .init(
                    state: state.breaker.state.description, activeRequests: state.breaker.activeRequests,
                    pendingRequests: state.breaker.pending, activeRetries: state.breaker.activeRetries),
                endpoints: state.endpoints.map { endpoint in
                    UpstreamServiceSnapshot.Endpoint(
                        url: endpoint.address.description, weight: endpoint.balance.weight,
                        health: endpoint.health.rawValue, ejected: endpoint.isEjected(at: now),
                        ejectedForSeconds: endpoint.ejectedUntil.map { max(0, Double(($0 - now).nanoseconds) / 1e9) },
                        ejections: endpoint.ejections, outstanding: endpoint.balance.outstanding,
                        consecutiveFailures: endpoint.consecutiveFailures,
                        latencyEWMAMilliseconds: endpoint.balance.ewmaNanos / 1e6)
                })
        }
    }
}

/// What `/upstreams` shows for one service.
public struct UpstreamServiceSnapshot: Codable, Sendable {
    public struct Circuit: Codable, Sendable {
        public var state: String
        public var activeRequests: Int
        public var pendingRequests: Int
        public var activeRetries: Int
    }

    public struct Endpoint: Codable, Sendable {
        public var url: String
        public var weight: Int
        public var health: String
        public var ejected: Bool
        public var ejectedForSeconds: Double?
        public var ejections: Int
        public var outstanding: Int
        public var consecutiveFailures: Int
        public var latencyEWMAMilliseconds: Double
    }

    public var name: String
    public var `protocol`: String
    public var loadBalancing: String
    public var circuit: Circuit
    public var endpoints: [Endpoint]
}

/// All declared services by name.
public struct ServiceRegistry: Sendable {
    public let services: [String: UpstreamService]

    public init(config: PorticoConfig) {
        services = Dictionary(
            uniqueKeysWithValues: config.services.map { ($0.key, UpstreamService(name: $0.key, config: $0.value)) })
    }

    init(services: [String: UpstreamService]) {
        self.services = services
    }

    public func service(_ name: String) throws(GatewayError) -> UpstreamService {
        guard let service = services[name] else {
            throw GatewayError(.noHealthyUpstream, "service '\(name)' is not declared")
        }
        return service
    }
}
