// A response on its way into the cache: the gateway streams the body to the client and feeds each
// chunk here too; past the route's maxEntrySize the entry gives up (and frees what it held), and
// commit() stores it once the body is complete.

/// How ``ResponseCache/begin(status:headers:request:config:contentLength:)`` answered.
public enum CacheStoreStart: Sendable {
    /// Feed it the body, then commit.
    case pending(PendingEntry)
    case notStorable(CacheSkipReason)
}

/// A response being collected for the cache.
public struct PendingEntry: Sendable {
    struct Draft: Sendable {
        /// Everything but the body.
        var entry: StoredEntry
        var maxBody: Int
        var generation: UInt64
        var routeGeneration: UInt64
    }

    private let cache: ResponseCache
    private let draft: Draft
    public private(set) var body: [UInt8] = []
    /// Why it will not be stored, once it has given up.
    public private(set) var abandoned: CacheSkipReason?

    init(cache: ResponseCache, draft: Draft) {
        self.cache = cache
        self.draft = draft
    }

    /// Adds a chunk of the body; gives up when the body would pass the route's `maxEntrySize`.
    public mutating func append(contentsOf chunk: some Collection<UInt8>) {
        guard abandoned == nil else { return }
        guard body.count + chunk.count <= draft.maxBody else {
            abandon(.tooLarge)
            return
        }
        body.append(contentsOf: chunk)
    }

    /// Gives up, e.g. when the upstream fails or the client goes away mid-body.
    public mutating func abandon() { abandon(.incomplete) }

    private mutating func abandon(_ reason: CacheSkipReason) {
        abandoned = reason
        body = []
    }

    /// Stores the response with the body fed so far (call once the body is complete).
    @discardableResult
    public func commit() -> CacheStoreOutcome {
        if let abandoned { return .notStored(abandoned) }
        return cache.commit(draft, body: body)
    }
}
