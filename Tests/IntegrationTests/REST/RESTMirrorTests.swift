// Shadow traffic through the REST gateway: copies reach the mirror service with their body and a
// marker header, never change or delay the client's answer, and large bodies are not copied.
import Testing

@Suite("REST mirroring", .serialized)
struct RESTMirrorTests {
    @Test func copiesGoToTheShadowAndNeverAffectTheClient() async throws {
        let primary = try await FaultyUpstream.start(name: "primary")
        let shadow = try await FaultyUpstream.start(name: "shadow")
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  main: { endpoints: ["\(primary.url)"] }
                  shadow: { endpoints: ["\(shadow.url)"] }
                gateways:
                  rest:
                    routes:
                      - { name: api, match: { prefix: /api }, service: main, mirror: { service: shadow, maxBody: 1KiB } }
                """)
        for _ in 0..<5 {
            let reply = try await Resilience.call(
                gateway.baseURL + "/api/items", method: .POST, body: Array("hello".utf8))
            #expect(reply.status == 200 && reply.upstream == "primary")
        }
        #expect(try await Resilience.eventually { shadow.requestCount == 5 })
        #expect(shadow.lastRequestHeaders.contains { $0.0.lowercased() == "x-portico-shadow" && $0.1 == "true" })
        #expect(shadow.lastRequestHeaders.contains { $0.0.lowercased() == "content-length" && $0.1 == "5" })

        // A shadow that hangs or refuses changes nothing for the client.
        shadow.set(.hang)
        for _ in 0..<3 {
            #expect(try await Resilience.call(gateway.baseURL + "/api/items").status == 200)
        }
        try await shadow.refuse()
        #expect(try await Resilience.call(gateway.baseURL + "/api/items").status == 200)
        try await shadow.resume()
        shadow.set(.ok)

        // A body over maxBody is not copied.
        let seen = shadow.requestCount
        let large = try await Resilience.call(
            gateway.baseURL + "/api/items", method: .POST, body: [UInt8](repeating: 1, count: 4096))
        #expect(large.status == 200)
        #expect(try await Resilience.call(gateway.baseURL + "/api/after").status == 200)
        #expect(try await Resilience.eventually { shadow.requestCount == seen + 1 })
        await gateway.stop()
        await primary.stop()
        await shadow.stop()
    }
}
