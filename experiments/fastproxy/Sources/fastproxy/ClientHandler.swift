// Client-side handler: frames requests over raw bytes, writes the rewritten head and the body bytes to an
// upstream connection from the loop's pool, and receives the response bytes from the upstream handler by
// direct method calls (no futures, no second pipeline hop per request).
import NIOCore

final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum RequestState { case head, length, chunked, complete }

    let pool: UpstreamPool
    private let options: Options
    private var context: ChannelHandlerContext!
    private(set) var upstream: UpstreamHandler?
    private var connecting = false
    private(set) var closed = false

    private var state = RequestState.head
    private var bodyLeft = 0
    private var chunks = ChunkedTracker()
    private var headAccumulator: ByteBuffer
    private var pending: ByteBuffer
    private var forwarding: ForwardingContext

    /// Bytes for the upstream, written as one buffer per read batch.
    private var upOut: ByteBuffer
    private var upOutWritten = false
    private var upNeedsFlush = false
    /// Bytes for the client, filled by the upstream handler.
    var cliOut: ByteBuffer
    private var cliOutWritten = false
    private var cliNeedsFlush = false

    private(set) var keepAlive = true
    private(set) var requestIsHEAD = false
    private(set) var responseStarted = false

    init(pool: UpstreamPool, options: Options) {
        self.pool = pool
        self.options = options
        let a = ByteBufferAllocator()
        headAccumulator = a.buffer(capacity: 0)
        pending = a.buffer(capacity: 0)
        upOut = a.buffer(capacity: 1024)
        cliOut = a.buffer(capacity: 1024)
        forwarding = ForwardingContext(stripPrefix: options.stripPrefix, clientAddress: Array("unknown".utf8))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        if let ip = context.remoteAddress?.ipAddress { forwarding.clientAddress = Array(ip.utf8) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buf = unwrapInboundIn(data)
        if state == .complete {
            pending.writeBuffer(&buf)
            return
        }
        consume(&buf)
        if !options.flushEach { sendUpstream() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if upNeedsFlush, let up = upstream {
            upNeedsFlush = false
            up.context.flush()
        }
        if cliNeedsFlush {
            cliNeedsFlush = false
            context.flush()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        if let up = upstream {
            upstream = nil
            up.detach()
            up.context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Request side

    private func consume(_ buf: inout ByteBuffer) {
        while buf.readableBytes > 0 && !closed {
            switch state {
            case .head:
                guard parseHead(&buf) else { return }
            case .length:
                let n = min(bodyLeft, buf.readableBytes)
                emitUp(buf.readSlice(length: n)!)
                bodyLeft -= n
                if bodyLeft == 0 { state = .complete }
            case .chunked:
                let n = buf.withUnsafeReadableBytes { chunks.consume($0) }
                guard n >= 0 else {
                    reject(ParseError.bad("malformed chunked body"))
                    return
                }
                emitUp(buf.readSlice(length: n)!)
                if chunks.isDone { state = .complete }
            case .complete:
                pending.writeBuffer(&buf)
                return
            }
        }
    }

    /// Finds and handles a request head; false when more bytes are needed or the request was refused.
    private func parseHead(_ buf: inout ByteBuffer) -> Bool {
        if headAccumulator.readableBytes == 0 {
            if let end = buf.withUnsafeReadableBytes({ findHeadEnd($0, from: 0) }) {
                let ok = buf.withUnsafeReadableBytes { startRequest(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
                buf.moveReaderIndex(forwardBy: end)
                return ok
            }
            guard buf.readableBytes <= options.maxHead else { return rejectTooLarge() }
            headAccumulator.writeBuffer(&buf)
            return false
        }
        let old = headAccumulator.readableBytes
        headAccumulator.writeBuffer(&buf)
        guard let end = headAccumulator.withUnsafeReadableBytes({ findHeadEnd($0, from: max(0, old - 3)) }) else {
            return headAccumulator.readableBytes <= options.maxHead ? false : rejectTooLarge()
        }
        let ok = headAccumulator.withUnsafeReadableBytes {
            startRequest(UnsafeRawBufferPointer(rebasing: $0[0..<end]))
        }
        buf = headAccumulator.getSlice(at: headAccumulator.readerIndex + end, length: headAccumulator.readableBytes - end)!
        headAccumulator = ByteBufferAllocator().buffer(capacity: 0)
        return ok
    }

    private func startRequest(_ head: UnsafeRawBufferPointer) -> Bool {
        prepareUpOut()
        let info: RequestInfo
        do {
            let id = pool.nextRequestID()
            if options.stringParse {
                info = try rewriteRequestHeadString(head, forwarding: forwarding, requestID: id, into: &upOut)
            } else {
                info = try rewriteRequestHead(head, forwarding: forwarding, requestID: id, into: &upOut)
            }
        } catch {
            reject(error)
            return false
        }
        keepAlive = info.keepAlive
        requestIsHEAD = info.isHEAD
        responseStarted = false
        switch info.framing {
        case .length(let n):
            state = .length
            bodyLeft = n
        case .chunked:
            state = .chunked
            chunks.reset()
        default:
            state = .complete
        }
        if upstream == nil && !connecting {
            if let up = pool.takeIdle() {
                up.attach(self)
                upstream = up
            } else {
                connecting = true
                pool.connect(for: self)
            }
        }
        if options.flushEach { sendUpstream() }
        return true
    }

    private func prepareUpOut() {
        if upOutWritten {
            upOut.clear()
            upOutWritten = false
        }
    }

    /// Body bytes for the upstream: copied into the batch buffer when small, else written as a slice.
    private func emitUp(_ slice: ByteBuffer) {
        if let up = upstream, options.flushEach || slice.readableBytes > options.copyLimit {
            sendUpstream()
            up.context.write(NIOAny(slice), promise: nil)
            upNeedsFlush = true
            if options.flushEach { flushUpstream() }
            return
        }
        prepareUpOut()
        upOut.writeImmutableBuffer(slice)
    }

    private func sendUpstream() {
        guard let up = upstream, !upOutWritten, upOut.readableBytes > 0 else { return }
        up.context.write(NIOAny(upOut), promise: nil)
        upOutWritten = true
        upNeedsFlush = true
        if options.flushEach { flushUpstream() }
    }

    private func flushUpstream() {
        if upNeedsFlush, let up = upstream {
            upNeedsFlush = false
            up.context.flush()
        }
    }

    // MARK: Called by the pool and the upstream handler

    func upstreamAttached(_ up: UpstreamHandler) {
        connecting = false
        upstream = up
        sendUpstream()
        flushUpstream()
    }

    func upstreamFailed() {
        connecting = false
        reject(ParseError(status: "502 Bad Gateway", reason: "upstream connect failed"))
    }

    func prepareCliOut() {
        responseStarted = true
        if cliOutWritten {
            cliOut.clear()
            cliOutWritten = false
        }
    }

    /// Response body bytes for the client: copied when small, else written as a slice.
    func emitDown(_ slice: ByteBuffer) {
        if options.flushEach || slice.readableBytes > options.copyLimit {
            sendDown()
            context.write(NIOAny(slice), promise: nil)
            cliNeedsFlush = true
            if options.flushEach { flushDown() }
            return
        }
        prepareCliOut()
        cliOut.writeImmutableBuffer(slice)
    }

    func sendDown() {
        guard !cliOutWritten, cliOut.readableBytes > 0 else { return }
        context.write(NIOAny(cliOut), promise: nil)
        cliOutWritten = true
        cliNeedsFlush = true
        if options.flushEach { flushDown() }
    }

    func flushDown() {
        if cliNeedsFlush {
            cliNeedsFlush = false
            context.flush()
        }
    }

    /// The response ended; `reusable` says whether the upstream connection may serve another request.
    func responseComplete(reusable: Bool) {
        sendDown()
        flushDown()
        guard let up = upstream else { return }
        upstream = nil
        let requestDone = state == .complete
        if reusable && requestDone {
            pool.release(up)
        } else {
            up.detach()
            up.context.close(promise: nil)
        }
        guard keepAlive && requestDone else {
            context.close(promise: nil)
            return
        }
        state = .head
        if pending.readableBytes > 0 {
            var next = pending
            pending = ByteBufferAllocator().buffer(capacity: 0)
            consume(&next)
            sendUpstream()
            flushUpstream()
        }
    }

    /// The upstream connection closed or sent something unusable mid-exchange.
    func upstreamLost(_ error: ParseError = ParseError(status: "502 Bad Gateway", reason: "upstream closed the connection")) {
        if let up = upstream {
            upstream = nil
            up.detach()
            up.context.close(promise: nil)
        }
        if responseStarted {
            sendDown()
            flushDown()
            closed = true
            context.close(promise: nil)
        } else {
            reject(error)
        }
    }

    private func rejectTooLarge() -> Bool {
        reject(ParseError(status: "431 Request Header Fields Too Large", reason: "request head too large"))
        return false
    }

    /// Answers with a canned error response naming the problem, then closes the connection.
    private func reject(_ error: ParseError) {
        guard !closed else { return }
        closed = true
        let body = "\(error.reason)\n"
        var b = context.channel.allocator.buffer(capacity: 128)
        b.writeString("HTTP/1.1 \(error.status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n")
        b.writeString("Connection: close\r\n\r\n\(body)")
        context.writeAndFlush(NIOAny(b), promise: nil)
        context.close(promise: nil)
        if let up = upstream {
            upstream = nil
            up.detach()
            up.context.close(promise: nil)
        }
    }
}
