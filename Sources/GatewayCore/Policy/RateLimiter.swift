// Token-bucket rate limiting, one bucket per key (client address, API key, identity, or the whole
// route), in process memory. Each bucket holds up to `burst` tokens and refills at
// `requests / per`; a request takes one token or is refused with the time until the next one.
// The decision carries what the RateLimit-* and Retry-After headers say.
import Synchronization

/// A route's rate limit. Keys: `requests` and `per` (the sustained rate, e.g. 100 per 1m), `burst`
/// (bucket size, default `requests`), `by` (`clientAddress`, `apiKey`, `identity` or `route`;
/// default `clientAddress`).
public struct RateLimitConfig: Codable, Sendable, Equatable {
    public enum Key: String, Codable, Sendable { case clientAddress, apiKey, identity, route }

    public var requests: Int
    public var per: ConfigDuration
    public var burst: Int?
    public var by: Key

    public init(requests: Int, per: ConfigDuration, burst: Int? = nil, by: Key = .clientAddress) {
        self.requests = requests
        self.per = per
        self.burst = burst
        self.by = by
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        requests = try c.decode(Int.self, forKey: .requests)
        per = try c.decode(ConfigDuration.self, forKey: .per)
        burst = try c.decodeIfPresent(Int.self, forKey: .burst)
        by = try c.value(.by, or: .clientAddress)
    }

    /// The bucket key of one request: `clientAddress` is always known; `apiKey` and `identity` fall
    /// back to it for callers without one.
    public func key(clientAddress: String?, identity: Identity?) -> String {
        let address = "ip:" + (clientAddress ?? "unknown")
        switch by {
        case .clientAddress: return address
        case .route: return "route"
        case .identity: return identity.map { "id:\($0.method.rawValue):\($0.subject)" } ?? address
        case .apiKey:
            guard let identity, identity.method == .apiKey else { return address }
            return "key:" + identity.subject
        }
    }
}

public final class RateLimiter: Sendable {
    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        public var limit: Int
        public var remaining: Int
        /// Seconds until the bucket is full again.
        public var resetSeconds: Int
        /// Seconds until a token is available (0 when allowed).
        public var retryAfterSeconds: Int

        /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`, `RateLimit-Policy`, and
        /// `Retry-After` when refused.
        public func headers(policyWindow: Int) -> [(String, String)] {
            var headers = [
                ("RateLimit-Limit", "\(limit)"), ("RateLimit-Remaining", "\(remaining)"),
                ("RateLimit-Reset", "\(resetSeconds)"), ("RateLimit-Policy", "\(limit);w=\(policyWindow)"),
            ]
            if !allowed { headers.append(("Retry-After", "\(max(1, retryAfterSeconds))")) }
            return headers
        }
    }

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    public let config: RateLimitConfig
    private let capacity: Double
    /// Tokens per second.
    private let rate: Double
    private let buckets = Mutex<[String: Bucket]>([:])
    /// Buckets kept at most; full (idle) ones are dropped first when it is reached.
    private let maxKeys: Int

    public init(config: RateLimitConfig, maxKeys: Int = 100_000) {
        self.config = config
        self.capacity = Double(config.burst ?? config.requests)
        let seconds =
            Double(config.per.duration.components.seconds)
            + Double(config.per.duration.components.attoseconds) / 1e18
        self.rate = Double(config.requests) / max(seconds, 0.001)
        self.maxKeys = maxKeys
    }

    /// The window of the `RateLimit-Policy` header, in seconds.
    public var policyWindow: Int { max(1, Int(config.per.duration.components.seconds)) }

    /// Takes a token for `key` at `now`, or says how long to wait.
    public func take(_ key: String, now: ContinuousClock.Instant = .now) -> Decision {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            let elapsed =
                Double((now - bucket.updated).components.attoseconds) / 1e18
                + Double((now - bucket.updated).components.seconds)
            bucket.tokens = min(capacity, bucket.tokens + max(0, elapsed) * rate)
            bucket.updated = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            if buckets[key] == nil && buckets.count >= maxKeys {
                Self.evict(&buckets, capacity: capacity, rate: rate, now: now)
            }
            buckets[key] = bucket
            return Decision(
                allowed: allowed, limit: Int(capacity), remaining: Int(bucket.tokens.rounded(.down)),
                resetSeconds: Int(((capacity - bucket.tokens) / rate).rounded(.up)),
                retryAfterSeconds: allowed ? 0 : Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }

    /// Drops the buckets that have refilled (their callers are idle); if none has, drops half.
    private static func evict(
        _ buckets: inout [String: Bucket], capacity: Double, rate: Double, now: ContinuousClock.Instant
    ) {
        let before = buckets.count
        buckets = buckets.filter { _, bucket in
            let elapsed = Double((now - bucket.updated).components.seconds)
            return bucket.tokens + elapsed * rate < capacity
        }
        if buckets.count == before {
            for key in buckets.keys.prefix(before / 2) { buckets[key] = nil }
        }
    }
}
