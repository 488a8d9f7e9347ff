// The handler on each client HTTP/2 stream: reads the request HEADERS, routes and authorizes the
// call, answers locally (errors, health) or opens an upstream stream on the same event loop and
// relays frames both ways as they come, with backpressure, deadline, cancellation and metrics.
import GatewayCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import ServiceClient

final class GRPCProxyStreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    let settings: GRPCProxySettings
    var machine = GRPCCallStateMachine()
    var context: ChannelHandlerContext?
    var upstream: GRPCUpstreamStreamHandler?
    /// Request frames read while the upstream stream was being opened (at most one read's worth).
    var heldFrames: [HTTP2Frame.FramePayload] = []
    var localRequestBody: ByteBuffer?
    var readPending = false
    var upstreamFlushPending = false
    var downstreamFlushPending = false
    var deadline: Scheduled<Void>?
    var log = GRPCCallLog()
    /// The call through the service's policy (breaker, endpoint choice, connect retries).
    var call: UpstreamCall?
    /// How the upstream side ended when it was not by the upstream's own status.
    var callOutcome: UpstreamOutcome?
    /// When the call must be over (the sooner of the route's timeout and the client's grpc-timeout).
    var callDeadline: CallDeadline?

    init(settings: GRPCProxySettings) {
        self.settings = settings
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame {
        case .headers(let headers):
            if machine.phase == .awaitingHeaders {
                requestHeaders(headers.headers, endStream: headers.endStream, context: context)
            } else {
                requestFrame(frame, endStream: headers.endStream)
            }
        case .data(let data):
            requestFrame(frame, endStream: data.endStream)
        default:
            break  // Flow control, priority and resets are handled by the HTTP/2 stream itself.
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if upstreamFlushPending {
            upstreamFlushPending = false
            upstream?.flush()
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if machine.holdsRequestReads || (machine.relaysRequest && !(upstream?.isWritable ?? true)) {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A call that ended both ways leaves the upstream stream to close by itself; anything else
        // (a client reset or disconnect mid-call) resets it.
        let completed = machine.isFinished
        if callOutcome == nil { callOutcome = .cancelled }
        if let status = machine.downstreamClosed() {
            finish(status, message: "the client cancelled the call")
        }
        deadline?.cancel()
        deadline = nil
        if completed { upstream?.detach() } else { upstream?.cancel() }
        upstream = nil
        heldFrames.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A client reset (RST_STREAM) or a protocol error on this stream: the call ends in channelInactive.
        context.close(promise: nil)
    }

    // MARK: request side

    private func requestHeaders(_ headers: HPACKHeaders, endStream: Bool, context: ChannelHandlerContext) {
        machine.receivedRequestHeaders(endStream: endStream)
        log.start(headers: headers, clientAddress: context.channel.parent?.remoteAddress?.ipAddress)
        settings.metrics.requestStarted()
        guard headers.first(name: ":method") == "POST" else {
            return fail(.unimplemented, "gRPC calls use POST", httpStatus: 405)
        }
        guard let contentType = headers.first(name: "content-type"), contentType.hasPrefix("application/grpc") else {
            return fail(.invalidArgument, "content-type must be application/grpc", httpStatus: 415)
        }
        guard let call = GRPCMethodPath(log.path) else {
            return fail(.unimplemented, "malformed method path '\(log.path)'")
        }
        if settings.healthEnabled, call == HealthCheckCodec.path {
            log.route = "grpc-health"
            machine.startLocalRequest()
            localRequestBody = context.channel.allocator.buffer(capacity: 0)
            if endStream { answerHealthCheck() }
            return
        }
        guard let route = settings.routes.route(for: call) else {
            return fail(.unimplemented, "unknown method \(call.path)")
        }
        log.route = route.name
        guard let service = settings.registry.services[route.service] else {
            return fail(.unavailable, "service '\(route.service)' is not declared")
        }
        let timeout = GRPCRequestHeaders.effectiveTimeout(
            clientValue: headers.first(name: "grpc-timeout"), limit: service.requestTimeout(route: route.timeout))
        startDeadline(timeout, context: context)
        machine.startPreparing()
        authorize(headers, policy: route.auth, context: context) { identity in
            self.openUpstream(headers, endStream: endStream, service: service, timeout: timeout, identity: identity)
        }
    }

    /// Checks the route's policy: synchronously when the call carries no credentials (the common public
    /// case), through the async authenticator (JWT, API key) otherwise.
    private func authorize(
        _ headers: HPACKHeaders, policy: AuthPolicyConfig, context: ChannelHandlerContext,
        then proceed: @escaping (Identity?) -> Void
    ) {
        let authenticator = settings.authenticator
        let credentials = Credentials(
            header: { headers.first(name: $0) }, apiKeyHeader: authenticator.config.apiKeyHeader)
        if credentials.isEmpty {
            do {
                proceed(try Authenticator.check(nil, against: policy))
            } catch {
                fail(error)
            }
            return
        }
        context.eventLoop.makeFutureWithTask {
            try await authenticator.authorize(credentials, policy: policy)
        }.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let identity): proceed(identity)
            case .failure(let error as GatewayError): self.fail(error)
            case .failure(let error): self.fail(GatewayError(.unauthenticated, "authentication failed: \(error)"))
            }
        }
    }

    private func openUpstream(
        _ headers: HPACKHeaders, endStream: Bool, service: UpstreamService, timeout: Duration, identity: Identity?
    ) {
        guard machine.phase == .preparing, context != nil else { return }
        let callContext = UpstreamCallContext(
            requestID: log.requestID, trace: log.trace, identity: identity, clientAddress: log.clientAddress,
            clientScheme: "http", clientHost: headers.first(name: ":authority"))
        let propagation = callContext.propagationHeaders(identityHeaders: settings.identityHeaders)
        log.identity = identity?.subject
        do {
            call = try service.beginCall()
        } catch {
            return fail(error)
        }
        let hashKey = service.config.hashOn?.key(header: { headers.first(name: $0) }, clientAddress: log.clientAddress)
        attemptOpen(
            headers, endStream: endStream, service: service, propagation: propagation, timeout: timeout,
            hashKey: hashKey)
    }

    /// Opens the upstream stream on an endpoint the policy picks. A connect failure is retried on
    /// another endpoint (nothing was sent yet, so any call may be), within the retry policy and budget.
    private func attemptOpen(
        _ headers: HPACKHeaders, endStream: Bool, service: UpstreamService, propagation: [(String, String)],
        timeout: Duration, hashKey: String?
    ) {
        guard machine.phase == .preparing, let context, let call else { return }
        let address: UpstreamAddress
        do {
            address = try call.nextEndpoint(key: hashKey)
        } catch {
            callOutcome = .cancelled  // No endpoint to blame; not a failure of the service's calls.
            return fail(error)
        }
        settings.pool.openStream(to: address, service: service, on: context.eventLoop).assumeIsolated().whenComplete {
            result in
            switch result {
            case .success(let stream):
                self.upstreamOpened(
                    stream, headers: headers, endStream: endStream, propagation: propagation, timeout: timeout)
            case .failure(let error):
                let error =
                    (error as? GatewayError)
                    ?? GatewayError(.upstreamConnectFailed, "cannot reach service '\(service.name)': \(error)")
                guard self.machine.phase == .preparing, let context = self.context else { return }
                let facts = RetryableRequest(isIdempotent: false, bodyReplayable: true)
                let deadline = self.callDeadline ?? CallDeadline(timeout: timeout)
                if error.code == .upstreamConnectFailed, call.finishTry(.connectFailed, request: facts),
                    let wait = call.delay(retryAfter: nil, deadline: deadline)
                {
                    context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(wait.nanoseconds)) {
                        self.attemptOpen(
                            headers, endStream: endStream, service: service, propagation: propagation,
                            timeout: timeout, hashKey: hashKey)
                    }
                    return
                }
                call.abandonRetry()
                self.callOutcome = .connectFailed
                self.fail(error)
            }
        }
    }

    private func upstreamOpened(
        _ stream: HTTP2UpstreamStream, headers: HPACKHeaders, endStream: Bool, propagation: [(String, String)],
        timeout: Duration
    ) {
        guard let context, machine.upstreamReady() else {
            stream.channel.close(promise: nil)
            return
        }
        let handler = GRPCUpstreamStreamHandler(downstream: self)
        do {
            try stream.channel.pipeline.syncOperations.addHandler(handler)
        } catch {
            stream.channel.close(promise: nil)
            return fail(.unavailable, "cannot open a stream to the upstream")
        }
        upstream = handler
        log.upstream = stream.endpoint.description
        let endpoint = stream.endpoint
        let outgoing = GRPCRequestHeaders.upstream(
            headers, path: endpoint.basePath + log.path, authority: "\(endpoint.host):\(endpoint.port)",
            scheme: endpoint.scheme,
            dropped: settings.droppedHeaders, propagation: propagation, timeout: callDeadline?.remaining ?? timeout)
        handler.write(.headers(.init(headers: outgoing, endStream: endStream)))
        for frame in heldFrames { handler.write(frame) }
        heldFrames.removeAll()
        handler.flush()
        if readPending, handler.isWritable {
            readPending = false
            context.read()
        }
    }

    private func requestFrame(_ frame: HTTP2Frame.FramePayload, endStream: Bool) {
        switch machine.receivedRequestFrame(endStream: endStream) {
        case .forward:
            upstream?.write(frame)
            upstreamFlushPending = true
        case .forwardLast:
            // The response ended earlier; with this frame both directions are done.
            upstream?.write(frame)
            upstream?.flush()
            upstreamFlushPending = false
            upstream?.detach()
            upstream = nil
        case .hold:
            heldFrames.append(frame)
        case .collect:
            if case .data(let data) = frame, case .byteBuffer(var bytes) = data.data {
                localRequestBody?.writeBuffer(&bytes)
            }
            if (localRequestBody?.readableBytes ?? 0) > HealthCheckCodec.maxRequestBytes {
                fail(.resourceExhausted, "health check request too large")
            } else if endStream {
                answerHealthCheck()
            }
        case .drop:
            break
        }
    }

    private func startDeadline(_ timeout: Duration, context: ChannelHandlerContext) {
        callDeadline = CallDeadline(timeout: timeout)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
            if handler.value.callOutcome == nil { handler.value.callOutcome = .timedOut }
            handler.value.fail(.deadlineExceeded, "the call did not complete within \(ConfigDuration(timeout))")
        }
    }
}
