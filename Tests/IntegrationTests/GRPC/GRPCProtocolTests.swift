// Unit tests of the gRPC gateway's pure logic: grpc-timeout, method paths and routes, the hand-made
// health-check codec, grpc-message encoding, request header editing and the call state machine.
import GatewayCore
import NIOCore
import NIOHPACK
import Testing

@testable import GRPCGateway

@Suite("gRPC gateway protocol pieces")
struct GRPCProtocolTests {
    @Test func grpcTimeoutParses() {
        #expect(GRPCTimeout.parse("5S") == .seconds(5))
        #expect(GRPCTimeout.parse("250m") == .milliseconds(250))
        #expect(GRPCTimeout.parse("2M") == .seconds(120))
        #expect(GRPCTimeout.parse("1H") == .seconds(3600))
        #expect(GRPCTimeout.parse("7u") == .microseconds(7))
        #expect(GRPCTimeout.parse("99999999n") == .nanoseconds(99_999_999))
        for bad in ["", "S", "5", "5s", "123456789S", "-1S", "1.5S", "5 S"] {
            #expect(GRPCTimeout.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func grpcTimeoutEncodesWithinEightDigits() {
        #expect(GRPCTimeout.encode(.milliseconds(15)) == "15000000n")
        #expect(GRPCTimeout.encode(.seconds(15)) == "15000000u")
        #expect(GRPCTimeout.encode(.seconds(3600)) == "3600000m")
        #expect(GRPCTimeout.encode(.seconds(400_000)) == "400000S")
        #expect(GRPCTimeout.encode(.zero) == "0n")
        for duration: Duration in [.milliseconds(1), .seconds(15), .seconds(86_400 * 400), .nanoseconds(123_456_789)] {
            let encoded = GRPCTimeout.encode(duration)
            #expect(encoded.count <= 9)
            #expect((GRPCTimeout.parse(encoded) ?? .zero) >= duration, "\(encoded) is shorter than \(duration)")
        }
    }

    @Test func effectiveTimeoutIsTheShorterOne() {
        #expect(GRPCRequestHeaders.effectiveTimeout(clientValue: nil, limit: .seconds(15)) == .seconds(15))
        #expect(GRPCRequestHeaders.effectiveTimeout(clientValue: "100m", limit: .seconds(15)) == .milliseconds(100))
        #expect(GRPCRequestHeaders.effectiveTimeout(clientValue: "1H", limit: .seconds(15)) == .seconds(15))
        #expect(GRPCRequestHeaders.effectiveTimeout(clientValue: "junk", limit: .seconds(2)) == .seconds(2))
    }

    @Test func methodPathsAndRoutes() {
        #expect(
            GRPCMethodPath("/shop.orders.v1.Orders/GetOrder")
                == GRPCMethodPath(service: "shop.orders.v1.Orders", method: "GetOrder"))
        for bad in ["", "/", "shop.Orders/Get", "/shop.Orders", "/shop.Orders/", "//Get", "/a/b/c"] {
            #expect(GRPCMethodPath(bad) == nil, "\(bad)")
        }
        let table = GRPCRouteTable(routes: [
            GRPCRouteConfig(
                name: "reads", grpcService: "shop.orders.v1.Orders", methods: ["GetOrder", "ListOrders"], service: "a"),
            GRPCRouteConfig(name: "rest", grpcService: "shop.orders.v1.Orders", service: "b"),
            GRPCRouteConfig(name: "only", grpcService: "x.Y", methods: ["Z"], service: "c"),
        ])
        #expect(table.route(for: .init(service: "shop.orders.v1.Orders", method: "GetOrder"))?.name == "reads")
        #expect(table.route(for: .init(service: "shop.orders.v1.Orders", method: "CreateOrder"))?.name == "rest")
        #expect(table.route(for: .init(service: "x.Y", method: "Other")) == nil)
        #expect(table.route(for: .init(service: "unknown.Service", method: "Z")) == nil)
        #expect(table.serviceNames == ["shop.orders.v1.Orders", "x.Y"])
    }

