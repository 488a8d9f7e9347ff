// What portico-bench's two servers (the echo backend and the fan-out floor) share: their listening
// options, and an HTTP/1.1 listener whose connections may upgrade to WebSocket.
import ArgumentParser
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// `--host` and `--port` of a benchmark server.
struct ListenOptions: ParsableArguments {
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0: any free port).") var port = 0
}

enum BenchServer {
    private static let httpHandlerName = "portico-bench-http"

    /// Listens on `host:port`: requests that ask to upgrade on a path `upgrades` accepts become WebSocket
    /// connections set up by `webSocket`; other requests go to the handler `http` makes (removed from a
    /// connection once it upgrades).
    static func bind(
        group: any EventLoopGroup, host: String, port: Int, upgrades: @escaping @Sendable (String) -> Bool,
        webSocket: @escaping @Sendable (any Channel) throws -> Void,
        http: @escaping @Sendable () -> any ChannelInboundHandler & RemovableChannelHandler
    ) -> EventLoopFuture<any Channel> {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: 1 << 20, automaticErrorHandling: true,
                        shouldUpgrade: { channel, head in
                            channel.eventLoop.makeSucceededFuture(upgrades(head.uri) ? HTTPHeaders() : nil)
                        },
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture { try webSocket(channel) }
                        })
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                // Called before the WebSocket handlers are added: the HTTP handler goes.
                                context.pipeline.syncOperations.removeHandler(name: httpHandlerName, promise: nil)
                            }
                        ))
                    try pipeline.addHandler(http(), name: httpHandlerName)
                }
            }
            .bind(host: host, port: port)
    }
}
