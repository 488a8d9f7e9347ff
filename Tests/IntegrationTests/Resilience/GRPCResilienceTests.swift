// The gRPC data path under the shared client policy: a dead endpoint next to a live one costs the
// client nothing (connect failures are retried on the other endpoint, then the dead one is ejected).
import DemoServices
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

@Suite("gRPC resilience", .serialized)
struct GRPCResilienceTests {
    @Test func aDeadEndpointIsSkippedAndEjected() async throws {
        let demo = try await DemoServicesProcess.start()
        let dead = try await GRPCGatewayTests.deadPort()
        let gateway = try await GatewayProcess.start(
            "grpc",
            configYAML: """
                services:
                  orders:
                    endpoints: ["http://127.0.0.1:\(dead)", "http://127.0.0.1:\(demo.ordersPort)"]
                    protocol: grpc
                    outlierDetection: { consecutiveFailures: 2, baseEjectionTime: 30s }
                gateways:
                  grpc:
                    routes:
                      - { name: orders, grpcService: shop.orders.v1.Orders, service: orders }
                """)
        try await withGRPCClient(
            transport: try .http2NIOPosix(
                target: .ipv4(address: "127.0.0.1", port: gateway.port), transportSecurity: .plaintext)
        ) { client in
            let orders = Shop_Orders_V1_Orders.Client(wrapping: client)
            for _ in 0..<8 {
                let order = try await orders.getOrder(request: GRPCGatewayTests.getOrder("1"))
                #expect(order.id == "1")
            }
        }
        let view = try await Resilience.upstreams(gateway)["orders"]
        #expect(view?.endpoints.first { $0.url.hasSuffix(":\(dead)") }?.ejected == true)
        #expect(try await Resilience.metric(gateway, "portico_upstream_retries_total", ["orders"]) >= 1)
        await gateway.stop()
        await demo.stop()
    }
}
