// The response cache's memory as a value type driven under the engine's lock: entries in a doubly
// linked least-recently-used list keyed by id, grouped by cache key into a bounded number of Vary
// variants, with byte and count accounting and eviction.

/// One stored response.
struct StoredEntry: Sendable {
    var key: CacheKey
    /// The request headers the response varies on (lower-cased) and their normalised values.
    var varyNames: [String]
    var varyValues: [String?]
    var status: Int
    var headers: CacheHeaders
    var body: [UInt8]
    /// When the response arrived.
    var received: ContinuousClock.Instant
    var freshness: CacheFreshness
    /// Bytes of the body and the header names and values.
    var size: Int
    /// Neighbours in the recency list.
    fileprivate var newer: UInt64?
    fileprivate var older: UInt64?

    init(
        key: CacheKey, varyNames: [String], varyValues: [String?], status: Int, headers: CacheHeaders,
        body: [UInt8], received: ContinuousClock.Instant, freshness: CacheFreshness
    ) {
        self.key = key
        self.varyNames = varyNames
        self.varyValues = varyValues
        self.status = status
        self.headers = headers
        self.body = body
        self.received = received
        self.freshness = freshness
        self.size = body.count + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
    }

    /// Its age (RFC 9111 §4.2.3): the upstream `Age` plus the time spent here.
    func age(at now: ContinuousClock.Instant) -> Duration {
        .seconds(freshness.initialAge) + max(.zero, now - received)
    }

    func isFresh(at now: ContinuousClock.Instant) -> Bool { age(at: now) < .seconds(freshness.lifetime) }

    /// Whether it is the same variant as `other` (same Vary headers with the same values).
    func sameVariant(as other: StoredEntry) -> Bool {
        varyNames == other.varyNames && varyValues == other.varyValues
    }
}

struct ResponseCacheStore: Sendable {
    let maxBytes: Int
    let maxEntries: Int
    let maxVariants: Int
    /// How often at most a full pass drops expired entries when room is needed.
    let sweepInterval: Duration

    private(set) var entries: [UInt64: StoredEntry] = [:]
    /// Ids under each key, least recently used first.
    private var variants: [CacheKey: [UInt64]] = [:]
    private var newest: UInt64?
    private var oldest: UInt64?
    private(set) var bytes = 0
    private var nextID: UInt64 = 0
    private var lastSweep: ContinuousClock.Instant?

    init(maxBytes: Int, maxEntries: Int, maxVariants: Int, sweepInterval: Duration = .seconds(1)) {
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
        self.maxVariants = max(1, maxVariants)
        self.sweepInterval = sweepInterval
    }

    var count: Int { entries.count }

    /// The ids stored under `key`, most recently used first.
    func variantIDs(_ key: CacheKey) -> [UInt64] { variants[key]?.reversed() ?? [] }

    /// Ids from least to most recently used.
    var idsByRecency: [UInt64] {
        var ids: [UInt64] = []
        var cursor = oldest
        while let id = cursor, let entry = entries[id] {
            ids.append(id)
            cursor = entry.newer
        }
        return ids
    }

    /// Marks `id` as just used.
    mutating func touch(_ id: UInt64) {
        guard let entry = entries[id] else { return }
        unlink(id)
        linkNewest(id)
        if var ids = variants[entry.key], let index = ids.firstIndex(of: id) {
            ids.remove(at: index)
            ids.append(id)
            variants[entry.key] = ids
        }
    }

    @discardableResult
    mutating func remove(_ id: UInt64) -> StoredEntry? {
        guard let entry = entries[id] else { return nil }
        unlink(id)
        entries[id] = nil
        bytes -= entry.size
        if var ids = variants[entry.key] {
            ids.removeAll { $0 == id }
            variants[entry.key] = ids.isEmpty ? nil : ids
        }
        return entry
    }

    /// Adds `entry` (which must fit in `maxBytes`), replacing the same variant, and makes room by
    /// dropping, in turn, the key's least recently used variant beyond `maxVariants`, expired entries
    /// (at most one pass per `sweepInterval`), then the least recently used entries.
    mutating func insert(_ entry: StoredEntry, now: ContinuousClock.Instant) -> (evicted: Int, expired: Int) {
        var evicted = 0
        var expired = 0
        if let same = variants[entry.key]?.first(where: { entries[$0]?.sameVariant(as: entry) ?? false }) {
            remove(same)
        }
        while let ids = variants[entry.key], ids.count >= maxVariants, let leastUsed = ids.first {
            remove(leastUsed)
            evicted += 1
        }
        if needsRoom(for: entry.size), lastSweep.map({ now - $0 >= sweepInterval }) ?? true {
            lastSweep = now
            expired = removeExpired(now: now)
        }
        while needsRoom(for: entry.size), let victim = oldest {
            remove(victim)
            evicted += 1
        }
        let id = nextID
        nextID += 1
        entries[id] = entry
        bytes += entry.size
        variants[entry.key, default: []].append(id)
        linkNewest(id)
        return (evicted, expired)
    }

    /// Drops every entry that is no longer fresh at `now`; returns how many.
    mutating func removeExpired(now: ContinuousClock.Instant) -> Int {
        removeAll { !$0.isFresh(at: now) }
    }

    /// Drops the entries `predicate` picks; returns how many.
    @discardableResult
    mutating func removeAll(where predicate: (StoredEntry) -> Bool) -> Int {
        let doomed = entries.filter { predicate($0.value) }.map(\.key)
        for id in doomed { remove(id) }
        return doomed.count
    }

    mutating func removeAll() {
        entries = [:]
        variants = [:]
        newest = nil
        oldest = nil
        bytes = 0
    }

    private func needsRoom(for size: Int) -> Bool {
        bytes + size > maxBytes || entries.count + 1 > maxEntries
    }

    private mutating func unlink(_ id: UInt64) {
        guard let entry = entries[id] else { return }
        if let newer = entry.newer { entries[newer]?.older = entry.older } else { newest = entry.older }
        if let older = entry.older { entries[older]?.newer = entry.newer } else { oldest = entry.newer }
        entries[id]?.newer = nil
        entries[id]?.older = nil
    }

    private mutating func linkNewest(_ id: UInt64) {
        entries[id]?.older = newest
        entries[id]?.newer = nil
        if let newest { entries[newest]?.newer = id } else { oldest = id }
        newest = id
    }
}
