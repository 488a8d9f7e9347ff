// The last handler of a `.bytes` pool connection: no HTTP codec, the response's bytes go as they
// arrive to the current lease's delegate, which frames them itself. Used by the REST gateway's
// byte-level HTTP/1.1 data path, where NIO's codecs and their per-message `NIOAny` hops were most
// of the cost per request (see docs/benchmarks.md).
public import NIOCore

/// Receives the raw response bytes of one request sent on a leased `.bytes` connection.
public protocol UpstreamByteDelegate: AnyObject {
    /// Bytes from the upstream; the delegate consumes what belongs to its response.
    func upstreamBytes(_ buffer: ByteBuffer)
    /// The connection failed or closed before the delegate released it.
    func upstreamFailed(_ error: any Error)
    /// A read burst ended: a good moment to flush what was written downstream.
    func upstreamReadComplete()
    /// The upstream connection can (or cannot) take more writes: backpressure for the request body.
    func upstreamWritabilityChanged(isWritable: Bool)
}

// Safety: lives in one channel pipeline; touched only on that channel's event loop.
final class RawUpstreamConnectionHandler: ChannelInboundHandler, PooledConnectionHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    weak var delegate: (any UpstreamByteDelegate)?
    var closed = false

    func detach() { delegate = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let delegate {
            delegate.upstreamBytes(unwrapInboundIn(data))
        } else {
            // Bytes on an idle connection: the upstream is out of step with us; drop the connection.
            closed = true
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closed = true
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(error)
        context.close(promise: nil)
    }
}
