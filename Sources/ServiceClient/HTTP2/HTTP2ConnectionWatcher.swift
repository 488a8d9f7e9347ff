// Watches an upstream HTTP/2 connection for the events that end its reuse: GOAWAY from the server
// and idleness. Either one drains the connection (no new streams) and closes it once its last
// stream has ended. Stream opens and closes arrive through the multiplexer's stream delegate.
import NIOCore
import NIOHTTP2

final class HTTP2ConnectionWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private let connection: NIOLoopBound<HTTP2UpstreamConnection>
    private let idleTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var openStreams = 0
    private var draining = false
    private var idleTimer: Scheduled<Void>?

    init(connection: NIOLoopBound<HTTP2UpstreamConnection>, idleTimeout: TimeAmount) {
        self.connection = connection
        self.idleTimeout = idleTimeout
    }

    /// The delegate to hand to the HTTP/2 handler so this watcher learns of every stream.
    func streamDelegate(eventLoop: any EventLoop) -> some NIOHTTP2StreamDelegate {
        Delegate(watcher: NIOLoopBound(self, eventLoop: eventLoop))
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        scheduleIdleTimer()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload {
            startDraining()
        }
        context.fireChannelRead(data)
    }

    private func streamOpened() {
        openStreams += 1
        idleTimer?.cancel()
        idleTimer = nil
    }

    private func streamClosed() {
        openStreams = max(0, openStreams - 1)
        guard openStreams == 0 else { return }
        if draining {
            context?.close(promise: nil)
        } else {
            scheduleIdleTimer()
        }
    }

    private func startDraining() {
        guard !draining else { return }
        draining = true
        connection.value.drain()
        if openStreams == 0 { context?.close(promise: nil) }
    }

    private func scheduleIdleTimer() {
        idleTimer?.cancel()
        guard idleTimeout > .zero, let context else { return }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: idleTimeout) {
            handler.value.startDraining()
        }
    }

    private struct Delegate: NIOHTTP2StreamDelegate {
        let watcher: NIOLoopBound<HTTP2ConnectionWatcher>

        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) { watcher.value.streamOpened() }
        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) { watcher.value.streamClosed() }
    }
}
