// The buffered request path of the translating gateways (for HTTP/1.1 services, PooledRequestCall on
// the NIO pool) under the same policy,
// seen through the CloudEvents gateway: a dead endpoint is skipped on retry, and deliveries reach an
// https endpoint that demands a client certificate (mTLS).
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@Suite("Async path resilience", .serialized)
struct AsyncPathResilienceTests {
    @Test func deliveriesSkipADeadEndpointAndSpeakMutualTLS() async throws {
        let certificates = try await TestCertificates.make()
        let live = try await FaultyUpstream.startMutualTLS(name: "sink", certificates: certificates)
        let dead = try await GRPCGatewayTests.deadPort()
        let gateway = try await GatewayProcess.start(
            "cloudevents",
            configYAML: """
                services:
                  sink:
                    endpoints: ["https://127.0.0.1:\(dead)", "\(live.url)"]
                    tls: { ca: \(certificates.caPath), certificate: \(certificates.clientCertPath), key: \(certificates.clientKeyPath) }
                gateways:
                  cloudevents:
                    deliveryAttempts: 1
                    triggers:
                      - { name: all, service: sink, path: /events }
                """)
        for index in 0..<4 {
            let reply = try await Resilience.call(
                gateway.baseURL + "/", method: .POST,
                headers: [
                    ("ce-specversion", "1.0"), ("ce-id", "e-\(index)"), ("ce-source", "/tests"),
                    ("ce-type", "test.thing"), ("content-type", "application/json"),
                ], body: Array("{}".utf8))
            #expect(reply.status == 202)
        }
        // One delivery attempt each: every event arrived because the dead endpoint's connect failures
        // were retried on the live one.
        #expect(try await Resilience.eventually { live.requestCount == 4 })
        #expect(try await Resilience.metric(gateway, "portico_upstream_requests_total", ["connect_failure"]) >= 1)
        #expect(try await Resilience.metric(gateway, "portico_upstream_retries_total", ["sink"]) >= 1)
        await gateway.stop()
        await live.stop()
        certificates.remove()
    }
}