    @Test func healthCheckRequestDecoding() throws {
        func frame(_ message: [UInt8], compressed: UInt8 = 0) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeInteger(compressed)
            buffer.writeInteger(UInt32(message.count))
            buffer.writeBytes(message)
            return buffer
        }
        let name = Array("shop.orders.v1.Orders".utf8)
        #expect(try HealthCheckCodec.decodeRequest(frame([0x0A, UInt8(name.count)] + name)) == "shop.orders.v1.Orders")
        #expect(try HealthCheckCodec.decodeRequest(frame([])) == "")
        #expect(try HealthCheckCodec.decodeRequest(ByteBuffer()) == "")
        // Unknown fields (varint, fixed64, bytes, fixed32) are skipped.
        let noisy: [UInt8] =
            [0x10, 0x96, 0x01, 0x19] + Array(repeating: 0, count: 8) + [0x22, 0x01, 0x41, 0x2D, 1, 2, 3, 4]
        #expect(try HealthCheckCodec.decodeRequest(frame(noisy + [0x0A, 0x01, 0x61])) == "a")
        #expect(throws: HealthCheckCodec.DecodeError.compressed) {
            try HealthCheckCodec.decodeRequest(frame([], compressed: 1))
        }
        #expect(throws: HealthCheckCodec.DecodeError.malformed) {
            try HealthCheckCodec.decodeRequest(frame([0x0A, 0x05, 0x61]))
        }
        #expect(throws: HealthCheckCodec.DecodeError.malformed) { try HealthCheckCodec.decodeRequest(frame([0x0B])) }
        #expect(throws: HealthCheckCodec.DecodeError.malformed) {
            try HealthCheckCodec.decodeRequest(frame([0x0A, 0x01, 0xFF]))
        }
        #expect(throws: HealthCheckCodec.DecodeError.notOneMessage) {
            try HealthCheckCodec.decodeRequest(ByteBuffer(bytes: [0, 0]))
        }
        var two = frame([])
        var second = frame([])
        two.writeBuffer(&second)
        #expect(throws: HealthCheckCodec.DecodeError.notOneMessage) { try HealthCheckCodec.decodeRequest(two) }
        let response = HealthCheckCodec.servingResponse(allocator: ByteBufferAllocator())
        #expect(Array(response.readableBytesView) == [0, 0, 0, 0, 2, 0x08, 0x01])
    }

    @Test func grpcMessageIsPercentEncoded() {
        #expect(GRPCResponseHeaders.percentEncode("plain text: ok") == "plain text: ok")
        #expect(GRPCResponseHeaders.percentEncode("100% sure") == "100%25 sure")
        #expect(GRPCResponseHeaders.percentEncode("é\n") == "%C3%A9%0A")
        let headers = GRPCResponseHeaders.trailersOnly(status: .unimplemented, message: "nope", requestID: "r1")
        #expect(headers.first(name: ":status") == "200")
        #expect(headers.first(name: "content-type") == "application/grpc")
        #expect(headers.first(name: "grpc-status") == "12")
        #expect(headers.first(name: "grpc-message") == "nope")
        #expect(GRPCStatusCode.unauthenticated.name == "UNAUTHENTICATED")
        #expect(GRPCStatusCode(GatewayError(.upstreamConnectFailed, "x")) == .unavailable)
        #expect(GRPCStatusCode(GatewayError(.upstreamTimeout, "x")) == .deadlineExceeded)
        #expect(GRPCStatusCode(99).name == "CODE_99")
    }

    @Test func upstreamRequestHeadersAreEdited() {
        let incoming: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": "/shop.orders.v1.Orders/GetOrder", ":authority": "gw:8082",
            "content-type": "application/grpc", "te": "trailers", "grpc-timeout": "1H", "x-echo": "hello",
            "X-Portico-Subject": "mallory", "x-forwarded-for": "1.2.3.4", "x-request-id": "client-id",
            "connection": "x-private", "x-private": "secret", "authorization": "Bearer t",
        ]
        let dropped = GRPCRequestHeaders.droppedNames(identityHeaders: IdentityHeadersConfig())
        let headers = GRPCRequestHeaders.upstream(
            incoming, path: "/shop.orders.v1.Orders/GetOrder", authority: "127.0.0.1:9102", dropped: dropped,
            propagation: [
                ("X-Request-Id", "client-id"), ("X-Portico-Subject", "alice"), ("X-Forwarded-For", "10.0.0.1"),
            ],
            timeout: .seconds(15))
        let names = headers.map(\.name)
        #expect(Array(names.prefix(4)) == [":method", ":scheme", ":path", ":authority"])
        #expect(headers.first(name: ":authority") == "127.0.0.1:9102")
        #expect(headers[":path"] == ["/shop.orders.v1.Orders/GetOrder"])
        #expect(headers["te"] == ["trailers"])
        #expect(headers["x-echo"] == ["hello"])
        #expect(headers["authorization"] == ["Bearer t"])
        #expect(headers["grpc-timeout"] == ["15000000u"])
        #expect(headers["x-portico-subject"] == ["alice"])
        #expect(headers["x-forwarded-for"] == ["10.0.0.1"])
        #expect(headers["x-request-id"] == ["client-id"])
        #expect(!headers.contains(name: "connection"))
        #expect(!headers.contains(name: "x-private"))
        #expect(names.allSatisfy { $0 == $0.lowercased() })
    }
}
