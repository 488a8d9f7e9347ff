// The WebSocket gateway's metrics (swift-metrics, exported by the admin listener's Prometheus registry):
// open connections, messages in and out by route, integration errors by route and code.
import Metrics
import Synchronization

final class WebSocketMetrics: Sendable {
    private let gateway: String
    private let openGauge: Gauge
    private let openCount = Atomic<Int>(0)
    private let connections: Counter
    private let counters = Mutex<[String: Counter]>([:])

    init(gateway: String) {
        self.gateway = gateway
        openGauge = Gauge(label: "portico_websocket_connections_open", dimensions: [("gateway", gateway)])
        connections = Counter(label: "portico_websocket_connections_total", dimensions: [("gateway", gateway)])
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
