// Metrics of the REST response cache: lookups by route and result, and the memory it holds.
import GatewayCore
import Metrics

final class CacheCounters: Sendable {
    let hits: Counter
    let misses: Counter
    let bypasses: Counter

    init(route: String) {
        hits = Counter(label: "portico_cache_lookups_total", dimensions: [("route", route), ("result", "hit")])
        misses = Counter(label: "portico_cache_lookups_total", dimensions: [("route", route), ("result", "miss")])
        bypasses = Counter(label: "portico_cache_lookups_total", dimensions: [("route", route), ("result", "bypass")])
    }

    func count(_ status: CacheStatus) {
        switch status {
        case .hit: hits.increment()
        case .miss: misses.increment()
        case .bypass: bypasses.increment()
        }
    }

    /// Reports the cache's size (after each store, and when the gateway's routes are built).
    static func recordSize(of cache: ResponseCache) {
        let stats = cache.stats
        entries.record(stats.entries)
        bytes.record(stats.bytes)
    }

    private static let entries = Gauge(label: "portico_cache_entries")
    private static let bytes = Gauge(label: "portico_cache_bytes")
}
