// Per-event-loop keep-alive pool of upstream connections. Only touched on its own loop, so it needs
// no locks; connections are created on the same loop as the client connection that asked.
import NIOCore
import NIOPosix

final class UpstreamPool {
    let eventLoop: any EventLoop
    private let address: SocketAddress
    private let options: Options
    private var idle: [UpstreamHandler] = []
    private var requestCounter: UInt64

    init(eventLoop: any EventLoop, address: SocketAddress, options: Options, seed: UInt64) {
        self.eventLoop = eventLoop
        self.address = address
        self.options = options
        self.requestCounter = seed
    }

    func nextRequestID() -> UInt64 {
        requestCounter &+= 1
        return requestCounter
    }

    /// Most recently used idle connection that is still open, if any.
    func takeIdle() -> UpstreamHandler? {
        while let h = idle.popLast() {
            if h.isActive { return h }
        }
        return nil
    }

    func release(_ h: UpstreamHandler) {
        h.detach()
        if h.isActive { idle.append(h) }
    }

    func remove(_ h: UpstreamHandler) {
        if let i = idle.firstIndex(where: { $0 === h }) { idle.remove(at: i) }
    }

    /// Opens a new upstream connection on this loop and attaches it to `client` when ready.
    func connect(for client: ClientHandler) {
        let stringParse = options.stringParse
        let extra = options.extraHandlers
        ClientBootstrap(group: eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    for _ in 0..<extra { try channel.pipeline.syncOperations.addHandler(PassThroughHandler()) }
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(stringParse: stringParse))
                }
            }
            .connect(to: address)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard let h = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                        channel.close(promise: nil)
                        client.upstreamFailed()
                        return
                    }
                    h.pool = self
                    if client.closed {
                        self.release(h)
                    } else {
                        h.attach(client)
                        client.upstreamAttached(h)
                    }
                case .failure:
                    client.upstreamFailed()
                }
            }
    }
}
