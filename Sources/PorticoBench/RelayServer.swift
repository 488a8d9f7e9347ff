// The echo floor: the least a proxy can do per round trip on NIO. Each accepted connection gets one
// TCP connection to the upstream, and bytes are copied both ways as they arrive (one write and flush per
// read burst), with no parsing at all: no HTTP, no WebSocket framing, no policy. A benchmark tool, not a
// proxy: no backpressure, no half-close (either side closing closes both, dropping unwritten bytes). nginx as a WebSocket
// proxy does a little more (it parses the handshake); websocket-gateway does much more. What this takes
// per round trip is the machine's price for a relay written on SwiftNIO.
import ArgumentParser
import NIOCore
import NIOPosix

struct RelayServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-server",
        abstract: "Minimal TCP relay on NIO (the echo floor): every connection is piped to --upstream-port.")

    @OptionGroup var listen: ListenOptions
    @Option(help: "Event loop threads.") var threads = System.coreCount
    @Option(help: "Upstream port on 127.0.0.1.") var upstreamPort: Int

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let upstreamPort = self.upstreamPort
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { inbound in
                inbound.eventLoop.makeCompletedFuture {
                    let client = RelayHandler()
                    try inbound.pipeline.syncOperations.addHandler(client)
                    let bound = NIOLoopBound(client, eventLoop: inbound.eventLoop)
                    ClientBootstrap(group: inbound.eventLoop)
                        .channelOption(.socketOption(.tcp_nodelay), value: 1)
                        .connect(host: "127.0.0.1", port: upstreamPort)
                        .whenComplete { result in
                            switch result {
                            case .success(let outbound):
                                // The client left while the upstream connection was being made.
                                guard inbound.isActive else { return outbound.close(promise: nil) }
                                let upstream = RelayHandler()
                                do {
                                    try outbound.pipeline.syncOperations.addHandler(upstream)
                                    bound.value.pair(with: upstream)
                                } catch {
                                    outbound.close(promise: nil)
                                    inbound.close(promise: nil)
                                }
                            case .failure:
                                inbound.close(promise: nil)
                            }
                        }
                }
            }
            .bind(host: listen.host, port: listen.port).wait()
        emit(["event": "listening", "port": channel.localAddress?.port ?? listen.port])
        try channel.closeFuture.wait()
    }
}

/// One side of a relay: what it reads is written to its partner's channel; a flush per read burst.
final class RelayHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var pendingFlush = false
    /// What the client sent before the upstream connection was up.
    private var early: [NIOAny] = []

    /// Joins the client side (self) with the connected upstream side, and sends what arrived meanwhile.
    func pair(with upstream: RelayHandler) {
        partner = upstream
        upstream.partner = self
        for data in early { upstream.send(data) }
        early = []
        upstream.flushPending()
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let partner { partner.send(data) } else { early.append(data) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.flushPending()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        partner = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func send(_ data: NIOAny) {
        guard let context else { return }
        context.write(data, promise: nil)
        pendingFlush = true
    }

    private func flushPending() {
        guard pendingFlush, let context else { return }
        pendingFlush = false
        context.flush()
    }
}
