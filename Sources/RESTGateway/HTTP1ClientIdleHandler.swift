// Client timeouts on the REST gateway's codec path (HTTP/1.1 connections handed over by the byte-level
// path): after NIO's HTTP/1.1 decoder it sees whole heads, so it closes a connection that has no
// request in progress for `limits.clientIdleTimeout` (a head still arriving counts as idle; the
// byte-level path gives such heads 408 after `clientHeaderTimeout` instead), and one whose request
// body has had no part for `clientBodyTimeout`. Hand-written: NIO's IdleStateHandler does not know
// when a request is in progress, and Hummingbird's HTTPConnectionStateHandler works on HTTPTypes parts.
// Also on each HTTP/2 stream, where it holds the request body to clientBodyTimeout.
import GatewayCore
import NIOCore
import NIOHTTP1

final class HTTP1ClientIdleHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeouts: ClientTimeouts
    /// Requests read whose response has not ended.
    private var inProgress = 0
    private var readingBody = false
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?

    init(timeouts: ClientTimeouts) { self.timeouts = timeouts }

    func handlerAdded(context: ChannelHandlerContext) { arm(context) }

    func handlerRemoved(context: ChannelHandlerContext) { cancel() }

    func channelInactive(context: ChannelHandlerContext) {
        cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inProgress += 1
            readingBody = true
        case .body: break
        case .end: readingBody = false
        }
        lastActivity = .now()
        arm(context)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inProgress = max(0, inProgress - 1)
            if inProgress == 0 {
                lastActivity = .now()
                arm(context)
            }
        }
        context.write(data, promise: promise)
    }

    /// When the client has been too slow, if it is being waited for at all.
    private var deadline: NIODeadline? {
        if readingBody { return lastActivity + .nanoseconds(timeouts.body.nanoseconds) }
        if inProgress > 0 { return nil }  // The gateway is answering.
        return lastActivity + .nanoseconds(timeouts.idle.nanoseconds)
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard let at = deadline else { return }
        if let timerAt, timerAt <= at { return }
        timer?.cancel()
        timerAt = at
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { [context] in
            self.timer = nil
            self.timerAt = nil
            guard let at = self.deadline else { return }
            if NIODeadline.now() < at { return self.arm(context) }
            // Reading paused by the gateway (an auth decision, the service not taking the body, a full
            // pipelining queue) is not the client's delay: count again from now.
            if (try? context.channel.syncOptions?.getOption(ChannelOptions.autoRead)) == false {
                self.lastActivity = .now()
                return self.arm(context)
            }
            context.close(promise: nil)
        }
    }

    private func cancel() {
        timer?.cancel()
        timer = nil
        timerAt = nil
    }
}
