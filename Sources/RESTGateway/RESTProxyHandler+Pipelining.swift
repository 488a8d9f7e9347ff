// HTTP/1.1 pipelining and graceful shutdown on a client connection, done here instead of by NIO's
// HTTPServerPipelineHandler: that handler holds `read()` back while a request is in flight, which
// makes NIO drop and re-add read interest (two epoll_ctl calls) on every request. Here reads carry
// on; a pipelined request's parts wait in a bounded queue (reading pauses when it is full) and are
// handled, in order, once the response before them is complete. On quiesce the connection closes
// when idle, or after the current response.
import NIOCore
import NIOHTTP1

extension RESTProxyHandler {
    /// How much of later requests a connection may queue before reading pauses.
    static let pipelinedLimit = 64 << 10

    func isRequestHead(_ part: HTTPServerRequestPart) -> Bool {
        if case .head = part { return true }
        return false
    }

    func holdPipelined(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        pipelined.append(part)
        if case .body(let buffer) = part { pipelinedBytes += buffer.readableBytes }
        pipelinedBytes += 64  // Heads and ends count too, so a flood of small requests also pauses.
        if pipelinedBytes > Self.pipelinedLimit && !pipelinePaused {
            pipelinePaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
    }

    /// After a response: closes when quiescing, else handles queued parts until one starts a request
    /// that is still in progress.
    func resumePipelined() {
        guard let context else { return }
        if quiescing {
            context.close(promise: nil)
            return
        }
        guard !pipelined.isEmpty else { return }
        // Later, not inside the completion of the response before.
        context.eventLoop.assumeIsolated().execute {
            guard let context = self.context else { return }
            while !self.pipelined.isEmpty {
                if self.exchange != nil, self.isRequestHead(self.pipelined[0]) { return }
                let part = self.pipelined.removeFirst()
                if case .body(let buffer) = part { self.pipelinedBytes -= buffer.readableBytes }
                self.pipelinedBytes -= 64
                self.handle(part, context: context)
            }
            self.pipelinedBytes = 0
            if self.pipelinePaused {
                self.pipelinePaused = false
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            if exchange == nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
