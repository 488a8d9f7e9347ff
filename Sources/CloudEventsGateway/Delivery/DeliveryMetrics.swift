// Delivery metrics: `portico_cloudevents_delivered_total{trigger,outcome}` per finished delivery and
// `portico_cloudevents_queue_depth`, the deliveries waiting in the in-memory queue.
import GatewayCore
import Metrics
import Synchronization

/// How one delivery (one event to one trigger) ended.
enum DeliveryOutcome: String, Sendable, CaseIterable {
    /// The subscriber answered 2xx.
    case delivered
    /// The subscriber refused the event with a status that retrying cannot change (4xx other than 408/429).
    case rejected
    /// Every attempt failed.
    case failed
    /// The gateway stopped before the delivery could finish.
    case dropped
}

final class DeliveryMetrics: Sendable {
    private struct Key: Hashable {
        var trigger: String
        var outcome: DeliveryOutcome
    }
    private let counters = Mutex<[Key: Counter]>([:])
    private let queueDepth: Gauge

    /// Creates the counters of every configured trigger up front, so they show (at 0) before any delivery.
    init(triggers: [String]) {
        _ = Observability.registry
        queueDepth = Gauge(label: "portico_cloudevents_queue_depth")
        queueDepth.record(0)
        for trigger in triggers {
            for outcome in DeliveryOutcome.allCases { _ = counter(trigger: trigger, outcome: outcome) }
        }
    }

    func record(trigger: String, outcome: DeliveryOutcome) {
        counter(trigger: trigger, outcome: outcome).increment()
    }

    func recordQueueDepth(_ depth: Int) {
        queueDepth.record(depth)
    }

    private func counter(trigger: String, outcome: DeliveryOutcome) -> Counter {
        counters.withLock { counters in
            let key = Key(trigger: trigger, outcome: outcome)
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "portico_cloudevents_delivered_total",
                dimensions: [("trigger", trigger), ("outcome", outcome.rawValue)])
            counters[key] = counter
            return counter
        }
    }
}
