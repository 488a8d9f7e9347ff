// Closes an HTTP/2 connection that has had no open stream for a while: with a GOAWAY first (the REST
// listener), or as a hard backstop behind grpc-swift's graceful idle handling (the gRPC listener),
// whose GOAWAY waits for the client to answer a PING and so never ends a client that stays silent.
// A connection counts as idle from its start, so one that never sends its preface is closed too.
// Streams are counted through NIOHTTP2's stream delegate: with the inline multiplexer no stream
// events travel down the pipeline. Hand-written: NIOHTTP2 has no idle policy of its own.
public import NIOCore
public import NIOHTTP2

public final class HTTP2IdleCloser: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTP2Frame
    public typealias OutboundOut = HTTP2Frame

    private let idle: TimeAmount
    private let goAway: Bool
    private var open = 0
    private var lastStreamID = HTTP2StreamID.rootStream
    private var idleSince = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?
    private var context: ChannelHandlerContext?

    /// `idle`: how long without an open stream; `goAway`: send GOAWAY (no error) before closing.
    public init(idle: Duration, goAway: Bool) {
        self.idle = .nanoseconds(idle.nanoseconds)
        self.goAway = goAway
    }

    /// The stream delegate to pass to `configureHTTP2Pipeline` on `channel`'s loop, telling `next` too.
    public func streamDelegate(
        on channel: any Channel, forwardingTo next: (any NIOHTTP2StreamDelegate)? = nil
    ) -> any NIOHTTP2StreamDelegate {
        Delegate(closer: NIOLoopBound(self, eventLoop: channel.eventLoop), next: next)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idleSince = .now()
        arm()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        timer = nil
        timerAt = nil
    }

    func streamCreated(_ id: HTTP2StreamID) {
        open += 1
        if id > lastStreamID { lastStreamID = id }
    }

    func streamClosed() {
        open = max(0, open - 1)
        guard open == 0 else { return }
        idleSince = .now()
        arm()
    }

    private func arm() {
        guard let context, open == 0 else { return }
        let at = idleSince + idle
        if let timerAt, timerAt <= at { return }
        timer?.cancel()
        timerAt = at
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { self.fired() }
    }

    private func fired() {
        timer = nil
        timerAt = nil
        guard let context, open == 0 else { return }
        guard NIODeadline.now() >= idleSince + idle else { return arm() }
        guard goAway else { return context.close(promise: nil) }
        let frame = HTTP2Frame(
            streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private struct Delegate: NIOHTTP2StreamDelegate {
        let closer: NIOLoopBound<HTTP2IdleCloser>
        let next: (any NIOHTTP2StreamDelegate)?

        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
            next?.streamCreated(id, channel: channel)
            closer.value.streamCreated(id)
        }

        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
            next?.streamClosed(id, channel: channel)
            closer.value.streamClosed()
        }
    }
}
