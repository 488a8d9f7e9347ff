// Upstream-side handler: frames responses over raw bytes (status line + framing headers only) and hands
// the rewritten head and the body bytes straight to the attached client handler.
import NIOCore

final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum ResponseState { case head, length, chunked, untilClose }

    private(set) var context: ChannelHandlerContext!
    var pool: UpstreamPool?
    private var client: ClientHandler?
    private var state = ResponseState.head
    private var bodyLeft = 0
    private var chunks = ChunkedTracker()
    private var upstreamClose = false
    private var headAccumulator = ByteBuffer()
    private(set) var isActive = true
    private let stringParse: Bool

    init(stringParse: Bool) {
        self.stringParse = stringParse
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func attach(_ client: ClientHandler) {
        self.client = client
        state = .head
        upstreamClose = false
    }

    func detach() {
        client = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buf = unwrapInboundIn(data)
        guard let client else {
            // Bytes on an idle connection: the upstream is out of step; drop it.
            context.close(promise: nil)
            return
        }
        while buf.readableBytes > 0 {
            switch state {
            case .head:
                guard parseHead(&buf, client) else { return }
            case .length:
                let n = min(bodyLeft, buf.readableBytes)
                client.emitDown(buf.readSlice(length: n)!)
                bodyLeft -= n
                if bodyLeft == 0 { finish(client, extra: buf.readableBytes) }
            case .chunked:
                let n = buf.withUnsafeReadableBytes { chunks.consume($0) }
                guard n >= 0 else {
                    client.upstreamLost(ParseError(status: "502 Bad Gateway", reason: "malformed upstream chunked body"))
                    return
                }
                client.emitDown(buf.readSlice(length: n)!)
                if chunks.isDone { finish(client, extra: buf.readableBytes) }
            case .untilClose:
                client.emitDown(buf)
                buf.moveReaderIndex(to: buf.writerIndex)
            }
            if self.client == nil { return }
        }
        client.sendDown()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client?.flushDown()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        if let client {
            self.client = nil
            if state == .untilClose {
                client.responseComplete(reusable: false)
            } else {
                client.upstreamLost()
            }
        } else {
            pool?.remove(self)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func parseHead(_ buf: inout ByteBuffer, _ client: ClientHandler) -> Bool {
        if headAccumulator.readableBytes == 0 {
            if let end = buf.withUnsafeReadableBytes({ findHeadEnd($0, from: 0) }) {
                let ok = buf.withUnsafeReadableBytes { startResponse(UnsafeRawBufferPointer(rebasing: $0[0..<end]), client) }
                buf.moveReaderIndex(forwardBy: end)
                return ok
            }
            headAccumulator.writeBuffer(&buf)
            return false
        }
        let old = headAccumulator.readableBytes
        headAccumulator.writeBuffer(&buf)
        guard let end = headAccumulator.withUnsafeReadableBytes({ findHeadEnd($0, from: max(0, old - 3)) }) else {
            if headAccumulator.readableBytes > 65536 {
                client.upstreamLost(ParseError(status: "502 Bad Gateway", reason: "upstream head too large"))
            }
            return false
        }
        let ok = headAccumulator.withUnsafeReadableBytes {
            startResponse(UnsafeRawBufferPointer(rebasing: $0[0..<end]), client)
        }
        buf = headAccumulator.getSlice(at: headAccumulator.readerIndex + end, length: headAccumulator.readableBytes - end)!
        headAccumulator = ByteBuffer()
        return ok
    }

    private func startResponse(_ head: UnsafeRawBufferPointer, _ client: ClientHandler) -> Bool {
        client.prepareCliOut()
        let info: ResponseInfo
        do {
            if stringParse {
                info = try rewriteResponseHeadString(
                    head, requestIsHEAD: client.requestIsHEAD, clientKeepAlive: client.keepAlive, into: &client.cliOut)
            } else {
                info = try rewriteResponseHead(
                    head, requestIsHEAD: client.requestIsHEAD, clientKeepAlive: client.keepAlive, into: &client.cliOut)
            }
        } catch {
            client.upstreamLost(error)
            return false
        }
        upstreamClose = info.upstreamClose
        if info.status < 200 && info.status != 101 {
            state = .head  // interim response: forwarded, the final one follows
            return true
        }
        switch info.framing {
        case .none: finish(client, extra: 0)
        case .length(let n):
            state = .length
            bodyLeft = n
        case .chunked:
            state = .chunked
            chunks.reset()
        case .untilClose:
            state = .untilClose
        }
        return true
    }

    private func finish(_ client: ClientHandler, extra: Int) {
        self.client = nil
        state = .head
        client.responseComplete(reusable: !upstreamClose && extra == 0)
    }
}
