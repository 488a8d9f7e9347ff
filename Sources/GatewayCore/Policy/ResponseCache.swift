// The REST gateway's in-memory HTTP response cache, a shared cache in the sense of RFC 9111: looks
// requests up (with Vary variants, request directives and credential rules), stores responses whose
// bodies arrive in chunks (PendingEntry), and evicts by total bytes and entry count, least recently
// used first. It never revalidates: stale entries are dropped, not served.
import Foundation
import Synchronization

/// One gateway's response cache, shared by its routes and safe to use from any thread.
///
/// Use: ``lookup(_:config:)`` before calling the upstream; on `.hit` answer from it; otherwise, if
/// ``CacheLookup/mayStore``, ``begin(status:headers:request:config:contentLength:)`` with the
/// upstream's response head, feed the body chunks to the ``PendingEntry`` and ``PendingEntry/commit()``
/// once the body is complete.
public final class ResponseCache: Sendable {
    private struct State: Sendable {
        var store: ResponseCacheStore
        var stats = ResponseCacheStats()
        /// Raised by ``removeAll()``; bodies that began before are not stored.
        var generation: UInt64 = 0
        /// Raised per route by ``purge(route:)``.
        var routeGenerations: [String: UInt64] = [:]
    }

    public let config: CacheStoreConfig
    private let excludedHeaders: Set<String>
    private let now: @Sendable () -> ContinuousClock.Instant
    private let wallClock: @Sendable () -> Int64
    private let state: Mutex<State>

    /// - Parameters:
    ///   - excludedHeaders: response headers never stored nor served (e.g. `X-Request-Id`), besides
    ///     hop-by-hop ones and `Age`.
    ///   - maxVariantsPerKey: Vary variants kept per key; the least recently used goes first.
    ///   - now: the clock of ages and freshness (tests pass a manual one).
    ///   - wallClock: seconds since 1970, for `Expires` without `Date` (default: the system clock).
    public init(
        config: CacheStoreConfig = .init(), excludedHeaders: [String] = [], maxVariantsPerKey: Int = 8,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        wallClock: (@Sendable () -> Int64)? = nil
    ) {
        self.config = config
        self.excludedHeaders = Set(excludedHeaders.map { $0.lowercased() })
        self.now = now
        self.wallClock = wallClock ?? { Int64(Date().timeIntervalSince1970) }
        self.state = Mutex(
            State(
                store: ResponseCacheStore(
                    maxBytes: config.maxSize.bytes, maxEntries: config.maxEntries, maxVariants: maxVariantsPerKey)))
    }

    /// Finds a fresh stored response for `request` on a route with `config`.
    ///
    /// Bypasses for a method the route does not cache, a request `no-store`, and credentials on a
    /// route that is not `authorized` unless a stored response may be shared with them. A request
    /// `no-cache`, `max-age=0` or `Pragma: no-cache`, a `max-age` below the entry's age or a
    /// `min-fresh` beyond its remaining freshness make a miss.
    public func lookup(_ request: CacheRequest, config route: RouteCacheConfig) -> CacheLookup {
        guard route.caches(method: request.method) else { return count(.bypass(.method)) }
        let control = request.cacheControl
        if control.noStore { return count(.bypass(.requestNoStore)) }
        let key = CachePolicy.key(for: request, config: route)
        let credentialsBlocked = request.hasCredentials && !route.authorized
        let now = self.now()
        return state.withLock { state in
            var found: (id: UInt64, entry: StoredEntry)?
            for id in state.store.variantIDs(key) {
                guard let entry = state.store.entries[id] else { continue }
                guard entry.isFresh(at: now) else {
                    state.store.remove(id)
                    state.stats.expirations += 1
                    continue
                }
                if found == nil
                    && entry.varyNames.map({ CachePolicy.normalize(request.header($0)) }) == entry.varyValues
                {
                    found = (id, entry)
                }
            }
            let result: CacheLookup
            if let (id, entry) = found, !credentialsBlocked || entry.freshness.sharedWithCredentials {
                let age = entry.age(at: now)
                let ageSeconds = Int(age.components.seconds)
                let remaining = Duration.seconds(entry.freshness.lifetime) - age
                if control.noCache || request.pragmaNoCache || control.maxAge == 0 {
                    result = .miss
                } else if let maxAge = control.maxAge, ageSeconds > maxAge {
                    result = .miss
                } else if let minFresh = control.minFresh, remaining < .seconds(minFresh) {
                    result = .miss
                } else {
                    state.store.touch(id)
                    result = .hit(
                        CachedResponse(
                            status: entry.status, headers: entry.headers,
                            body: request.method == "HEAD" ? [] : entry.body,
                            age: ageSeconds))
                }
            } else {
                result = credentialsBlocked ? .bypass(.credentials) : .miss
            }
            Self.count(result, in: &state.stats)
            return result
        }
    }

