// The response cache engine with a manual clock: hits, misses and expiry, Age, freshness sources,
// request directives, HEAD, streaming bodies, LRU eviction, purge and stats.
import Testing

@testable import GatewayCore

@Suite struct ResponseCacheTests {
    @Test func aStoredResponseIsServedUntilItExpires() {
        let clock = CacheTestClock()
        let cache = makeTestCache(clock)
        #expect(cache.lookup(cacheRequest(), config: .init()).isMiss)
        #expect(
            storeBody(
                cache, cacheRequest(), headers: [("Cache-Control", "max-age=10"), ("Content-Type", "text/plain")])
                == .stored
        )
        let first = cache.lookup(cacheRequest(), config: .init())
        #expect(first.bodyText == "hello")
        #expect(first.response?.age == 0)
        #expect(first.response?.header("content-type") == "text/plain")
        #expect(first.status == .hit)
        clock.advance(.milliseconds(4_500))
        #expect(cache.lookup(cacheRequest(), config: .init()).response?.age == 4)
        clock.advance(.milliseconds(5_500))  // 10 s old: no longer fresh
        #expect(cache.lookup(cacheRequest(), config: .init()).isMiss)
        let stats = cache.stats
        #expect(stats.hits == 2 && stats.misses == 2 && stats.stores == 1)
        #expect(stats.expirations == 1 && stats.entries == 0 && stats.bytes == 0)
    }

    @Test func upstreamAgeShortensFreshnessAndIsServed() {
        let clock = CacheTestClock()
        let cache = makeTestCache(clock)
        storeBody(cache, cacheRequest(), headers: [("Cache-Control", "max-age=10"), ("Age", "3")])
        #expect(cache.lookup(cacheRequest(), config: .init()).response?.age == 3)
        clock.advance(.seconds(6))
        #expect(cache.lookup(cacheRequest(), config: .init()).response?.age == 9)
        clock.advance(.seconds(1))
        #expect(cache.lookup(cacheRequest(), config: .init()).isMiss)
        // Already as old as its lifetime: not stored at all.
        #expect(
            storeBody(cache, cacheRequest(), headers: [("Cache-Control", "max-age=10"), ("Age", "10")])
                == .notStored(.expired))
    }

    @Test func freshnessComesFromSMaxAgeThenMaxAgeThenExpiresThenTheRouteTTL() {
        let cache = makeTestCache(CacheTestClock())
        func lifetime(_ headers: CacheHeaders, config: RouteCacheConfig = .init()) -> Int? {
            guard
                case .storable(let freshness) = cache.storability(
                    status: 200, headers: headers, request: cacheRequest(), config: config)
            else { return nil }
            return freshness.lifetime
        }
        let date = HTTPDate.format(testWallNow - 100)
        let expires = HTTPDate.format(testWallNow + 200)
        #expect(lifetime([("Cache-Control", "max-age=60, s-maxage=5"), ("Expires", expires), ("Date", date)]) == 5)
        #expect(lifetime([("Cache-Control", "max-age=60"), ("Expires", expires), ("Date", date)]) == 60)
        #expect(lifetime([("Expires", expires), ("Date", date)]) == 300)  // Expires − Date
        #expect(lifetime([("Expires", expires)]) == 200)  // no Date: the time it arrived
        #expect(lifetime([("Expires", expires), ("Date", "yesterday")]) == 200)
        #expect(lifetime([]) == 60)
        #expect(lifetime([], config: .init(ttl: .seconds(5))) == 5)
        // Invalid or past Expires means already expired, even with a route ttl.
        #expect(lifetime([("Expires", "0")]) == nil)
        #expect(lifetime([("Expires", HTTPDate.format(testWallNow - 1))]) == nil)
        #expect(lifetime([("Cache-Control", "max-age=0")]) == nil)
        #expect(lifetime([("Cache-Control", "max-age=oops")]) == nil)
        #expect(
            cache.storability(status: 200, headers: [("Expires", "-1")], request: cacheRequest(), config: .init())
                == .notStorable(.expired))
    }

    @Test func requestDirectivesForceAMissWithoutDroppingTheEntry() {
        let clock = CacheTestClock()
        let cache = makeTestCache(clock)
        storeBody(cache, cacheRequest(), headers: [("Cache-Control", "max-age=100")])
        clock.advance(.seconds(30))
        for headers: CacheHeaders in [
            [("Cache-Control", "no-cache")], [("Cache-Control", "max-age=0")], [("Pragma", "no-cache")],
            [("Cache-Control", "max-age=29")], [("Cache-Control", "min-fresh=71")],
        ] {
            #expect(cache.lookup(cacheRequest(headers: headers), config: .init()).isMiss, "\(headers)")
        }
        #expect(
            cache.lookup(cacheRequest(headers: [("Cache-Control", "max-age=30")]), config: .init()).response?.age == 30)
        #expect(
            cache.lookup(cacheRequest(headers: [("Cache-Control", "min-fresh=70")]), config: .init()).response != nil)
        #expect(cache.lookup(cacheRequest(), config: .init()).response != nil)
        // no-store: no lookup, nothing stored.
        let noStore = cacheRequest(headers: [("cache-control", "No-Store")])
        let lookup = cache.lookup(noStore, config: .init())
        #expect(lookup.bypassReason == .requestNoStore && !lookup.mayStore && lookup.status == .bypass)
        #expect(storeBody(cache, noStore) == .notStored(.requestNoStore))
    }

    @Test func headIsAnsweredFromTheGetEntryButNeverStored() {
        let cache = makeTestCache(CacheTestClock())
        let head = cacheRequest(method: "HEAD")
        #expect(storeBody(cache, head, headers: [("Content-Length", "5")], body: "") == .notStored(.method))
        #expect(cache.lookup(head, config: .init()).isMiss)
        storeBody(cache, cacheRequest(), headers: [("Content-Length", "5")])
        let hit = cache.lookup(head, config: .init())
        #expect(hit.response?.body == [] && hit.response?.header("Content-Length") == "5")
        #expect(cache.lookup(cacheRequest(method: "head"), config: .init()).response != nil)
        // A route that caches GET only lets HEAD through; other methods always pass.
        #expect(cache.lookup(head, config: .init(methods: ["GET"])).bypassReason == .method)
        #expect(cache.lookup(cacheRequest(method: "POST"), config: .init()).bypassReason == .method)
        #expect(storeBody(cache, cacheRequest(method: "POST")) == .notStored(.method))
    }

    @Test func aStreamedBodyIsKeptUntilItPassesMaxEntrySize() {
        let cache = makeTestCache(CacheTestClock())
        let config = RouteCacheConfig(maxEntrySize: .init(bytes: 10))
        guard
            case .pending(var pending) = cache.begin(status: 200, headers: [], request: cacheRequest(), config: config)
        else {
            Issue.record("expected a pending entry")
            return
        }
        pending.append(contentsOf: Array("12345".utf8))
        pending.append(contentsOf: Array("67890".utf8)[...])
        #expect(pending.body.count == 10 && pending.abandoned == nil)
        pending.append(contentsOf: [UInt8(ascii: "!")])
        #expect(pending.abandoned == .tooLarge && pending.body.isEmpty)
        pending.append(contentsOf: [UInt8(ascii: "?")])
        #expect(pending.body.isEmpty)
        #expect(pending.commit() == .notStored(.tooLarge))
        #expect(cache.lookup(cacheRequest(), config: config).isMiss)
        // A declared length over the limit is refused before the body; exactly the limit is kept.
        if case .notStorable(let reason) = cache.begin(
            status: 200, headers: [], request: cacheRequest(), config: config, contentLength: 11)
        {
            #expect(reason == .tooLarge)
        } else {
            Issue.record("expected tooLarge")
        }
        #expect(storeBody(cache, cacheRequest(), body: "0123456789", config: config) == .stored)
        // An abandoned body (upstream failed) is not stored.
        if case .pending(var broken) = cache.begin(
            status: 200, headers: [], request: cacheRequest("/b"), config: config)
        {
            broken.append(contentsOf: Array("12".utf8))
            broken.abandon()
            #expect(broken.commit() == .notStored(.incomplete))
        }
        #expect(cache.lookup(cacheRequest("/b"), config: config).isMiss)
    }

    @Test func leastRecentlyUsedEntriesGoFirstWhenBytesRunOut() {
        let cache = makeTestCache(CacheTestClock(), store: .init(maxSize: .init(bytes: 30)))
        for path in ["/a", "/b", "/c"] { storeBody(cache, cacheRequest(path), body: "0123456789") }
        #expect(cache.stats.bytes == 30 && cache.stats.entries == 3)
        #expect(cache.lookup(cacheRequest("/a"), config: .init()).response != nil)  // /b is now the least used
        storeBody(cache, cacheRequest("/d"), body: "0123456789")
        #expect(cache.lookup(cacheRequest("/b"), config: .init()).isMiss)
        for path in ["/a", "/c", "/d"] { #expect(cache.lookup(cacheRequest(path), config: .init()).response != nil) }
        // A larger entry evicts as many as it needs.
        storeBody(cache, cacheRequest("/e"), body: String(repeating: "x", count: 25))
        #expect(cache.stats.entries == 1 && cache.stats.evictions == 4)
        // One larger than the whole store is refused without evicting anything.
        #expect(
            storeBody(cache, cacheRequest("/f"), body: String(repeating: "x", count: 31)) == .notStored(.exceedsStore))
        #expect(cache.stats.entries == 1)
    }

    @Test func leastRecentlyUsedEntriesGoFirstWhenTheCountRunsOut() {
        let cache = makeTestCache(CacheTestClock(), store: .init(maxEntries: 2))
        storeBody(cache, cacheRequest("/a"))
        storeBody(cache, cacheRequest("/b"))
        _ = cache.lookup(cacheRequest("/a"), config: .init())
        storeBody(cache, cacheRequest("/c"))
        #expect(cache.lookup(cacheRequest("/b"), config: .init()).isMiss)
        #expect(cache.lookup(cacheRequest("/a"), config: .init()).response != nil)
        #expect(cache.lookup(cacheRequest("/c"), config: .init()).response != nil)
        #expect(cache.stats.evictions == 1 && cache.stats.entries == 2)
        // Storing the same URL again replaces it rather than evicting.
        storeBody(cache, cacheRequest("/c"), body: "new")
        #expect(cache.lookup(cacheRequest("/c"), config: .init()).bodyText == "new")
        #expect(cache.stats.evictions == 1 && cache.stats.entries == 2)
    }

    @Test func expiredEntriesAreDroppedBeforeFreshOnesWhenRoomIsNeeded() {
        let clock = CacheTestClock()
        let cache = makeTestCache(clock, store: .init(maxEntries: 3))
        storeBody(cache, cacheRequest("/fresh"), headers: [("Cache-Control", "max-age=100")])
        storeBody(cache, cacheRequest("/short1"), headers: [("Cache-Control", "max-age=1")])
        storeBody(cache, cacheRequest("/short2"), headers: [("Cache-Control", "max-age=1")])
        clock.advance(.seconds(2))
        storeBody(cache, cacheRequest("/new"))
        #expect(cache.lookup(cacheRequest("/fresh"), config: .init()).response != nil)  // the LRU, but still fresh
        #expect(cache.stats.expirations == 2 && cache.stats.evictions == 0 && cache.stats.entries == 2)
        // And on demand.
        clock.advance(.seconds(60))
        #expect(cache.removeExpired() == 1)
        #expect(cache.stats.entries == 1)
    }

    @Test func purgeDropsOneRouteAndBodiesStillArrivingForIt() {
        let cache = makeTestCache(CacheTestClock())
        storeBody(cache, cacheRequest("/1", route: "a"))
        storeBody(cache, cacheRequest("/2", route: "a"))
        storeBody(cache, cacheRequest("/1", route: "b"))
        guard
            case .pending(var late) = cache.begin(
                status: 200, headers: [], request: cacheRequest("/3", route: "a"), config: .init())
        else {
            Issue.record("expected a pending entry")
            return
        }
        #expect(cache.purge(route: "a") == 2)
        late.append(contentsOf: Array("x".utf8))
        #expect(late.commit() == .notStored(.purged))
        #expect(cache.lookup(cacheRequest("/1", route: "a"), config: .init()).isMiss)
        #expect(cache.lookup(cacheRequest("/1", route: "b"), config: .init()).response != nil)
        // Entries begun after the purge are stored again.
        #expect(storeBody(cache, cacheRequest("/1", route: "a")) == .stored)
        cache.removeAll()
        #expect(cache.stats.entries == 0 && cache.stats.bytes == 0)
        #expect(cache.lookup(cacheRequest("/1", route: "b"), config: .init()).isMiss)
    }

    @Test func theKeyHoldsHostTargetRouteAndKeyHeaders() {
        let cache = makeTestCache(CacheTestClock())
        let config = RouteCacheConfig(keyHeaders: ["X-Tenant"])
        storeBody(cache, cacheRequest("/items?page=1", headers: [("X-Tenant", "acme")]), body: "acme", config: config)
        #expect(
            cache.lookup(cacheRequest("/items?page=1", headers: [("x-tenant", "acme")]), config: config).bodyText
                == "acme")
        for other in [
            cacheRequest("/items?page=2", headers: [("X-Tenant", "acme")]),
            cacheRequest("/items?page=1", headers: [("X-Tenant", "globex")]),
            cacheRequest("/items?page=1"),
            cacheRequest("/items?page=1", host: "other.example.com", headers: [("X-Tenant", "acme")]),
            cacheRequest("/items?page=1", route: "other", headers: [("X-Tenant", "acme")]),
        ] {
            #expect(cache.lookup(other, config: config).isMiss)
        }
        #expect(
            cache.lookup(
                cacheRequest("/items?page=1", host: "API.example.com", headers: [("X-Tenant", "acme")]),
                config: config
            ).bodyText == "acme")
    }

    @Test func cacheStatusNamesTheHeaderValues() {
        #expect(CacheStatus.headerName == "X-Portico-Cache")
        #expect([CacheStatus.hit, .miss, .bypass].map(\.rawValue) == ["HIT", "MISS", "BYPASS"])
        #expect(CacheLookup.miss.status == .miss && CacheLookup.miss.mayStore)
        #expect(CacheLookup.bypass(.credentials).mayStore && !CacheLookup.bypass(.method).mayStore)
    }
}
