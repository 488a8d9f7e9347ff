// The client layer under faults, seen through a real REST gateway: a dead endpoint is ejected with no
// client-visible failure, slow upstreams time out, the breaker opens and recovers, the retry budget
// caps retries, Retry-After is honoured, ring hashing sticks, a departed client cancels the upstream
// call, and the deadline travels upstream.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@Suite("REST resilience", .serialized)
struct RESTResilienceTests {
    /// A REST gateway with one route `/api/*` to service `svc` on `upstreams`, with `policy` lines
    /// added to the service.
    static func gateway(_ upstreams: [FaultyUpstream], policy: String, route: String = "") async throws
        -> GatewayProcess
    {
        let endpoints = upstreams.map { "\"\($0.url)\"" }.joined(separator: ", ")
        let indented = policy.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        return try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  svc:
                    endpoints: [\(endpoints)]
                \(indented)
                gateways:
                  rest:
                    routes:
                      - { name: api, match: { prefix: /api }, service: svc\(route) }
                """)
    }

    static func stop(_ gateway: GatewayProcess, _ upstreams: [FaultyUpstream]) async {
        await gateway.stop()
        for upstream in upstreams { await upstream.stop() }
    }

    @Test func aDeadEndpointIsEjectedWithoutClientFailures() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        let b = try await FaultyUpstream.start(name: "b")
        let gateway = try await Self.gateway(
            [a, b], policy: "outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 1s }")
        try await a.refuse()
        var served: [String: Int] = [:]
        for index in 0..<30 {
            let reply = try await Resilience.call(gateway.baseURL + "/api/item/\(index)")
            #expect(reply.status == 200)
            served[reply.upstream ?? "?", default: 0] += 1
        }
        #expect(served == ["b": 30])
        let view = try await Resilience.upstreams(gateway)["svc"]
        // Ejected at least once (the 1 s ejection may already be over on a slow machine).
        #expect((view?.endpoints.first { $0.url == a.url }?.ejections ?? 0) >= 1)
        #expect(try await Resilience.metric(gateway, "portico_upstream_ejections_total", ["service=\"svc\""]) >= 1)
        #expect(try await Resilience.metric(gateway, "portico_upstream_retries_total") >= 3)

        // Back up: once the ejection ends, traffic returns to it.
        try await a.resume()
        let recovered = try await Resilience.eventually {
            try await Resilience.call(gateway.baseURL + "/api/again").upstream == "a"
        }
        #expect(recovered)
        await Self.stop(gateway, [a, b])
    }

    @Test func aSlowUpstreamGets504AtTheRouteTimeout() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        a.set(.delay(.seconds(5)))
        let gateway = try await Self.gateway([a], policy: "requestTimeout: 300ms")
        let reply = try await Resilience.call(gateway.baseURL + "/api/slow")
        #expect(reply.status == 504)
        #expect(reply.text.contains("upstream_timeout"))
        await Self.stop(gateway, [a])
    }

    @Test func theBreakerOpensFailsFastHalfOpensAndCloses() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        a.set(.status(503))
        let gateway = try await Self.gateway(
            [a],
            policy: """
                outlierDetection: { enabled: false }
                retry: { attempts: 1 }
                circuitBreaker: { consecutiveFailures: 3, openDuration: 1s }
                """)
        for _ in 0..<3 {
            let reply = try await Resilience.call(gateway.baseURL + "/api/x")
            #expect(reply.status == 503 && reply.upstream == "a")
        }
        let seen = a.requestCount
        let open = try await Resilience.call(gateway.baseURL + "/api/x")
        #expect(open.status == 503 && open.upstream == nil)
        #expect(open.text.contains("circuit_open"))
        #expect(a.requestCount == seen)
        #expect(try await Resilience.upstreams(gateway)["svc"]?.circuit.state == "open")
        #expect(try await Resilience.metric(gateway, "portico_upstream_circuit_state", ["svc"]) == 1)

        a.set(.ok)
        try await Task.sleep(for: .milliseconds(1200))
        let probe = try await Resilience.call(gateway.baseURL + "/api/x")
        #expect(probe.status == 200)
        #expect(try await Resilience.upstreams(gateway)["svc"]?.circuit.state == "closed")
        #expect(try await Resilience.call(gateway.baseURL + "/api/x").status == 200)
        #expect(try await Resilience.metric(gateway, "portico_upstream_circuit_rejections_total", ["open"]) >= 1)
        await Self.stop(gateway, [a])
    }

    @Test func retriesStopWhenTheBudgetIsSpent() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        a.set(.slowStatus(503, .milliseconds(300)))
        let gateway = try await Self.gateway(
            [a],
            policy: """
                outlierDetection: { enabled: false }
                circuitBreaker: { consecutiveFailures: 0 }
                retry: { attempts: 3, backoff: { base: 1ms, max: 2ms } }
                retryBudget: { percent: 10, minConcurrency: 1 }
                """)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<20 {
                group.addTask { try await Resilience.call(gateway.baseURL + "/api/\(index)").status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 503 })
        // Unbounded, 20 calls × 3 attempts would be 60 requests; the budget lets about 2 retry at a time.
        #expect(a.requestCount < 40)
        #expect(try await Resilience.metric(gateway, "portico_upstream_retry_budget_exhausted_total") > 0)
        await Self.stop(gateway, [a])
    }

    @Test func retryAfterIsHonouredOnAnotherEndpoint() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        let b = try await FaultyUpstream.start(name: "b")
        a.set(.status(503, retryAfter: "1"))
        let gateway = try await Self.gateway([a, b], policy: "outlierDetection: { enabled: false }")
        // Round robin sends some calls to a first; each is retried on b after the second a asks for.
        for _ in 0..<4 {
            let reply = try await Resilience.call(gateway.baseURL + "/api/x")
            #expect(reply.status == 200 && reply.upstream == "b")
        }
        #expect(a.requestCount >= 1)
        // A Retry-After longer than the call may take is not waited for: the 503 goes to the client.
        b.set(.status(503, retryAfter: "30"))
        a.set(.status(503, retryAfter: "30"))
        let reply = try await Resilience.call(gateway.baseURL + "/api/x")
        #expect(reply.status == 503 && reply.upstream != nil)
        #expect(reply.headers.first(name: "retry-after") == "30")
        await Self.stop(gateway, [a, b])
    }

    @Test func resetsAreRetriedOnlyForIdempotentRequests() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        let b = try await FaultyUpstream.start(name: "b")
        a.set(.resetBeforeResponse)
        let gateway = try await Self.gateway([a, b], policy: "outlierDetection: { enabled: false }")
        for _ in 0..<6 {
            #expect(try await Resilience.call(gateway.baseURL + "/api/get").status == 200)
        }
        var posts: [Int] = []
        for _ in 0..<6 {
            posts.append(
                try await Resilience.call(gateway.baseURL + "/api/post", method: .POST, body: [1, 2, 3]).status)
        }
        #expect(posts.contains(502))
        #expect(posts.contains(200))
        // With an Idempotency-Key a POST may be retried: its body is sent again in full.
        for _ in 0..<4 {
            let reply = try await Resilience.call(
                gateway.baseURL + "/api/post", method: .POST, headers: [("Idempotency-Key", UUID().uuidString)],
                body: [1, 2, 3])
            #expect(reply.status == 200)
            #expect(reply.text.contains("\"bodyBytes\":3"))
        }
        // A body larger than retry.maxBufferedBody (64KiB) streams through and cannot be replayed.
        var large: [Int] = []
        for _ in 0..<4 {
            large.append(
                try await Resilience.call(
                    gateway.baseURL + "/api/post", method: .PUT, body: [UInt8](repeating: 7, count: 100 << 10)
                ).status)
        }
        #expect(large.contains(502))
        await Self.stop(gateway, [a, b])
    }

    @Test func aTryThatTimesOutIsRetriedElsewhere() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        let b = try await FaultyUpstream.start(name: "b")
        a.set(.hang)
        let gateway = try await Self.gateway(
            [a, b],
            policy: """
                outlierDetection: { enabled: false }
                requestTimeout: 10s
                retry: { retryOn: [timeout], perTryTimeout: 200ms }
                """)
        for _ in 0..<4 {
            let reply = try await Resilience.call(gateway.baseURL + "/api/x")
            #expect(reply.status == 200 && reply.upstream == "b")
        }
        #expect(a.requestCount >= 1)
        #expect(try await Resilience.metric(gateway, "portico_upstream_requests_total", ["outcome=\"timeout\""]) >= 1)
        await Self.stop(gateway, [a, b])
    }

    @Test func aResetMidBodyEndsTheResponseAndCountsAgainstTheEndpoint() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        a.set(.resetMidBody)
        let gateway = try await Self.gateway([a], policy: "outlierDetection: { consecutiveFailures: 100 }")
        await #expect(throws: (any Error).self) { _ = try await Resilience.call(gateway.baseURL + "/api/body") }
        let failures = try await Resilience.eventually {
            try await Resilience.metric(gateway, "portico_upstream_requests_total", ["outcome=\"reset\""]) >= 1
        }
        #expect(failures)
        await Self.stop(gateway, [a])
    }

    @Test func ringHashKeepsAKeyOnOneEndpoint() async throws {
        let upstreams = [
            try await FaultyUpstream.start(name: "a"), try await FaultyUpstream.start(name: "b"),
            try await FaultyUpstream.start(name: "c"),
        ]
        let gateway = try await Self.gateway(upstreams, policy: "loadBalancing: ringHash\nhashOn: header:x-user")
        var owners: Set<String> = []
        for user in 0..<12 {
            var seen: Set<String> = []
            for _ in 0..<5 {
                let reply = try await Resilience.call(gateway.baseURL + "/api/x", headers: [("x-user", "user-\(user)")])
                seen.insert(reply.upstream ?? "?")
            }
            #expect(seen.count == 1, "user-\(user) went to \(seen)")
            owners.formUnion(seen)
        }
        #expect(owners.count >= 2)
        await Self.stop(gateway, upstreams)
    }

    @Test func aClientThatGoesAwayCancelsTheUpstreamCall() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        a.set(.hang)
        let gateway = try await Self.gateway([a], policy: "requestTimeout: 60s")
        await #expect(throws: (any Error).self) {
            _ = try await Resilience.call(gateway.baseURL + "/api/hang", timeout: .milliseconds(300))
        }
        #expect(try await Resilience.eventually { a.abandonedCount == 1 })
        await Self.stop(gateway, [a])
    }

    @Test func theDeadlineTravelsUpstreamAndTheCallersShorterOneWins() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        let gateway = try await Self.gateway([a], policy: "requestTimeout: 5s")
        _ = try await Resilience.call(gateway.baseURL + "/api/x")
        let sent = a.lastRequestHeaders.first { $0.0.lowercased() == "x-portico-timeout-ms" }.flatMap { Int($0.1) }
        #expect(sent.map { $0 > 4000 && $0 <= 5000 } == true)

        a.set(.hang)
        let reply = try await Resilience.call(gateway.baseURL + "/api/x", headers: [("x-portico-timeout-ms", "200")])
        #expect(reply.status == 504)
        let shortened = a.lastRequestHeaders.first { $0.0.lowercased() == "x-portico-timeout-ms" }.flatMap { Int($0.1) }
        #expect(shortened.map { $0 <= 200 } == true)
        await Self.stop(gateway, [a])
    }
}
