// Helpers for the response cache tests: a manual clock and short ways to build requests, responses
// and caches.
import Synchronization

@testable import GatewayCore

/// A clock the test moves by hand.
final class CacheTestClock: Sendable {
    let start = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    var now: ContinuousClock.Instant { start + offset.withLock { $0 } }

    func advance(_ duration: Duration) { offset.withLock { $0 += duration } }
}

/// 2024-05-01 12:00:00 GMT.
let testWallNow: Int64 = 1_714_564_800

func makeTestCache(
    _ clock: CacheTestClock, store: CacheStoreConfig = .init(), excluded: [String] = [], maxVariants: Int = 8
) -> ResponseCache {
    ResponseCache(
        config: store, excludedHeaders: excluded, maxVariantsPerKey: maxVariants, now: { clock.now },
        wallClock: { testWallNow })
}

func cacheRequest(
    _ target: String = "/items", method: String = "GET", host: String = "api.example.com", route: String = "items",
    headers: CacheHeaders = []
) -> CacheRequest {
    CacheRequest(
        method: method, host: host, target: target, route: route, apiKeyHeader: "X-API-Key", headers: headers)
}

/// Stores a response through the streaming path.
@discardableResult
func storeBody(
    _ cache: ResponseCache, _ request: CacheRequest, status: Int = 200, headers: CacheHeaders = [],
    body: String = "hello", config: RouteCacheConfig = .init()
) -> CacheStoreOutcome {
    cache.store(status: status, headers: headers, body: Array(body.utf8), request: request, config: config)
}

extension CacheLookup {
    var response: CachedResponse? {
        if case .hit(let response) = self { return response }
        return nil
    }

    var bodyText: String? { response.map { String(decoding: $0.body, as: UTF8.self) } }

    var bypassReason: CacheBypassReason? {
        if case .bypass(let reason) = self { return reason }
        return nil
    }

    var isMiss: Bool {
        if case .miss = self { return true }
        return false
    }
}

extension CachedResponse {
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
