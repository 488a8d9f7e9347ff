// A loopback TCP relay that keeps one listening port while the server behind it comes and goes, so a test can
// stop a server and start another "at the same address" without giving its port back to the operating system
// (where a test running in parallel may take it). Hand-written on SwiftNIO: no library relays raw TCP.
import NIOCore
import NIOPosix
import Synchronization

final class TCPRelay: Sendable {
    /// Copies bytes read on one channel to its partner; closing either side closes the other.
    private final class Pipe: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let partner: any Channel

        init(partner: any Channel) { self.partner = partner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner.write(unwrapInboundIn(data), promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) { partner.flush() }

        func channelInactive(context: ChannelHandlerContext) { partner.close(promise: nil) }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }

    /// The port new connections are relayed to, shared with the accepting channel's initializer.
    private final class Target: Sendable {
        let port: Mutex<Int?>
        init(_ port: Int?) { self.port = Mutex(port) }
    }

    private let listener: any Channel
    private let target: Target
    /// The client side of every relayed connection that is open.
    private final class OpenConnections: Sendable {
        let channels = Mutex<[ObjectIdentifier: any Channel]>([:])
    }
    private let open = OpenConnections()

    /// The relay's own port on 127.0.0.1.
    let port: Int

    /// Starts relaying to `targetPort` on 127.0.0.1; with `nil`, connections are accepted and closed at once.
    init(targetPort: Int?) async throws {
        let target = Target(targetPort)
        self.target = target
        let open = self.open
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { client in
                guard let port = target.port.withLock({ $0 }) else {
                    return client.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                }
                let id = ObjectIdentifier(client)
                open.channels.withLock { $0[id] = client }
                client.closeFuture.whenComplete { _ in _ = open.channels.withLock { $0.removeValue(forKey: id) } }
                return ClientBootstrap(group: client.eventLoop)
                    .channelInitializer { upstream in upstream.pipeline.addHandler(Pipe(partner: client)) }
                    .connect(host: "127.0.0.1", port: port)
                    .flatMap { upstream in client.pipeline.addHandler(Pipe(partner: upstream)) }
                    .flatMap { client.setOption(.autoRead, value: true) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = listener.localAddress?.port ?? 0
    }

    /// Where new connections go from now on (`nil`: nowhere). Open connections keep their server.
    func relay(to targetPort: Int?) { target.port.withLock { $0 = targetPort } }

    /// Closes every relayed connection that is open (both sides), as a network failure would.
    func dropConnections() async {
        for channel in open.channels.withLock({ Array($0.values) }) { try? await channel.close() }
    }

    func close() async throws { try await listener.close() }
}