    /// Whether the upstream's response to `request` may be stored, and for how long.
    public func storability(
        status: Int, headers: CacheHeaders, request: CacheRequest, config route: RouteCacheConfig,
        contentLength: Int? = nil
    ) -> CacheStorability {
        CachePolicy.storability(
            status: status, headers: headers, request: request, config: route, contentLength: contentLength,
            wallNow: wallClock())
    }

    /// Starts storing the upstream's response to `request` when it may be stored: the returned entry
    /// collects the body. `contentLength` (when declared) refuses a large body before it arrives.
    public func begin(
        status: Int, headers: CacheHeaders, request: CacheRequest, config route: RouteCacheConfig,
        contentLength: Int? = nil
    ) -> CacheStoreStart {
        let freshness: CacheFreshness
        switch storability(
            status: status, headers: headers, request: request, config: route, contentLength: contentLength)
        {
        case .notStorable(let reason): return .notStorable(reason)
        case .storable(let value): freshness = value
        }
        let varyNames = CachePolicy.varyNames(headers) ?? []
        let generations = state.withLock { ($0.generation, $0.routeGenerations[request.route] ?? 0) }
        let draft = PendingEntry.Draft(
            entry: StoredEntry(
                key: CachePolicy.key(for: request, config: route), varyNames: varyNames,
                varyValues: varyNames.map { CachePolicy.normalize(request.header($0)) }, status: status,
                headers: CachePolicy.storedHeaders(headers, excluded: excludedHeaders), body: [],
                received: now(), freshness: freshness),
            maxBody: route.maxEntrySize.bytes, generation: generations.0, routeGeneration: generations.1)
        return .pending(PendingEntry(cache: self, draft: draft))
    }

    /// Stores a response whose whole body is at hand.
    @discardableResult
    public func store(
        status: Int, headers: CacheHeaders, body: [UInt8], request: CacheRequest, config route: RouteCacheConfig
    ) -> CacheStoreOutcome {
        switch begin(status: status, headers: headers, request: request, config: route, contentLength: body.count) {
        case .notStorable(let reason): return .notStored(reason)
        case .pending(var pending):
            pending.append(contentsOf: body)
            return pending.commit()
        }
    }

    /// Drops every response stored for `route` (on a config reload); returns how many.
    @discardableResult
    public func purge(route: String) -> Int {
        state.withLock { state in
            state.routeGenerations[route, default: 0] += 1
            return state.store.removeAll { $0.key.route == route }
        }
    }

    /// Drops what is stored for one URL of a route (RFC 9111 §4.4: after an unsafe request to it
    /// succeeded), every variant; returns how many.
    @discardableResult
    public func invalidate(host: String, target: String, route: String) -> Int {
        state.withLock { state in
            state.store.removeAll { $0.key.route == route && $0.key.target == target && $0.key.host == host }
        }
    }

    /// Drops every stored response.
    public func removeAll() {
        state.withLock { state in
            state.generation += 1
            state.store.removeAll()
        }
    }

    /// Drops every response that is no longer fresh (lookups and eviction also do); returns how many.
    @discardableResult
    public func removeExpired() -> Int {
        let now = self.now()
        return state.withLock { state in
            let removed = state.store.removeExpired(now: now)
            state.stats.expirations += removed
            return removed
        }
    }

    /// The counters so far and what is held now.
    public var stats: ResponseCacheStats {
        state.withLock { state in
            var stats = state.stats
            stats.bytes = state.store.bytes
            stats.entries = state.store.count
            return stats
        }
    }

    /// Stores a completed ``PendingEntry``.
    func commit(_ draft: PendingEntry.Draft, body: [UInt8]) -> CacheStoreOutcome {
        var entry = draft.entry
        entry.size += body.count
        entry.body = body
        let now = self.now()
        return state.withLock { state in
            guard draft.generation == state.generation,
                draft.routeGeneration == state.routeGenerations[entry.key.route] ?? 0
            else { return .notStored(.purged) }
            guard entry.size <= state.store.maxBytes else { return .notStored(.exceedsStore) }
            guard entry.isFresh(at: now) else { return .notStored(.expired) }
            let dropped = state.store.insert(entry, now: now)
            state.stats.stores += 1
            state.stats.evictions += dropped.evicted
            state.stats.expirations += dropped.expired
            return .stored
        }
    }

    private func count(_ result: CacheLookup) -> CacheLookup {
        state.withLock { Self.count(result, in: &$0.stats) }
        return result
    }

    private static func count(_ result: CacheLookup, in stats: inout ResponseCacheStats) {
        switch result {
        case .hit: stats.hits += 1
        case .miss: stats.misses += 1
        case .bypass: stats.bypasses += 1
        }
    }
}
