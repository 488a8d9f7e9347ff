// The response side of a proxied call: upstream frames relayed to the client unchanged (the
// request id added to the first header block), calls the gateway ends itself (errors, deadline,
// health answers), and the metrics and access-log line recorded once per call.
import GatewayCore
import NIOCore
import NIOHPACK
import NIOHTTP2

extension GRPCProxyStreamHandler {
    var isDownstreamWritable: Bool { context?.channel.isWritable ?? false }

    func upstreamFrame(_ frame: HTTP2Frame.FramePayload) {
        guard let context else { return }
        switch frame {
        case .headers(var payload):
            let action = machine.receivedResponseHeaders(
                endStream: payload.endStream, grpcStatus: payload.headers.first(name: "grpc-status"))
            guard case .forward(let isFirst, let finished) = action else { return }
            if isFirst, !payload.headers.contains(name: "x-request-id") {
                payload.headers.add(name: "x-request-id", value: log.requestID)
            }
            context.write(wrapOutboundOut(.headers(payload)), promise: nil)
            downstreamFlushPending = true
            if let finished { responseEnded(finished, message: payload.headers.first(name: "grpc-message")) }
        case .data(let payload):
            guard case .forward(_, let finished) = machine.receivedResponseData(endStream: payload.endStream) else {
                return
            }
            context.write(wrapOutboundOut(frame), promise: nil)
            downstreamFlushPending = true
            if let finished { responseEnded(finished, message: nil) }
        default:
            break  // Resets arrive as the stream's closure (upstreamClosed).
        }
    }

    func upstreamReadComplete() {
        guard downstreamFlushPending else { return }
        downstreamFlushPending = false
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        guard isWritable, readPending, let context else { return }
        readPending = false
        context.read()
    }

    func upstreamClosed(failure: (any Error)?) {
        upstream = nil
        switch machine.upstreamClosed() {
        case .none:
            break
        case .stopClient:
            // The upstream is done with a request the client is still sending: ask the client to stop.
            context?.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: nil)
        case .fail:
            if callOutcome == nil { callOutcome = .reset }
            if let closed = failure as? NIOHTTP2Errors.StreamClosed {
                fail(GRPCStatusCode(resetCode: closed.errorCode), "the upstream reset the stream (\(closed.errorCode))")
            } else {
                fail(.unavailable, "the upstream closed the stream before the call completed")
            }
        }
    }

    /// The upstream's response ended (trailers relayed). When the client has finished sending too, the
    /// upstream stream closes by itself and is let go (an RST_STREAM would count against the upstream's
    /// reset limits); otherwise it stays attached so the rest of the request still reaches it.
    private func responseEnded(_ status: GRPCStatusCode, message: String?) {
        if machine.isFinished {
            upstream?.detach()
            upstream = nil
        }
        context?.flush()
        downstreamFlushPending = false
        finish(status, message: message)
    }

    func fail(_ error: GatewayError) {
        fail(GRPCStatusCode(error), error.message)
    }

    /// Ends the call with a status of the gateway's own: a trailers-only response when no response
    /// headers went out yet, trailers otherwise. A client still sending is not reset (clients limit the
    /// resets they accept); its remaining frames are read and dropped until it ends or cancels.
    func fail(_ status: GRPCStatusCode, _ message: String, httpStatus: Int = 200) {
        guard let ending = machine.end(with: status) else { return }
        upstream?.cancel()
        upstream = nil
        heldFrames.removeAll()
        if let context {
            let headers =
                ending.trailersOnly
                ? GRPCResponseHeaders.trailersOnly(
                    status: status, message: message, requestID: log.requestID, httpStatus: httpStatus)
                : GRPCResponseHeaders.trailers(status: status, message: message)
            context.write(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
            context.flush()
            downstreamFlushPending = false
            if readPending {
                readPending = false
                context.read()
            }
        }
        finish(status, message: message)
    }

    func answerHealthCheck() {
        let body = localRequestBody ?? ByteBuffer()
        localRequestBody = nil
        let service: String
        do {
            service = try HealthCheckCodec.decodeRequest(body)
        } catch {
            return fail(.invalidArgument, "malformed grpc.health.v1.HealthCheckRequest")
        }
        guard settings.servingServices.contains(service) else {
            return fail(.notFound, "unknown service '\(service)'")
        }
        guard let context, machine.end(with: .ok) != nil else { return }
        let response = HealthCheckCodec.servingResponse(allocator: context.channel.allocator)
        context.write(
            wrapOutboundOut(.headers(.init(headers: GRPCResponseHeaders.responseHeaders(requestID: log.requestID)))),
            promise: nil)
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(response)))), promise: nil)
        let trailers = GRPCResponseHeaders.trailers(status: .ok, message: nil)
        context.write(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        context.flush()
        finish(.ok, message: nil)
    }

    /// Records the call once: metrics, in-flight gauge and the access-log line.
    func finish(_ status: GRPCStatusCode, message: String?) {
        deadline?.cancel()
        deadline = nil
        if let call {
            call.finish(callOutcome ?? .grpc(status: status.rawValue))
            self.call = nil
        }
        guard let duration = log.finish() else { return }
        settings.metrics.record(route: log.route, status: status.name, duration: duration)
        settings.metrics.requestFinished()
        if settings.accessLog {
            settings.logger.info("access", metadata: log.metadata(status: status, message: message, duration: duration))
        }
    }
}
