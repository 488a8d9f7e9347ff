// The WebSocket gateway's metrics (swift-metrics, exported by the admin listener's Prometheus registry):
// open connections, disconnects by close code, messages and bytes in and out by route, integration
// latency and errors by route, slow-consumer closes and rate-limited messages.
import Metrics
import Synchronization

final class WebSocketMetrics: Sendable {
    private let gateway: String
    private let openGauge: Gauge
    private let openCount = Atomic<Int>(0)
    private let connections: Counter
    private let counters = Mutex<[String: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])
    private let slowConsumers: Counter
    private let rateLimited: Counter
    /// Counted for every message in and out: kept, not looked up by name each time.
    private let bytesIn: Counter
    private let bytesOut: Counter

    init(gateway: String) {
        self.gateway = gateway
        openGauge = Gauge(label: "portico_websocket_connections_open", dimensions: [("gateway", gateway)])
        connections = Counter(label: "portico_websocket_connections_total", dimensions: [("gateway", gateway)])
        slowConsumers = Counter(
            label: "portico_websocket_slow_consumer_closes_total", dimensions: [("gateway", gateway)])
        rateLimited = Counter(
            label: "portico_websocket_rate_limited_messages_total", dimensions: [("gateway", gateway)])
        bytesIn = Counter(label: "portico_websocket_bytes_in_total", dimensions: [("gateway", gateway)])
        bytesOut = Counter(label: "portico_websocket_bytes_out_total", dimensions: [("gateway", gateway)])
    }

    /// A connection ended with `code` (the close code the client saw, 1006 when none was exchanged).
    func disconnected(code: UInt16) {
        counter("portico_websocket_disconnects_total", [("code", "\(code)")]).increment()
    }

    /// A connection closed because its outbound queue was full.
    func slowConsumerClosed() { slowConsumers.increment() }

    /// A subscription that asked to recover from an offset: whether it could.
    func recovery(succeeded: Bool) {
        counter("portico_websocket_recoveries_total", [("outcome", succeeded ? "recovered" : "impossible")]).increment()
    }

    /// A client message refused because its connection was over `messageRate`.
    func messageRateLimited() { rateLimited.increment() }

    /// Payload bytes of a client message (`in`) or of a message written to a client (`out`).
    func bytes(in count: Int) { bytesIn.increment(by: Int64(count)) }
    func bytes(out count: Int) { bytesOut.increment(by: Int64(count)) }

    /// How long an integration call for `route` took, whatever its outcome.
    func integrationDuration(route: String, _ duration: Duration) {
        let timer = timers.withLock { cache in
            if let timer = cache[route] { return timer }
            let timer = Timer(
                label: "portico_websocket_integration_duration_seconds",
                dimensions: [("gateway", gateway), ("route", route)], preferredDisplayUnit: .seconds)
            cache[route] = timer
            return timer
        }
        timer.recordNanoseconds(duration.nanoseconds)
    }

    func connectionOpened() {
        connections.increment()
        openGauge.record(openCount.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    func connectionClosed() {
        openGauge.record(openCount.wrappingSubtract(1, ordering: .relaxed).newValue)
    }

    var openConnections: Int { openCount.load(ordering: .relaxed) }

    /// A client message taking `route` (a configured key, or `unmatched`).
    func messageIn(route: String) {
        counter("portico_websocket_messages_in_total", [("route", route)]).increment()
    }

    /// A message queued for a client: a reply or error for `route`, or a push (`@connections`).
    func messageOut(route: String) {
        counter("portico_websocket_messages_out_total", [("route", route)]).increment()
    }

    /// An integration call that failed or answered non-2xx; `code` is the gateway error code name.
    func integrationError(route: String, code: String) {
        counter("portico_websocket_integration_errors_total", [("route", route), ("code", code)]).increment()
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return counters.withLock { cache in
            if let counter = cache[key] { return counter }
            let counter = Counter(label: label, dimensions: [("gateway", gateway)] + dimensions)
            cache[key] = counter
            return counter
        }
    }
}
