// Weighted canary splitting through the REST gateway: the share that reaches the canary follows the
// weight, and a sticky key keeps each user on one side.
import Testing

@Suite("REST canary", .serialized)
struct RESTCanaryTests {
    @Test func splitsByWeightAndSticksByKey() async throws {
        let stable = try await FaultyUpstream.start(name: "stable")
        let canary = try await FaultyUpstream.start(name: "canary")
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  v1: { endpoints: ["\(stable.url)"] }
                  v2: { endpoints: ["\(canary.url)"] }
                gateways:
                  rest:
                    routes:
                      - { name: random, match: { prefix: /random }, service: v1, canary: { service: v2, weight: 30 } }
                      - { name: sticky, match: { prefix: /sticky }, service: v1, canary: { service: v2, weight: 50, stickyOn: "header:x-user" } }
                      - { name: off, match: { prefix: /off }, service: v1, canary: { service: v2, weight: 0 } }
                """)
        var canaryCount = 0
        for _ in 0..<200 where try await Resilience.call(gateway.baseURL + "/random/x").upstream == "canary" {
            canaryCount += 1
        }
        // 30% of 200 is 60; the bounds are far outside what chance gives.
        #expect(canaryCount > 25 && canaryCount < 100, "\(canaryCount) of 200 went to the canary")

        var sides: Set<String> = []
        for user in 0..<20 {
            var seen: Set<String> = []
            for _ in 0..<4 {
                let reply = try await Resilience.call(gateway.baseURL + "/sticky/x", headers: [("x-user", "u\(user)")])
                seen.insert(reply.upstream ?? "?")
            }
            #expect(seen.count == 1, "user u\(user) saw \(seen)")
            sides.formUnion(seen)
        }
        #expect(sides == ["stable", "canary"])
        for _ in 0..<20 { #expect(try await Resilience.call(gateway.baseURL + "/off/x").upstream == "stable") }
        await gateway.stop()
        await stable.stop()
        await canary.stop()
    }
}
