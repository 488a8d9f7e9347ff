// Which outcomes are retried for which requests, how long the waits are, `Retry-After`, and deadlines.
import Foundation
import GatewayCore
import Testing

@testable import ServiceClient

@Suite struct RetryPolicyTests {
    let idempotent = RetryableRequest(isIdempotent: true, bodyReplayable: true)
    let post = RetryableRequest(isIdempotent: false, bodyReplayable: true)

    @Test func defaultsRetryOnlyWhatIsSafe() {
        let policy = RetryPolicy(RetryConfig())
        #expect(policy.allows(.connectFailed, attempt: 1, request: post))
        #expect(!policy.allows(.reset, attempt: 1, request: post))
        #expect(policy.allows(.reset, attempt: 1, request: idempotent))
        #expect(policy.allows(.response(status: 503), attempt: 1, request: idempotent))
        #expect(!policy.allows(.response(status: 500), attempt: 1, request: idempotent))
        #expect(!policy.allows(.timedOut, attempt: 1, request: idempotent))
        #expect(!policy.allows(.cancelled, attempt: 1, request: idempotent))
        // attempts: 2 means one retry.
        #expect(!policy.allows(.connectFailed, attempt: 2, request: idempotent))
        // A body that was not kept cannot be sent again.
        #expect(!policy.allows(.connectFailed, attempt: 1, request: .init(isIdempotent: true, bodyReplayable: false)))
    }

    @Test func routesCanWidenThePolicy() {
        let policy = RetryPolicy(
            RetryConfig(
                attempts: 4, retryOn: [.timeout, .reset], statuses: [502], grpcStatuses: [.UNAVAILABLE],
                nonIdempotent: true))
        #expect(policy.allows(.timedOut, attempt: 3, request: post))
        #expect(policy.allows(.response(status: 502), attempt: 1, request: post))
        #expect(policy.allows(.grpc(status: 14), attempt: 1, request: post))
        #expect(!policy.allows(.connectFailed, attempt: 1, request: post))
    }

    @Test func idempotencyFollowsTheMethodOrAKey() {
        #expect(RetryableRequest.isIdempotent(method: "GET", hasIdempotencyKey: false))
        #expect(RetryableRequest.isIdempotent(method: "put", hasIdempotencyKey: false))
        #expect(!RetryableRequest.isIdempotent(method: "POST", hasIdempotencyKey: false))
        #expect(RetryableRequest.isIdempotent(method: "POST", hasIdempotencyKey: true))
    }

    @Test func backoffIsFullJitterUnderACap() {
        let policy = RetryPolicy(RetryConfig(backoff: .init(base: .milliseconds(10), max: .milliseconds(40))))
        for attempt in 1...6 {
            let cap = min(40, 10 << (attempt - 1))
            for _ in 0..<50 {
                let wait = policy.backoff(after: attempt)
                #expect(wait >= .zero && wait <= .milliseconds(cap))
            }
        }
    }

    @Test func retryAfterIsHonouredWithinTheDeadline() {
        let policy = RetryPolicy(RetryConfig())
        #expect(RetryPolicy.parseRetryAfter("3") == .seconds(3))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let later = "Tue, 14 Nov 2023 22:13:30 GMT"  // 10 s after `now`
        #expect(RetryPolicy.parseRetryAfter(later, now: now) == .seconds(10))
        #expect(RetryPolicy.parseRetryAfter("soon") == nil)
        let wait = policy.delay(after: 1, retryAfter: "1", remaining: .seconds(5))
        #expect(wait.map { $0 >= .seconds(1) } == true)
        // The service asks for longer than the call has left: no retry.
        #expect(policy.delay(after: 1, retryAfter: "10", remaining: .seconds(5)) == nil)
    }

    @Test func theCallersShorterDeadlineWins() {
        let now = ContinuousClock.now
        let deadline = CallDeadline(timeout: .seconds(10), callerTimeout: .milliseconds(500), now: now)
        #expect(deadline.end == now + .milliseconds(500))
        #expect(CallDeadline(timeout: .seconds(1), callerTimeout: .seconds(9), now: now).total == .seconds(1))
        #expect(CallDeadline.parseHeader("250") == .milliseconds(250))
        #expect(CallDeadline.parseHeader("-1") == nil)
        #expect(CallDeadline.parseHeader("abc") == nil)
        #expect(CallDeadline.headerValue(.microseconds(1500)) == "2")
        let perTry = CallDeadline(timeout: .seconds(10)).tryTimeout(perTry: .milliseconds(300))
        #expect(perTry == .milliseconds(300))
    }
}
