// The token bucket on its own, with explicit instants: burst, refill, keys, headers.
import Testing

@testable import GatewayCore

@Suite struct RateLimiterTests {
    @Test func aBucketAllowsItsBurstThenRefillsAtTheRate() {
        let limiter = RateLimiter(config: .init(requests: 2, per: .seconds(10), burst: 3))
        let t0 = ContinuousClock.now
        let first = (0..<4).map { _ in limiter.take("a", now: t0) }
        #expect(first.map(\.allowed) == [true, true, true, false])
        #expect(first.map(\.remaining) == [2, 1, 0, 0])
        #expect(first[3].retryAfterSeconds == 5)  // 2 tokens per 10 s: one every 5 s
        #expect(first[0].limit == 3)
        // Other keys have their own bucket.
        #expect(limiter.take("b", now: t0).allowed)
        #expect(!limiter.take("a", now: t0 + .seconds(4)).allowed)
        #expect(limiter.take("a", now: t0 + .seconds(5)).allowed)
        // After a long quiet spell the bucket is full again, never more.
        let later = limiter.take("a", now: t0 + .seconds(600))
        #expect(later.allowed && later.remaining == 2)
    }

    @Test func headersFollowTheDecision() {
        let limiter = RateLimiter(config: .init(requests: 1, per: .seconds(60)))
        let now = ContinuousClock.now
        let allowed = limiter.take("k", now: now).headers(policyWindow: limiter.policyWindow)
        #expect(allowed.contains { $0 == ("RateLimit-Limit", "1") })
        #expect(allowed.contains { $0 == ("RateLimit-Policy", "1;w=60") })
        #expect(!allowed.contains { $0.0 == "Retry-After" })
        let refused = limiter.take("k", now: now).headers(policyWindow: limiter.policyWindow)
        #expect(refused.contains { $0 == ("Retry-After", "60") })
        #expect(refused.contains { $0 == ("RateLimit-Remaining", "0") })
    }

    @Test func keysFollowTheConfiguredSource() {
        let jwt = Identity(subject: "alice", scopes: [], method: .jwt)
        let key = Identity(subject: "ci", scopes: [], method: .apiKey)
        #expect(
            RateLimitConfig(requests: 1, per: .seconds(1)).key(clientAddress: "10.0.0.1", identity: jwt)
                == "ip:10.0.0.1")
        #expect(
            RateLimitConfig(requests: 1, per: .seconds(1), by: .identity).key(clientAddress: "x", identity: jwt)
                == "id:jwt:alice")
        #expect(
            RateLimitConfig(requests: 1, per: .seconds(1), by: .apiKey).key(clientAddress: "x", identity: key)
                == "key:ci")
        #expect(
            RateLimitConfig(requests: 1, per: .seconds(1), by: .apiKey).key(clientAddress: "x", identity: jwt) == "ip:x"
        )
        #expect(
            RateLimitConfig(requests: 1, per: .seconds(1), by: .route).key(clientAddress: "x", identity: nil) == "route"
        )
    }

    @Test func theKeyTableIsBounded() {
        let limiter = RateLimiter(config: .init(requests: 1, per: .seconds(1)), maxKeys: 10)
        let now = ContinuousClock.now
        for index in 0..<100 { _ = limiter.take("k\(index)", now: now) }
        // Still answers sensibly for a brand-new key.
        #expect(limiter.take("new", now: now).allowed)
    }
}
