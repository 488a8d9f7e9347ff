// End-to-end tests of grpc-gateway: real demo-services and gateway processes on port 0, called with
// the grpc-swift-2 client over HTTP/2. All four call kinds, metadata and trailer passthrough, and
// every gateway-made status (UNIMPLEMENTED, UNAUTHENTICATED, UNAVAILABLE, DEADLINE_EXCEEDED).
import AsyncHTTPClient
import DemoServices
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import GatewayCore
import NIOCore
import NIOPosix
import Synchronization
import Testing

@Suite("gRPC gateway", .serialized)
struct GRPCGatewayTests {
    typealias Transport = HTTP2ClientTransport.Posix

    /// The demo config plus: a JWT-protected route with a short timeout (Health/Watch never ends by
    /// itself) and a route to a service nobody listens on.
    static func config(demo: DemoServicesProcess, deadPort: Int) -> String {
        TestConfig.yaml(demo: demo)
            .replacingOccurrences(
                of: "        grpcService: shop.orders.v1.Orders\n        service: orders\n",
                with: """
                            grpcService: shop.orders.v1.Orders
                            service: orders
                          - name: health-watch
                            grpcService: grpc.health.v1.Health
                            methods: [Watch]
                            service: orders
                            auth: { require: jwt }
                            timeout: 700ms
                          - name: ghost
                            grpcService: shop.ghost.v1.Ghost
                            service: ghost

                    """
            )
            .replacingOccurrences(
                of: "services:\n",
                with: "services:\n  ghost:\n    endpoints: [\"http://127.0.0.1:\(deadPort)\"]\n    protocol: grpc\n")
    }

    /// Held (bound, never listening) for the whole run, so no test running in parallel can take it.
    private static let deadPortHolder = Result { try ReservedPort() }

    /// A loopback port with nothing listening on it: connects are refused.
    static func deadPort() async throws -> Int {
        try deadPortHolder.get().port
    }

    static func withGateway(
        _ body: (GatewayProcess, GRPCClient<Transport>) async throws -> Void
    ) async throws {
        let demo = try await DemoServicesProcess.start()
        let gateway: GatewayProcess
        do {
            gateway = try await GatewayProcess.start(
                "grpc", configYAML: config(demo: demo, deadPort: try await deadPort()))
        } catch {
            await demo.stop()
            throw error
        }
        do {
            try await withGRPCClient(
                transport: try .http2NIOPosix(
                    target: .ipv4(address: "127.0.0.1", port: gateway.port), transportSecurity: .plaintext)
            ) { client in
                try await body(gateway, client)
            }
        } catch {
            print(gateway.process.output)
            await gateway.stop()
            await demo.stop()
            throw error
        }
        await gateway.stop()
        await demo.stop()
    }

    static func getOrder(_ id: String) -> ClientRequest<Shop_Orders_V1_GetOrderRequest> {
        var message = Shop_Orders_V1_GetOrderRequest()
        message.id = id
        return ClientRequest(message: message, metadata: ["x-echo": "echo-\(id)"])
    }

    static func newOrder(customer: String, sku: String, quantity: Int32) -> Shop_Orders_V1_CreateOrderRequest {
        var item = Shop_Orders_V1_OrderItem()
        item.sku = sku
        item.quantity = quantity
        item.priceCents = 100
        var request = Shop_Orders_V1_CreateOrderRequest()
        request.customerID = customer
        request.items = [item]
        return request
    }

    /// Calls `path` with an empty message and returns the error the call ended with.
    static func callRaw(_ client: GRPCClient<Transport>, service: String, method: String, metadata: Metadata = [:])
        async -> RPCError?
    {
        do {
            try await client.unary(
                request: ClientRequest(message: Grpc_Health_V1_HealthCheckRequest(), metadata: metadata),
                descriptor: MethodDescriptor(fullyQualifiedService: service, method: method),
                serializer: ProtobufSerializer<Grpc_Health_V1_HealthCheckRequest>(),
                deserializer: ProtobufDeserializer<Grpc_Health_V1_HealthCheckResponse>(),
                options: .defaults
            ) { response in _ = try response.message }
            return nil
        } catch {
            return error as? RPCError
        }
    }

