// The cache's LRU store as a value type: after a long run of inserts, touches and removals its
// recency list, byte count and limits still agree with what it holds.
import Testing

@testable import GatewayCore

@Suite struct ResponseCacheStoreTests {
    private func entry(_ path: String, size: Int, variant: String? = nil, at now: ContinuousClock.Instant)
        -> StoredEntry
    {
        StoredEntry(
            key: CacheKey(method: "GET", host: "h", target: path, route: "r", extra: []),
            varyNames: variant == nil ? [] : ["accept"], varyValues: variant == nil ? [] : [variant], status: 200,
            headers: [], body: [UInt8](repeating: 0, count: size), received: now,
            freshness: .init(lifetime: 60, initialAge: 0, sharedWithCredentials: false))
    }

    @Test func theRecencyListAndAccountingStayConsistent() {
        var store = ResponseCacheStore(maxBytes: 500, maxEntries: 12, maxVariants: 3)
        let now = ContinuousClock.now
        var seed: UInt64 = 42
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        for step in 0..<3_000 {
            let path = "/\(next(20))"
            switch next(4) {
            case 0, 1:
                let variant = next(3) == 0 ? nil : "v\(next(5))"
                _ = store.insert(entry(path, size: 1 + next(80), variant: variant, at: now), now: now)
            case 2:
                let key = CacheKey(method: "GET", host: "h", target: path, route: "r", extra: [])
                if let id = store.variantIDs(key).last { store.touch(id) }
            default:
                let key = CacheKey(method: "GET", host: "h", target: path, route: "r", extra: [])
                if let id = store.variantIDs(key).first { store.remove(id) }
            }
            let order = store.idsByRecency
            #expect(order.count == store.count, "step \(step)")
            #expect(Set(order) == Set(store.entries.keys), "step \(step)")
            #expect(store.bytes == store.entries.values.reduce(0) { $0 + $1.size }, "step \(step)")
            #expect(store.bytes <= 500 && store.count <= 12, "step \(step)")
            for path in 0..<20 {
                let key = CacheKey(method: "GET", host: "h", target: "/\(path)", route: "r", extra: [])
                #expect(store.variantIDs(key).count <= 3)
            }
        }
        store.removeAll()
        #expect(store.count == 0 && store.bytes == 0 && store.idsByRecency.isEmpty)
    }

    @Test func touchingMovesAnEntryToTheFrontOfTheList() {
        var store = ResponseCacheStore(maxBytes: 1_000, maxEntries: 10, maxVariants: 8)
        let now = ContinuousClock.now
        for path in ["/a", "/b", "/c"] { _ = store.insert(entry(path, size: 1, at: now), now: now) }
        let ids = store.idsByRecency
        store.touch(ids[0])
        #expect(store.idsByRecency == [ids[1], ids[2], ids[0]])
        store.remove(ids[2])
        #expect(store.idsByRecency == [ids[1], ids[0]])
    }
}
