// The balancing algorithms on their own: distribution, weights, least outstanding, EWMA preference,
// and the consistent-hash ring's stickiness and minimal movement.
import GatewayCore
import Testing

@testable import ServiceClient

@Suite struct LoadBalancerTests {
    func endpoints(_ weights: [Int]) -> [BalancerEndpoint] { weights.map { BalancerEndpoint(weight: $0) } }

    @Test func roundRobinTakesTurns() {
        var balancer = LoadBalancer(policy: .roundRobin)
        var table = endpoints([1, 1, 1])
        var counts = [0, 0, 0]
        for _ in 0..<300 { counts[balancer.pick(candidates: [0, 1, 2], endpoints: &table, key: nil)] += 1 }
        #expect(counts == [100, 100, 100])
    }

    @Test func weightedRoundRobinIsProportionalAndSmooth() {
        var balancer = LoadBalancer(policy: .weightedRoundRobin)
        var table = endpoints([3, 1])
        let picks = (0..<8).map { _ in balancer.pick(candidates: [0, 1], endpoints: &table, key: nil) }
        #expect(picks.filter { $0 == 0 }.count == 6)
        // Smooth: the heavy endpoint never takes four in a row.
        #expect(!picks.map(String.init).joined().contains("0000"))
    }

    @Test func leastRequestAvoidsBusyEndpoints() {
        var balancer = LoadBalancer(policy: .leastRequest)
        var table = endpoints([1, 1, 1])
        table[0].outstanding = 5
        table[1].outstanding = 1
        table[2].outstanding = 3
        for _ in 0..<10 { #expect(balancer.pick(candidates: [0, 1, 2], endpoints: &table, key: nil) == 1) }
    }

    @Test func ewmaPrefersTheFasterEndpoint() {
        var balancer = LoadBalancer(policy: .ewma)
        var table = endpoints([1, 1])
        let now = ContinuousClock.now
        table[0].observe(latency: .milliseconds(200), now: now)
        table[1].observe(latency: .milliseconds(5), now: now)
        let picks = (0..<50).map { _ in balancer.pick(candidates: [0, 1], endpoints: &table, key: nil) }
        #expect(picks.allSatisfy { $0 == 1 })
    }

    @Test func peakEWMAJumpsUpAndDecaysDown() {
        var endpoint = BalancerEndpoint(weight: 1)
        let start = ContinuousClock.now
        endpoint.observe(latency: .milliseconds(10), now: start)
        endpoint.observe(latency: .milliseconds(100), now: start + .milliseconds(1))
        #expect(endpoint.ewmaNanos == 100e6)
        endpoint.observe(latency: .milliseconds(10), now: start + .seconds(30))
        #expect(endpoint.ewmaNanos < 20e6)
    }

    @Test func ringHashKeepsKeysAndMovesFewWhenAnEndpointIsAdded() {
        let keys = (0..<2000).map { "user-\($0)" }
        var three = LoadBalancer(policy: .ringHash)
        three.endpointsChanged(keys: ["a", "b", "c"], weights: [1, 1, 1])
        var table = endpoints([1, 1, 1])
        let before = keys.map { three.pick(candidates: [0, 1, 2], endpoints: &table, key: $0) }
        let again = keys.map { three.pick(candidates: [0, 1, 2], endpoints: &table, key: $0) }
        #expect(before == again)
        let share = (0..<3).map { index in before.filter { $0 == index }.count }
        #expect(share.allSatisfy { $0 > 450 && $0 < 900 })

        var four = LoadBalancer(policy: .ringHash)
        four.endpointsChanged(keys: ["a", "b", "c", "d"], weights: [1, 1, 1, 1])
        var table4 = endpoints([1, 1, 1, 1])
        let after = keys.map { four.pick(candidates: [0, 1, 2, 3], endpoints: &table4, key: $0) }
        let moved = zip(before, after).filter { $0 != $1 }.count
        // Ideal is a quarter; every moved key must have moved to the new endpoint.
        #expect(moved > 300 && moved < 700)
        #expect(zip(before, after).allSatisfy { $0 == $1 || $1 == 3 })
    }

    @Test func ringHashSkipsUnavailableEndpointsOnly() {
        var balancer = LoadBalancer(policy: .ringHash)
        balancer.endpointsChanged(keys: ["a", "b", "c"], weights: [1, 1, 1])
        var table = endpoints([1, 1, 1])
        let keys = (0..<500).map { "k\($0)" }
        let all = keys.map { balancer.pick(candidates: [0, 1, 2], endpoints: &table, key: $0) }
        let without1 = keys.map { balancer.pick(candidates: [0, 2], endpoints: &table, key: $0) }
        #expect(without1.allSatisfy { $0 != 1 })
        // Keys that were not on the missing endpoint stay where they were.
        #expect(zip(all, without1).allSatisfy { $0 == 1 || $0 == $1 })
    }
}