    @Test func unaryCallsPassMessagesMetadataAndTrailers() async throws {
        try await Self.withGateway { _, client in
            let orders = Shop_Orders_V1_Orders.Client(wrapping: client)
            let (order, echo, servedBy) = try await orders.getOrder(request: Self.getOrder("1")) { response in
                (
                    try response.message, Array(response.metadata[stringValues: "x-echo"]),
                    Array(response.trailingMetadata[stringValues: "x-served-by"])
                )
            }
            #expect(order.id == "1")
            #expect(order.customerID == "1")
            #expect(order.totalCents == 2500)
            #expect(echo == ["echo-1"])
            #expect(servedBy == ["orders"])

            // A status the service chose (trailers-only from upstream) comes back unchanged.
            do {
                _ = try await orders.getOrder(request: Self.getOrder("404"))
                Issue.record("expected NOT_FOUND")
            } catch let error as RPCError {
                #expect(error.code == .notFound)
                #expect(error.message.contains("order '404' not found"))
                #expect(Array(error.metadata[stringValues: "x-served-by"]) == ["orders"])
            }

            let created = try await orders.createOrder(
                request: ClientRequest(message: Self.newOrder(customer: "9", sku: "SKU-A", quantity: 3)))
            #expect(created.customerID == "9")
            #expect(created.totalCents == 300)
            #expect(created.status == .pending)

            do {
                _ = try await orders.createOrder(
                    request: ClientRequest(message: Self.newOrder(customer: "9", sku: "SKU-B", quantity: 0)))
                Issue.record("expected INVALID_ARGUMENT")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
            }

            // Many concurrent calls share the client connection and the pooled upstream connections.
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<300 {
                    group.addTask { try await orders.getOrder(request: Self.getOrder("\(index % 3 + 1)")).id }
                }
                var ids: [String] = []
                for try await id in group { ids.append(id) }
                return ids
            }
            #expect(ids.count == 300)
            #expect(Set(ids) == ["1", "2", "3"])
        }
    }

    @Test func streamingCallsOfEveryKind() async throws {
        try await Self.withGateway { _, client in
            let orders = Shop_Orders_V1_Orders.Client(wrapping: client)
            // Server streaming.
            var list = Shop_Orders_V1_ListOrdersRequest()
            list.customerID = "1"
            let listed = try await orders.listOrders(request: ClientRequest(message: list)) { response in
                var ids: [String] = []
                for try await order in response.messages { ids.append(order.id) }
                return ids
            }
            #expect(listed == ["1", "2"])

            // Client streaming.
            let summary = try await orders.createOrders(
                request: StreamingClientRequest(of: Shop_Orders_V1_CreateOrderRequest.self) { writer in
                    for quantity in Int32(1)...3 {
                        try await writer.write(Self.newOrder(customer: "5", sku: "SKU-\(quantity)", quantity: quantity))
                    }
                })
            #expect(summary.createdCount == 3)
            #expect(summary.orderIds.count == 3)
            #expect(summary.totalCents == 600)

            // Bidirectional, in lock step: each request is sent only after the previous answer arrived,
            // which only works if the gateway relays frames as they come.
            let (acks, ackContinuation) = AsyncStream.makeStream(of: Void.self)
            var options = CallOptions.defaults
            options.timeout = .seconds(10)
            let request = StreamingClientRequest(of: Shop_Orders_V1_GetOrderRequest.self, metadata: ["x-echo": "bidi"])
            {
                writer in
                var iterator = acks.makeAsyncIterator()
                for id in ["3", "1", "2"] {
                    var message = Shop_Orders_V1_GetOrderRequest()
                    message.id = id
                    try await writer.write(message)
                    _ = await iterator.next()
                }
            }
            let (watched, echo, servedBy) = try await orders.watchOrders(request: request, options: options) {
                response in
                var ids: [String] = []
                var servedBy: [String] = []
                for try await part in response.bodyParts {
                    switch part {
                    case .message(let order):
                        ids.append(order.id)
                        ackContinuation.yield()
                    case .trailingMetadata(let trailers):
                        servedBy = Array(trailers[stringValues: "x-served-by"])
                    }
                }
                return (ids, Array(response.metadata[stringValues: "x-echo"]), servedBy)
            }
            #expect(watched == ["3", "1", "2"])
            #expect(echo == ["bidi"])
            #expect(servedBy == ["orders"])
        }
    }

    @Test func largeMessagesCancellationAndFlowControl() async throws {
        try await Self.withGateway { gateway, client in
            let orders = Shop_Orders_V1_Orders.Client(wrapping: client)
            // One message of ~400 KB each way: many DATA frames and window updates on both hops.
            var big = Self.newOrder(customer: "8", sku: "SKU-0", quantity: 1)
            big.items = (0..<20_000).map { index in
                var item = Shop_Orders_V1_OrderItem()
                item.sku = "SKU-\(index)"
                item.quantity = 1
                item.priceCents = 1
                return item
            }
            let created = try await orders.createOrder(request: ClientRequest(message: big))
            #expect(created.items.count == 20_000)
            #expect(created.totalCents == 20_000)

            // Thousands of small messages on one client stream.
            let summary = try await orders.createOrders(
                request: StreamingClientRequest(of: Shop_Orders_V1_CreateOrderRequest.self) { writer in
                    for index in 0..<3_000 {
                        try await writer.write(Self.newOrder(customer: "6", sku: "SKU-\(index)", quantity: 1))
                    }
                })
            #expect(summary.createdCount == 3_000)

            // The client gives up mid-stream: the gateway logs CANCELLED and keeps serving.
            struct StopEarly: Error {}
            do {
                try await orders.watchOrders(
                    request: StreamingClientRequest(of: Shop_Orders_V1_GetOrderRequest.self) { writer in
                        var message = Shop_Orders_V1_GetOrderRequest()
                        message.id = "1"
                        try await writer.write(message)
                        try await Task.sleep(for: .seconds(10))
                    }
                ) { response in
                    for try await _ in response.messages { throw StopEarly() }
                }
                Issue.record("expected the call to stop early")
            } catch is StopEarly {
            }
            let line = try await gateway.process.waitForLine(timeout: .seconds(5)) { line in
                line.contains(#""msg":"access""#) && line.contains("WatchOrders") && line.contains("CANCELLED")
            }
            #expect(line.contains(#""route":"orders""#))
            #expect(try await orders.getOrder(request: Self.getOrder("2")).id == "2")
        }
    }

    @Test func gatewayMadeStatuses() async throws {
        try await Self.withGateway { gateway, client in
            // Health/Check is answered by the gateway.
            let health = Grpc_Health_V1_Health.Client(wrapping: client)
            #expect(try await health.check(request: ClientRequest(message: .init())).status == .serving)
            var named = Grpc_Health_V1_HealthCheckRequest()
            named.service = "shop.orders.v1.Orders"
            #expect(try await health.check(request: ClientRequest(message: named)).status == .serving)
            named.service = "no.such.Service"
            do {
                _ = try await health.check(request: ClientRequest(message: named))
                Issue.record("expected NOT_FOUND")
            } catch let error as RPCError {
                #expect(error.code == .notFound)
            }

            // The orders route covers every method of its service: the service itself says UNIMPLEMENTED.
            let unknownMethod = await Self.callRaw(client, service: "shop.orders.v1.Orders", method: "DeleteEverything")
            #expect(unknownMethod?.code == .unimplemented)
            // No route at all: the gateway says so.
            let unrouted = await Self.callRaw(client, service: "no.such.v1.Service", method: "Get")
            #expect(unrouted?.code == .unimplemented)
            #expect(unrouted?.message == "unknown method /no.such.v1.Service/Get")
            // A method outside the route's `methods` list.
            let notListed = await Self.callRaw(client, service: "grpc.health.v1.Health", method: "List")
            #expect(notListed?.code == .unimplemented)
            #expect(notListed?.message == "unknown method /grpc.health.v1.Health/List")

            // A route requiring a JWT: no token, a bad token.
            #expect(
                await Self.callRaw(client, service: "grpc.health.v1.Health", method: "Watch")?.code == .unauthenticated)
            let bad = await Self.callRaw(
                client, service: "grpc.health.v1.Health", method: "Watch",
                metadata: ["authorization": "Bearer not-a-jwt"])
            #expect(bad?.code == .unauthenticated)
            // A valid API key where the route wants a JWT.
            let wrongKind = await Self.callRaw(
                client, service: "grpc.health.v1.Health", method: "Watch", metadata: ["x-api-key": "demo-key"])
            #expect(wrongKind?.code == .permissionDenied)

            // With a valid token the stream is proxied (first status arrives), then the route's 700ms
            // timeout ends it with DEADLINE_EXCEEDED.
            let token = try await TokenMinter.hs256(
                secret: TestConfig.demoSecret, subject: "alice", issuer: "portico-demo", audience: "portico",
                kid: "demo")
            let watch = Grpc_Health_V1_Health.Client(wrapping: client)
            let statuses = Mutex<[Grpc_Health_V1_HealthCheckResponse.ServingStatus]>([])
            do {
                try await watch.watch(
                    request: ClientRequest(message: .init(), metadata: ["authorization": "Bearer \(token)"])
                ) { response in
                    for try await message in response.messages { statuses.withLock { $0.append(message.status) } }
                }
                Issue.record("expected DEADLINE_EXCEEDED")
            } catch let error as RPCError {
                #expect(error.code == .deadlineExceeded)
            }
            #expect(statuses.withLock { $0 } == [.serving])

            // The upstream is down.
            let down = await Self.callRaw(client, service: "shop.ghost.v1.Ghost", method: "Get")
            #expect(down?.code == .unavailable)

            // Every call was counted and logged.
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let response = try await http.execute(
                HTTPClientRequest(url: gateway.adminURL + "/metrics"), timeout: .seconds(5))
            let metrics = String(buffer: try await response.body.collect(upTo: 1 << 20))
            try await http.shutdown()
            for expected in [
                #"route="grpc-health",status="OK""#, #"route="grpc-health",status="NOT_FOUND""#,
                #"route="unmatched",status="UNIMPLEMENTED""#, #"route="health-watch",status="UNAUTHENTICATED""#,
                #"route="health-watch",status="PERMISSION_DENIED""#,
                #"route="health-watch",status="DEADLINE_EXCEEDED""#, #"route="ghost",status="UNAVAILABLE""#,
            ] {
                #expect(metrics.contains(expected), "metrics lack \(expected)")
            }
            let accessLines = gateway.process.outputLines.filter { $0.contains(#""msg":"access""#) }
            #expect(accessLines.contains { $0.contains("/shop.ghost.v1.Ghost/Get") && $0.contains("UNAVAILABLE") })
        }
    }

    @Test func gracefulShutdownLetsOpenStreamsFinish() async throws {
        try await Self.withGateway { gateway, client in
            let orders = Shop_Orders_V1_Orders.Client(wrapping: client)
            let (acks, ackContinuation) = AsyncStream.makeStream(of: Void.self)
            let pid = gateway.process.process.processIdentifier
            let request = StreamingClientRequest(of: Shop_Orders_V1_GetOrderRequest.self) { writer in
                var iterator = acks.makeAsyncIterator()
                var message = Shop_Orders_V1_GetOrderRequest()
                message.id = "1"
                try await writer.write(message)
                _ = await iterator.next()
                // The call is open: ask the gateway to stop, then keep using the call.
                kill(pid, SIGTERM)
                try await Task.sleep(for: .milliseconds(300))
                message.id = "2"
                try await writer.write(message)
                _ = await iterator.next()
            }
            let ids = try await orders.watchOrders(request: request) { response in
                var ids: [String] = []
                for try await order in response.messages {
                    ids.append(order.id)
                    ackContinuation.yield()
                }
                return ids
            }
            #expect(ids == ["1", "2"])
            #expect(await gateway.process.waitForExit() == 0)
        }
    }
}
