// What the byte-level data path writes to the client besides relayed responses: the gateway's own
// answers (problem details for refused requests and failed calls), batched client writes, and the end
// of an exchange (metrics, access log, keep-alive or close, the next pipelined request).
import GatewayCore
import NIOCore
import NIOHTTP1
import ServiceClient

extension FastProxyHandler {
    // MARK: client writes

    /// Bytes for the client, gathered until the burst ends.
    func writeClient(_ bytes: ByteBuffer) {
        if clientOut == nil {
            clientOut = bytes
        } else {
            var bytes = bytes
            clientOut!.writeBuffer(&bytes)
        }
    }

    /// Writes what was gathered; the flush comes at the end of the read burst.
    func sendClient() {
        guard let context, let out = clientOut else { return }
        clientOut = nil
        context.write(wrapOutboundOut(out), promise: nil)
        clientNeedsFlush = true
    }

    func flushClient() {
        sendClient()
        guard clientNeedsFlush, let context else { return }
        clientNeedsFlush = false
        context.flush()
    }

    func flushUpstream() {
        guard upstreamNeedsFlush else { return }
        upstreamNeedsFlush = false
        exchange?.lease?.channel.flush()
    }

    /// Writes what was gathered and closes the connection once it has gone out.
    func closeAfterWriting() {
        guard let context, !closed else { return }
        closed = true
        let out = clientOut ?? context.channel.allocator.buffer(capacity: 0)
        clientOut = nil
        clientNeedsFlush = false
        context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    // MARK: the gateway's own answers

    /// A head that cannot be parsed (or is too large, or too slow to arrive): 400 (or `code`'s status)
    /// with a problem body, then close. No exchange exists; the answer is counted under `unmatched`.
    func refuseHead(_ message: String, code: GatewayError.Code = .badRequest) {
        guard let context, !closed else { return }
        let error = GatewayError(code, message)
        let requestID = RequestID.generate()
        let status = HTTPResponseStatus(statusCode: code.httpStatus)
        var out = context.channel.allocator.buffer(capacity: 512)
        Self.writeAnswer(
            status: status, body: error.problemDetails(requestID: requestID),
            headers: [("content-type", GatewayError.problemContentType)], requestID: requestID, close: true,
            isHEAD: false, into: &out)
        shared.metrics.record(route: "unmatched", status: "\(status.code)", duration: .zero)
        writeClient(out)
        closeAfterWriting()
    }

    /// A head over limits.maxHeaderSize: 431, then close.
    func refuseLargeHead(_ limit: Int) {
        refuseHead(
            "the request head is larger than \(ByteSize(bytes: limit)) (limits.maxHeaderSize)", code: .headersTooLarge)
    }

    /// A request whose framing broke mid-body: answered when nothing was sent yet, closed either way.
    func failRequest(_ error: GatewayError, closeAfter: Bool = true) {
        guard let exchange else {
            refuseHead(error.message)
            return
        }
        if exchange.canAnswer {
            fail(error, closeAfter: closeAfter)
        } else {
            exchange.cancelTimers()
            abandonUpstream()
            exchange.call?.finish(.cancelled)
            exchange.phase = .finished
            complete(status: exchange.responseStatus)
            close()
        }
    }

    func fail(_ error: GatewayError, closeAfter: Bool, extraHeaders: [(String, String)] = []) {
        guard let exchange, exchange.canAnswer else {
            close()
            return
        }
        exchange.call?.finish(UpstreamOutcome(error))
        let body = error.problemDetails(instance: String(exchange.path), requestID: exchange.requestID)
        answer(
            HTTPResponseStatus(statusCode: error.code.httpStatus), body: body,
            headers: [("content-type", GatewayError.problemContentType)] + extraHeaders, closeAfter: closeAfter)
    }

    /// Answers the request from the gateway itself; the rest of the request body is read and dropped.
    func answer(_ status: HTTPResponseStatus, body: [UInt8], headers extra: [(String, String)], closeAfter: Bool) {
        guard let exchange, let context, exchange.canAnswer else {
            close()
            return
        }
        exchange.cancelTimers()
        abandonUpstream()
        exchange.phase = .answered
        exchange.responseStarted = true
        exchange.responseStatus = status.code
        exchange.pending.removeAll()
        let close = closeAfter || !exchange.keepAlive || quiescing
        var out = context.channel.allocator.buffer(capacity: 256 + body.count)
        Self.writeAnswer(
            status: status, body: body, headers: extra + exchange.extraResponseHeaders, requestID: exchange.requestID,
            close: close, isHEAD: exchange.isHEAD, into: &out)
        writeClient(out)
        if close {
            exchange.phase = .finished
            complete(status: status.code)
            closeAfterWriting()
        } else if exchange.requestEnded {
            flushClient()
            exchange.phase = .finished
            complete(status: status.code)
        } else {
            flushClient()
        }
        // Otherwise the rest of the request body is read and dropped, then the exchange completes.
    }

    static func writeAnswer(
        status: HTTPResponseStatus, body: [UInt8], headers: [(String, String)], requestID: String, close: Bool,
        isHEAD: Bool, into out: inout ByteBuffer
    ) {
        out.writeString("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\ncontent-length: \(body.count)\r\n")
        out.writeString("\(RequestID.headerName): \(requestID)\r\n")
        for (name, value) in headers { out.writeString("\(name): \(value)\r\n") }
        if close { out.writeStaticString("connection: close\r\n") }
        out.writeStaticString("\r\n")
        if !isHEAD { out.writeBytes(body) }
    }

    // MARK: the end of an exchange

    /// Counts and logs the finished exchange; then closes the connection when it cannot carry another
    /// request, or goes on with a pipelined one.
    func complete(status: UInt) {
        guard let exchange else { return }
        self.exchange = nil
        shared.requestFinished(
            route: exchange.routeName, method: exchange.method, path: exchange.path, status: status,
            start: exchange.start, requestID: exchange.requestID, trace: exchange.trace,
            client: exchange.client.address)
        guard !closed else { return }
        // A request whose body has not all arrived cannot be followed by another on this connection.
        if !exchange.keepAlive || quiescing || !exchange.requestEnded || exchange.closeClient {
            closeAfterWriting()
            return
        }
        idleSince = .now()
        armClientTimer()
        resumeHeld()
    }
}
