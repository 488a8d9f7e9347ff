// Per-request metrics shared by every gateway: `portico_requests_total` and
// `portico_request_duration_seconds`, labelled by gateway, route and status. Metric handles are
// cached per label set so the hot path does no factory lookup.
import Metrics
import Synchronization

public final class RequestMetrics: Sendable {
    public let gateway: String
    private struct Key: Hashable {
        var route: String
        var status: String
    }
    private struct Handles {
        var counter: Counter
        var timer: Timer
    }
    private let cache = Mutex<[Key: Handles]>([:])
    private let inFlight: Gauge
    private let inFlightCount = Atomic<Int>(0)

    public init(gateway: String) {
        self.gateway = gateway
        _ = Observability.registry
        self.inFlight = Gauge(label: "portico_requests_in_flight", dimensions: [("gateway", gateway)])
    }

    /// Records one finished request. `status` is the protocol's status (HTTP code, gRPC code name,
    /// WebSocket close code).
    public func record(route: String, status: String, duration: Duration) {
        let key = Key(route: route, status: status)
        let handles = cache.withLock { cache in
            if let handles = cache[key] { return handles }
            let dimensions = [("gateway", gateway), ("route", route), ("status", status)]
            let handles = Handles(
                counter: Counter(label: "portico_requests_total", dimensions: dimensions),
                timer: Timer(
                    label: "portico_request_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds))
            cache[key] = handles
            return handles
        }
        handles.counter.increment()
        handles.timer.recordNanoseconds(
            duration.nanoseconds)
    }

    public func requestStarted() {
        let value = inFlightCount.wrappingAdd(1, ordering: .relaxed).newValue
        inFlight.record(value)
    }

    public func requestFinished() {
        let value = inFlightCount.wrappingSubtract(1, ordering: .relaxed).newValue
        inFlight.record(value)
    }

    public var currentInFlight: Int { inFlightCount.load(ordering: .relaxed) }
}
