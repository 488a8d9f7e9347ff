// The gRPC gateway's listener: a NIO server speaking HTTP/2 with prior knowledge (h2c), one child
// channel per client stream. A `Service`: binds, reports the port, and on graceful shutdown stops
// accepting, sends GOAWAY on every connection, lets open streams finish, then returns.
import GatewayCore
import GatewayHTTP
import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import ServiceLifecycle

final class GRPCListener: Service, Sendable {
    let settings: GRPCProxySettings
    let address: ListenAddress
    let group: any EventLoopGroup
    let gracePeriod: Duration
    let maxHeaderListSize: Int
    /// limits.clientIdleTimeout: a connection with no open stream for this long gets GOAWAY and is closed.
    let maxIdleTime: Duration
    let onBound: @Sendable (Int) async -> Void
    let connections = ConnectionTracker()

    init(
        settings: GRPCProxySettings, address: ListenAddress, group: any EventLoopGroup, gracePeriod: Duration,
        maxHeaderListSize: Int, maxIdleTime: Duration, onBound: @escaping @Sendable (Int) async -> Void
    ) {
        self.settings = settings
        self.address = address
        self.group = group
        self.gracePeriod = gracePeriod
        self.maxHeaderListSize = maxHeaderListSize
        self.maxIdleTime = maxIdleTime
        self.onBound = onBound
    }

    func run() async throws {
        let server = try await makeBootstrap().bind(host: address.host, port: address.port).get()
        await onBound(server.localAddress?.port ?? address.port)
        try? await gracefulShutdown()
        try? await server.close()
        if Task.isCancelled {
            connections.closeAll()
            return
        }
        settings.logger.info("draining", metadata: ["listener": "main", "connections": "\(connections.count)"])
        await withTaskCancellationHandler {
            await connections.drain()
        } onCancel: {
            connections.closeAll()
        }
    }

    private func makeBootstrap() -> ServerBootstrap {
        let settings = self.settings
        let connections = self.connections
        let grace = TimeAmount.nanoseconds(gracePeriod.nanoseconds)
        let idle = TimeAmount.nanoseconds(maxIdleTime.nanoseconds)
        let backstopIdle = maxIdleTime + gracePeriod
        var http2 = NIOHTTP2Handler.ConnectionConfiguration()
        http2.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
            HTTP2Setting(parameter: .initialWindowSize, value: 65535),
            HTTP2Setting(parameter: .maxHeaderListSize, value: maxHeaderListSize),
        ]
        http2.targetWindowSize = 1 << 20
        let connectionConfiguration = http2
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let management = NIOHTTP2ServerConnectionManagementHandler(
                        eventLoop: channel.eventLoop,
                        configuration: .init(maxIdleTime: idle, maxAge: nil, maxGraceTime: grace, keepalive: nil))
                    // grpc-swift's idle GOAWAY waits for a PING answer; this closes a client that never
                    // gives one (or never sends its preface) once the grace period has passed too.
                    let backstop = HTTP2IdleCloser(idle: backstopIdle, goAway: false)
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .server, connectionConfiguration: connectionConfiguration, streamConfiguration: .init(),
                        streamDelegate: backstop.streamDelegate(
                            on: channel, forwardingTo: management.http2StreamDelegate),
                        inboundStreamInitializer: { stream in
                            stream.eventLoop.makeCompletedFuture {
                                try stream.pipeline.syncOperations.addHandler(
                                    GRPCProxyStreamHandler(settings: settings))
                            }
                        })
                    try channel.pipeline.syncOperations.addHandler(management)
                    try channel.pipeline.syncOperations.addHandler(backstop)
                    connections.add(channel)
                }
            }
    }
}
