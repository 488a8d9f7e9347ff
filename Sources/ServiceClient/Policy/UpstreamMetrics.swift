// The client layer's metrics, per service and endpoint (names and meanings in docs/service-client.md):
// tries by outcome and their latency, retries, budget exhaustion, ejections, breaker state and
// rejections, health check results and health state. Handles are cached so the hot path does no
// factory lookup.
import GatewayCore
import Metrics
import Synchronization

final class UpstreamMetrics: Sendable {
    let service: String
    /// One endpoint's handles: its latency timer and a counter per outcome label, made on first use.
    private final class EndpointHandles: Sendable {
        let timer: Timer
        let counters: Mutex<[String: Counter]>

        init(timer: Timer) {
            self.timer = timer
            self.counters = Mutex([:])
        }
    }
    private let handles = Mutex<[UpstreamAddress: EndpointHandles]>([:])
    private let retries: Counter
    private let exhausted: Counter
    private let panics: Counter
    private let circuit: Gauge
    private let active: Gauge

    init(service: String) {
        self.service = service
        _ = Observability.registry
        let dimensions = [("service", service)]
        retries = Counter(label: "portico_upstream_retries_total", dimensions: dimensions)
        exhausted = Counter(label: "portico_upstream_retry_budget_exhausted_total", dimensions: dimensions)
        panics = Counter(label: "portico_upstream_panic_total", dimensions: dimensions)
        circuit = Gauge(label: "portico_upstream_circuit_state", dimensions: dimensions)
        active = Gauge(label: "portico_upstream_active_requests", dimensions: dimensions)
    }

    func recordTry(_ endpoint: UpstreamAddress, outcome: UpstreamOutcome, latency duration: Duration) {
        let handles = handles(for: endpoint)
        counter(outcome.label, in: handles, endpoint: endpoint).increment()
        handles.timer.recordNanoseconds(duration.nanoseconds)
    }

    private func handles(for endpoint: UpstreamAddress) -> EndpointHandles {
        handles.withLock { cache in
            if let existing = cache[endpoint] { return existing }
            let created = EndpointHandles(
                timer: Timer(
                    label: "portico_upstream_request_duration_seconds",
                    dimensions: [("service", service), ("endpoint", endpoint.description)],
                    preferredDisplayUnit: .seconds))
            cache[endpoint] = created
            return created
        }
    }

    private func counter(_ label: String, in handles: EndpointHandles, endpoint: UpstreamAddress) -> Counter {
        handles.counters.withLock { counters in
            if let existing = counters[label] { return existing }
            let created = Counter(
                label: "portico_upstream_requests_total",
                dimensions: [("service", service), ("endpoint", endpoint.description), ("outcome", label)])
            counters[label] = created
            return created
        }
    }

    /// A response that broke after its head: counted under its own outcome, with no latency sample.
    func lateFailure(_ endpoint: UpstreamAddress, outcome: UpstreamOutcome) {
        counter(outcome.label, in: handles(for: endpoint), endpoint: endpoint).increment()
    }

    func retried() { retries.increment() }
    func budgetExhausted() { exhausted.increment() }
    func panic() { panics.increment() }
    func circuitState(_ value: Int) { circuit.record(value) }
    func activeRequests(_ value: Int) { active.record(value) }

    func rejected(reason: String) {
        Counter(
            label: "portico_upstream_circuit_rejections_total", dimensions: [("service", service), ("reason", reason)]
        )
        .increment()
    }

    func ejected(_ endpoint: UpstreamAddress, _ ejected: Bool) {
        let dimensions = [("service", service), ("endpoint", endpoint.description)]
        if ejected { Counter(label: "portico_upstream_ejections_total", dimensions: dimensions).increment() }
        Gauge(label: "portico_upstream_endpoint_ejected", dimensions: dimensions).record(ejected ? 1 : 0)
    }

    func healthCheck(_ endpoint: UpstreamAddress, passed: Bool) {
        Counter(
            label: "portico_upstream_health_checks_total",
            dimensions: [
                ("service", service), ("endpoint", endpoint.description), ("result", passed ? "pass" : "fail"),
            ]
        ).increment()
    }

    func health(_ endpoint: UpstreamAddress, _ health: EndpointHealth) {
        Gauge(
            label: "portico_upstream_endpoint_healthy",
            dimensions: [("service", service), ("endpoint", endpoint.description)]
        ).record(health == .unhealthy ? 0 : 1)
    }
}
