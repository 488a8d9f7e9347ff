// The REST listener as a swift-service-lifecycle `Service`: binds, serves HTTP/1.1 and HTTP/2 (with or
// without TLS, see RESTListenerPipeline.swift) through `RESTProxyHandler`, and on graceful shutdown stops accepting and lets in-flight requests finish
// (NIOExtras' ServerQuiescingHelper closes each connection after its current response).
import GatewayCore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle

struct RESTServer: Service {
    let address: ListenAddress
    let group: any EventLoopGroup
    let shared: RESTSharedBox
    let logger: Logger
    let onBound: @Sendable (Int) async -> Void

    func run() async throws {
        let quiesce = ServerQuiescingHelper(group: group)
        let shared = self.shared
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try RESTListenerPipeline.configure(channel, shared: shared)
                }
            }
            .bind(host: address.host, port: address.port).get()
        await onBound(channel.localAddress?.port ?? address.port)
        try? await gracefulShutdown()
        logger.info("draining", metadata: ["listener": "main"])
        let done = group.next().makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: done)
        try await done.futureResult.get()
    }
}
