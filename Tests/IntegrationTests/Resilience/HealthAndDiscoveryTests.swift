// Active health checks (HTTP and grpc.health.v1), all-unhealthy behaviour, DNS SRV discovery and TLS
// to upstreams, each through a real gateway process and its admin view.
import Foundation
import NIOCore
import ServiceClient
import Testing

@Suite("Upstream health, discovery and TLS", .serialized)
struct HealthAndDiscoveryTests {
    @Test func anUnhealthyEndpointGetsNoTrafficAndAllUnhealthyFailsFast() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        let b = try await FaultyUpstream.start(name: "b")
        let gateway = try await RESTResilienceTests.gateway(
            // Checks of 2 s: with 1 s, a fresh-clone CI run (every suite at once on 2 cores) saw the healthy
            // endpoint's checks time out three times in a row.
            [a, b], policy: "healthCheck: { path: /health, interval: 2s, timeout: 2s, unhealthyThreshold: 3 }")
        a.setHealthy(false)
        #expect(
            try await Resilience.eventually(timeout: .seconds(30)) {
                try await Resilience.upstreams(gateway)["svc"]?.endpoints.first { $0.url == a.url }?.health
                    == "unhealthy"
            })
        let before = a.requestCount
        for _ in 0..<10 {
            let reply = try await Resilience.call(gateway.baseURL + "/api/x")
            #expect(reply.status == 200 && reply.upstream == "b", "\(reply.status) \(reply.text)")
        }
        #expect(a.requestCount == before)

        b.setHealthy(false)
        #expect(
            try await Resilience.eventually(timeout: .seconds(30)) {
                try await Resilience.call(gateway.baseURL + "/api/x").text.contains("no_healthy_upstream")
            })
        a.setHealthy(true)
        #expect(
            try await Resilience.eventually(timeout: .seconds(30)) {
                try await Resilience.call(gateway.baseURL + "/api/x").upstream == "a"
            })
        #expect(a.healthCheckCount > 0)
        #expect(try await Resilience.metric(gateway, "portico_upstream_health_checks_total", ["fail"]) > 0)
        await RESTResilienceTests.stop(gateway, [a, b])
    }

    @Test func panicModeUsesEveryEndpointWhenAllAreUnhealthy() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        a.setHealthy(false)
        let gateway = try await RESTResilienceTests.gateway(
            [a],
            policy:
                "whenAllUnhealthy: panic\nhealthCheck: { path: /health, interval: 200ms, timeout: 150ms, unhealthyThreshold: 1 }"
        )
        #expect(
            try await Resilience.eventually {
                try await Resilience.upstreams(gateway)["svc"]?.endpoints.first?.health == "unhealthy"
            })
        #expect(try await Resilience.call(gateway.baseURL + "/api/x").status == 200)
        #expect(try await Resilience.metric(gateway, "portico_upstream_panic_total") >= 1)
        await RESTResilienceTests.stop(gateway, [a])
    }

    @Test func grpcHealthChecksMarkANotServingEndpointDown() async throws {
        let server = try await TestGRPCHealthServer.start()
        let gateway = try await GatewayProcess.start(
            "grpc",
            configYAML: """
                services:
                  orders:
                    endpoints: ["http://127.0.0.1:\(server.port)"]
                    protocol: grpc
                    healthCheck: { type: grpc, interval: 200ms, timeout: 150ms, unhealthyThreshold: 1, healthyThreshold: 1 }
                gateways:
                  grpc:
                    routes:
                      - { name: orders, grpcService: shop.orders.v1.Orders, service: orders }
                """)
        func health() async throws -> String? {
            try await Resilience.upstreams(gateway)["orders"]?.endpoints.first?.health
        }
        #expect(try await Resilience.eventually { try await health() == "healthy" })
        server.setServing(false)
        #expect(try await Resilience.eventually { try await health() == "unhealthy" })
        server.setServing(true)
        #expect(try await Resilience.eventually { try await health() == "healthy" })
        #expect(server.checkCount >= 3)
        await gateway.stop()
        await server.stop()
    }

    @Test func srvDiscoveryAddsAndRemovesEndpoints() async throws {
        let dns = try await TestDNSServer.start()
        let a = try await FaultyUpstream.start(name: "a")
        let b = try await FaultyUpstream.start(name: "b")
        dns.setA("a.svc.test", ["127.0.0.1"])
        dns.setA("b.svc.test", ["127.0.0.1"])
        dns.setSRV("_http._tcp.svc.test", [SRVRecord(priority: 1, weight: 1, port: a.port, target: "a.svc.test")])
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  svc:
                    discovery: { srv: _http._tcp.svc.test, refreshInterval: 1s, nameservers: ["\(dns.address)"] }
                gateways:
                  rest:
                    routes:
                      - { name: api, match: { prefix: /api }, service: svc }
                """)
        #expect(
            try await Resilience.eventually { try await Resilience.call(gateway.baseURL + "/api/x").upstream == "a" })
        dns.setSRV(
            "_http._tcp.svc.test",
            [
                SRVRecord(priority: 1, weight: 1, port: a.port, target: "a.svc.test"),
                SRVRecord(priority: 1, weight: 1, port: b.port, target: "b.svc.test"),
            ])
        #expect(
            try await Resilience.eventually { try await Resilience.call(gateway.baseURL + "/api/x").upstream == "b" })
        // A call in flight on a when a leaves the record set still completes.
        a.set(.delay(.milliseconds(1500)))
        async let inFlight = Resilience.call(gateway.baseURL + "/api/slow", headers: [])
        dns.setSRV("_http._tcp.svc.test", [SRVRecord(priority: 1, weight: 1, port: b.port, target: "b.svc.test")])
        #expect(
            try await Resilience.eventually {
                try await Resilience.upstreams(gateway)["svc"]?.endpoints.count == 1
            })
        let finished = try await inFlight
        #expect(finished.status == 200)
        for _ in 0..<5 { #expect(try await Resilience.call(gateway.baseURL + "/api/x").upstream == "b") }
        await gateway.stop()
        await a.stop()
        await b.stop()
        await dns.stop()
    }

    @Test func hostNamesAreReResolvedAndKeepTheirHostHeader() async throws {
        let dns = try await TestDNSServer.start()
        let a = try await FaultyUpstream.start(name: "a", host: "127.0.0.1")
        let b = try await FaultyUpstream.start(name: "b", host: "127.0.0.2", port: a.port)
        dns.setA("svc.test", ["127.0.0.1"])
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  svc:
                    endpoints: ["http://svc.test:\(a.port)"]
                    discovery: { refreshInterval: 1s, nameservers: ["\(dns.address)"] }
                gateways:
                  rest:
                    routes:
                      - { name: api, match: { prefix: /api }, service: svc }
                """)
        #expect(
            try await Resilience.eventually { try await Resilience.call(gateway.baseURL + "/api/x").upstream == "a" })
        #expect(a.lastRequestHeaders.first { $0.0.lowercased() == "host" }?.1 == "svc.test:\(a.port)")
        dns.setA("svc.test", ["127.0.0.2"])
        #expect(
            try await Resilience.eventually { try await Resilience.call(gateway.baseURL + "/api/x").upstream == "b" })
        let view = try await Resilience.upstreams(gateway)["svc"]
        #expect(view?.endpoints.map(\.url) == ["http://127.0.0.2:\(a.port)"])
        await gateway.stop()
        await a.stop()
        await b.stop()
        await dns.stop()
    }

    @Test func tlsAndMutualTLSToUpstreams() async throws {
        let certificates = try await TestCertificates.make()
        let secure = try await FaultyUpstream.startMutualTLS(name: "tls", certificates: certificates)
        let withClientCertificate = """
            tls: { ca: \(certificates.caPath), certificate: \(certificates.clientCertPath), key: \(certificates.clientKeyPath) }
            """
        let gateway = try await RESTResilienceTests.gateway([secure], policy: withClientCertificate)
        let reply = try await Resilience.call(gateway.baseURL + "/api/secure")
        #expect(reply.status == 200 && reply.upstream == "tls")
        await gateway.stop()

        // Without a client certificate the upstream refuses the handshake: a connect failure, 502.
        let noClientCertificate = try await RESTResilienceTests.gateway(
            [secure], policy: "tls: { ca: \(certificates.caPath) }\nretry: { attempts: 1 }")
        #expect(try await Resilience.call(noClientCertificate.baseURL + "/api/secure").status == 502)
        await noClientCertificate.stop()

        // Without the CA the server certificate is not trusted.
        let untrusted = try await RESTResilienceTests.gateway([secure], policy: "retry: { attempts: 1 }")
        #expect(try await Resilience.call(untrusted.baseURL + "/api/secure").status == 502)
        await untrusted.stop()
        await secure.stop()
        certificates.remove()
    }
}
