// The breaker's state machine and limits, driven with explicit instants.
import GatewayCore
import Testing

@testable import ServiceClient

@Suite struct CircuitBreakerTests {
    @Test func opensFailsFastHalfOpensAndCloses() {
        var breaker = CircuitBreaker(
            config: .init(consecutiveFailures: 3, openDuration: .seconds(5), halfOpenRequests: 1))
        let t0 = ContinuousClock.now
        for _ in 0..<3 {
            guard case .success(let probe) = breaker.admit(now: t0) else { Issue.record("refused"); return }
            _ = breaker.finish(probe: probe, failed: true, now: t0)
        }
        #expect(breaker.state.description == "open")
        #expect(breaker.admit(now: t0 + .seconds(1)) == .failure(.open))
        // After openDuration one probe is let through; a second call meanwhile is refused.
        #expect(breaker.admit(now: t0 + .seconds(6)) == .success(true))
        #expect(breaker.state == .halfOpen)
        #expect(breaker.admit(now: t0 + .seconds(6)) == .failure(.halfOpenBusy))
        // A failed probe opens it again; a good one closes it.
        _ = breaker.finish(probe: true, failed: true, now: t0 + .seconds(6))
        #expect(breaker.state.description == "open")
        #expect(breaker.admit(now: t0 + .seconds(12)) == .success(true))
        #expect(breaker.finish(probe: true, failed: false, now: t0 + .seconds(12)) == .closed)
        #expect(breaker.admit(now: t0 + .seconds(12)) == .success(false))
    }

    @Test func successesResetTheFailureCount() {
        var breaker = CircuitBreaker(config: .init(consecutiveFailures: 2))
        let now = ContinuousClock.now
        for failed in [true, false, true, false, true] {
            _ = breaker.admit(now: now)
            _ = breaker.finish(probe: false, failed: failed, now: now)
        }
        #expect(breaker.state == .closed)
    }

    @Test func cancelledCallsDoNotCount() {
        var breaker = CircuitBreaker(config: .init(consecutiveFailures: 1))
        let now = ContinuousClock.now
        _ = breaker.admit(now: now)
        _ = breaker.finish(probe: false, failed: nil, now: now)
        #expect(breaker.state == .closed)
    }

    @Test func concurrencyAndPendingLimits() {
        var breaker = CircuitBreaker(config: .init(maxConcurrentRequests: 2, maxPendingRequests: 1))
        let now = ContinuousClock.now
        #expect(breaker.admit(now: now) == .success(false))
        #expect(breaker.admit(now: now) == .success(false))
        #expect(breaker.admit(now: now) == .failure(.maxRequests))
        let first = breaker.beginPending()
        let second = breaker.beginPending()
        breaker.endPending()
        let third = breaker.beginPending()
        #expect(first && !second && third)
    }

    @Test func retryBudgetIsAShareOfActiveCalls() {
        var breaker = CircuitBreaker(config: .init(maxConcurrentRequests: 1000, maxConcurrentRetries: 100))
        let now = ContinuousClock.now
        for _ in 0..<50 { _ = breaker.admit(now: now) }
        let budget = RetryBudgetConfig(percent: 20, minConcurrency: 2)
        var granted = 0
        while breaker.beginRetry(budget: budget) { granted += 1 }
        #expect(granted == 10)
        breaker.endRetry()
        let again = breaker.beginRetry(budget: budget)
        #expect(again)
        // With few calls in flight the minimum still allows some.
        var quiet = CircuitBreaker(config: .init())
        _ = quiet.admit(now: now)
        let grants = (0..<3).map { _ in quiet.beginRetry(budget: budget) }
        #expect(grants == [true, true, false])
        // Connect failures are bounded by maxConcurrentRetries only.
        let unbudgeted = quiet.beginRetry(budget: budget, budgeted: false)
        #expect(unbudgeted)
    }
}
