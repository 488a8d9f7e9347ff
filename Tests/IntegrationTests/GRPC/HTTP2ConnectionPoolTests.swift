// Tests of ServiceClient's HTTP/2 connection pool against the in-process demo orders gRPC server:
// streams share one connection per endpoint and event loop, a raw gRPC call works over a pooled
// stream, an unreachable endpoint fails with a gateway error, and a server that goes away is
// forgotten and reconnected to when it comes back.
import DemoServices
import GatewayCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import ServiceClient
import Testing

@Suite("HTTP/2 connection pool")
struct HTTP2ConnectionPoolTests {
    /// Collects the response frames of one stream until it ends.
    final class Collector: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        let done: EventLoopPromise<[HTTP2Frame.FramePayload]>
        var frames: [HTTP2Frame.FramePayload] = []

        init(done: EventLoopPromise<[HTTP2Frame.FramePayload]>) { self.done = done }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            frames.append(frame)
            if case .headers(let headers) = frame, headers.endStream { done.succeed(frames) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.succeed(frames)
        }
    }

    static func service(port: Int) -> UpstreamService {
        UpstreamService(
            name: "orders",
            config: ServiceConfig(
                endpoints: [EndpointURL(scheme: "http", host: "127.0.0.1", port: port)], protocol: .grpc))
    }

    /// A `grpc.health.v1.Health/Check` call on a pooled stream; returns the response frames.
    static func healthCheck(pool: HTTP2ConnectionPool, service: UpstreamService, on loop: any EventLoop) async throws
        -> [HTTP2Frame.FramePayload]
    {
        try await loop.flatSubmit {
            pool.openStream(to: service.addresses[0], service: service, on: loop).flatMap { stream in
                let done = loop.makePromise(of: [HTTP2Frame.FramePayload].self)
                do {
                    try stream.channel.pipeline.syncOperations.addHandler(Collector(done: done))
                } catch {
                    return loop.makeFailedFuture(error)
                }
                let headers: HPACKHeaders = [
                    ":method": "POST", ":scheme": "http", ":path": "/grpc.health.v1.Health/Check",
                    ":authority": "\(stream.endpoint.host):\(stream.endpoint.port)", "content-type": "application/grpc",
                    "te": "trailers",
                ]
                stream.channel.write(HTTP2Frame.FramePayload.headers(.init(headers: headers)), promise: nil)
                let empty = ByteBuffer(bytes: [0, 0, 0, 0, 0])
                stream.channel.writeAndFlush(
                    HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(empty), endStream: true)), promise: nil)
                return done.futureResult
            }
        }.get()
    }

    @Test func streamsShareAConnectionAndReconnectAfterTheServerLeaves() async throws {
        // The pool talks to a relay that keeps its port while servers behind it stop and start: a stopped
        // server's own port could be taken by a test running in parallel before the restart binds it again.
        let server = OrdersGRPCServer(host: "127.0.0.1", port: 0)
        let running = Task { try await server.run() }
        let relay = try await TCPRelay(targetPort: try await server.port)
        let service = Self.service(port: relay.port)
        let pool = HTTP2ConnectionPool()
        let loop = MultiThreadedEventLoopGroup.singleton.next()

        let frames = try await Self.healthCheck(pool: pool, service: service, on: loop)
        #expect(Self.grpcStatus(frames) == "0")
        #expect(frames.contains { if case .data = $0 { return true } else { return false } })

        for _ in 0..<5 { _ = try await Self.healthCheck(pool: pool, service: service, on: loop) }
        #expect(try await pool.connectionCount(on: loop).get() == 1)

        // The server goes away (GOAWAY, close): the pool forgets the connection, and reconnects on demand.
        relay.relay(to: nil)
        server.beginGracefulShutdown()
        try await running.value
        for _ in 0..<100 where try await pool.connectionCount(on: loop).get() > 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await pool.connectionCount(on: loop).get() == 0)
        // Nobody answers now: the call fails, either as an error or as a stream closed without a status.
        let whileDown = try? await Self.healthCheck(pool: pool, service: service, on: loop)
        #expect(whileDown.flatMap(Self.grpcStatus) == nil)

        let again = OrdersGRPCServer(host: "127.0.0.1", port: 0)
        let runningAgain = Task { try await again.run() }
        relay.relay(to: try await again.port)
        let afterRestart = try await Self.healthCheck(pool: pool, service: service, on: loop)
        #expect(Self.grpcStatus(afterRestart) == "0")
        #expect(afterRestart.contains { if case .data = $0 { return true } else { return false } })
        await pool.shutdown()
        again.beginGracefulShutdown()
        try await runningAgain.value
        try await relay.close()
    }

    /// The `grpc-status` of the trailers among `frames`, if the stream ended with trailers.
    static func grpcStatus(_ frames: [HTTP2Frame.FramePayload]) -> String? {
        for frame in frames {
            if case .headers(let headers) = frame, headers.endStream {
                return headers.headers.first(name: "grpc-status")
            }
        }
        return nil
    }

    @Test func unreachableEndpointFailsWithConnectError() async throws {
        let pool = HTTP2ConnectionPool()
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let reserved = try ReservedPort()
        defer { reserved.release() }
        let port = reserved.port
        do {
            _ = try await loop.flatSubmit {
                pool.openStream(to: Self.service(port: port).addresses[0], service: Self.service(port: port), on: loop)
            }.get()
            Issue.record("expected a connect failure")
        } catch let error as GatewayError {
            #expect(error.code == .upstreamConnectFailed)
            #expect(error.code.grpcStatus == 14)
        }
        await pool.shutdown()
        await #expect(throws: GatewayError.self) {
            _ = try await loop.flatSubmit {
                pool.openStream(to: Self.service(port: port).addresses[0], service: Self.service(port: port), on: loop)
            }.get()
        }
    }
}
