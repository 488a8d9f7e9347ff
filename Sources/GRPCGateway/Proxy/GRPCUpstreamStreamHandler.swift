// The handler on the upstream HTTP/2 stream of a proxied call: hands every frame to the call's
// downstream handler and reads only while the client side can take more (backpressure).
import NIOCore
import NIOHTTP2

final class GRPCUpstreamStreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private weak var downstream: GRPCProxyStreamHandler?
    private var context: ChannelHandlerContext?
    private var readPending = false
    /// Why the stream failed, if it did (a reset, a connection error), for the call's status message.
    private var failure: (any Error)?

    init(downstream: GRPCProxyStreamHandler) {
        self.downstream = downstream
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        downstream?.upstreamFrame(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        downstream?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if let downstream, !downstream.isDownstreamWritable {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        downstream?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let downstream = self.downstream
        self.downstream = nil
        downstream?.upstreamClosed(failure: failure)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Stream resets and closures surface here; the call ends through channelInactive.
        if failure == nil { failure = error }
        context.close(promise: nil)
    }

    // MARK: used by the downstream handler (same event loop)

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func write(_ frame: HTTP2Frame.FramePayload) {
        context?.write(wrapOutboundOut(frame), promise: nil)
    }

    func flush() { context?.flush() }

    /// The client side can take more: resume a read that was held back.
    func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    /// Stops relaying to the downstream; the stream finishes on its own.
    func detach() {
        downstream = nil
    }

    /// Ends the upstream stream (RST_STREAM CANCEL unless it has already closed).
    func cancel() {
        downstream = nil
        context?.close(promise: nil)
    }
}
