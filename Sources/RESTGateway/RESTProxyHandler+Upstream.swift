// The upstream side of the REST data path: one call per request through the service's policy (breaker
// admission, endpoint choice, per-try and total deadlines), each try on a leased connection of the
// same event loop, and retries on another endpoint when the route's policy allows: after a connect
// failure, a reset before the response, a per-try timeout, or a retryable status (honouring
// `Retry-After`), as long as the body sent so far is still held for replay.
import GatewayCore
import NIOCore
import NIOHTTP1
import ServiceClient

extension RESTProxyHandler: UpstreamResponseDelegate {
    // MARK: starting the call

    func beginCall(route: RESTRoute, upstreamPath: String, identity: Identity?) {
        guard let exchange, let context else { return }
        let head = exchange.head
        if let limiter = route.rateLimiter {
            let key = limiter.config.key(clientAddress: exchange.client.address, identity: identity)
            let decision = limiter.take(key)
            let headers = decision.headers(policyWindow: limiter.policyWindow)
            guard decision.allowed else {
                return fail(
                    GatewayError(
                        .rateLimited, "too many requests; try again in \(max(1, decision.retryAfterSeconds))s"),
                    closeAfter: false, extraHeaders: headers)
            }
            exchange.extraResponseHeaders += headers
        }
        if answerFromCache(route: route, upstreamPath: upstreamPath) { return }
        if let aggregate = route.aggregate { return runAggregate(aggregate, route: route, identity: identity) }
        // Shadow traffic: a copy goes to the mirror service once the whole request is here.
        if let mirror = route.mirror, exchange.mirror == nil, mirror.config.chooses(), mirror.begin() {
            var body: [ByteBuffer] = []
            for case .body(let buffer) in exchange.pending { body.append(buffer) }
            let bytes = body.reduce(0) { $0 + $1.readableBytes }
            if bytes <= mirror.config.maxBody.bytes {
                exchange.mirror = .init(
                    mirror: mirror, path: upstreamPath, identity: identity, body: body, bytes: bytes)
                if exchange.requestEnded { sendMirror() }
            } else {
                mirror.abandon()
            }
        }
        // A canary split sends this request to the canary service's copy of the route.
        if let canary = route.canary {
            let key = canary.config.stickyOn?.key(header: { head.headers.first(name: $0) })
            if canary.config.choosesCanary(key: key) {
                return beginCall(route: canary.route, upstreamPath: upstreamPath, identity: identity)
            }
        }
        let call: UpstreamCall
        do {
            call = try route.service.beginCall(retry: route.retry)
        } catch {
            return fail(error, closeAfter: false)
        }
        exchange.call = call
        let callerTimeout = CallDeadline.parseHeader(head.headers.first(name: CallDeadline.headerName))
        let deadline = CallDeadline(timeout: route.timeout, callerTimeout: callerTimeout)
        exchange.deadline = deadline
        let hashKey = route.service.config.hashOn?.key(
            header: { head.headers.first(name: $0) }, clientAddress: exchange.client.address)
        let facts = RetryableRequest(
            isIdempotent: RetryableRequest.isIdempotent(
                method: head.method.rawValue, hasIdempotencyKey: head.headers.contains(name: "idempotency-key")),
            bodyReplayable: true)
        exchange.target = .init(
            route: route, upstreamPath: upstreamPath, identity: identity, hashKey: hashKey, facts: facts)
        exchange.deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(
            in: .nanoseconds(deadline.total.nanoseconds)
        ) {
            guard self.exchange === exchange, exchange.canAnswer else { return }
            self.abandonUpstream()
            exchange.call?.finish(.timedOut)
            self.fail(
                GatewayError(
                    .upstreamTimeout,
                    "service '\(route.service.name)' did not answer within \(ConfigDuration(deadline.total))"),
                closeAfter: false)
        }
        attempt()
    }

    /// Sends the mirror copy, if one is being collected, now that the request has ended.
    func sendMirror() {
        guard let exchange, let copy = exchange.mirror else { return }
        exchange.mirror = nil
        let callContext = UpstreamCallContext(
            requestID: exchange.requestID, trace: exchange.trace, identity: copy.identity,
            clientAddress: exchange.client.peer, clientScheme: exchange.client.scheme,
            clientHost: exchange.client.host, priorForwardedFor: exchange.client.priorForwardedFor)
        copy.mirror.send(
            head: exchange.head, path: copy.path, body: copy.body, context: callContext, client: shared.client,
            managed: shared.managedHeaders, logger: shared.logger)
    }

    /// Starts one try: picks an endpoint and leases a connection to it.
    private func attempt() {
        guard let exchange, let context, let call = exchange.call, let target = exchange.target else { return }
        exchange.phase = .preparing
        let address: UpstreamAddress
        do {
            address = try call.nextEndpoint(key: target.hashKey)
        } catch {
            call.finish(.cancelled)
            return fail(error, closeAfter: false)
        }
        let service = target.route.service
        shared.client.http1Pool.lease(address, service: service, on: context.eventLoop).assumeIsolated()
            .whenComplete { result in
                guard self.exchange === exchange, self.context != nil, exchange.phase == .preparing else {
                    if case .success(let lease) = result { lease.release(reusable: true) }
                    return
                }
                switch result {
                case .success(let lease):
                    self.forward(lease: lease)
                case .failure(let error):
                    let error = (error as? GatewayError) ?? GatewayError(.upstreamConnectFailed, "\(error)")
                    if error.code == .circuitOpen {
                        call.finish(.cancelled)
                        return self.fail(error, closeAfter: false)
                    }
                    self.tryFailed(.connectFailed, error: error)
                }
            }
    }

    private func forward(lease: UpstreamLease) {
        guard let exchange, let context, let target = exchange.target, let deadline = exchange.deadline else { return }
        exchange.lease = lease
        exchange.phase = .forwarding
        lease.attach(self)
        var head = exchange.head
        let chunked = head.headers["transfer-encoding"].contains { $0.lowercased().contains("chunked") }
        let connection = head.headers["connection"]
        let dropped =
            connection.isEmpty
            ? shared.droppedRequestHeaders
            : shared.droppedRequestHeaders.union(HTTPHeaderRules.hopByHopNames(connectionHeaderValues: connection))
        for name in HTTPHeaderRules.present(dropped, in: head.headers) { head.headers.remove(name: name) }
        // A response the gateway transforms must arrive unencoded.
        if target.route.responseTransform != nil { head.headers.remove(name: "accept-encoding") }
        if chunked { head.headers.add(name: "transfer-encoding", value: "chunked") }
        head.headers.replaceOrAdd(name: "host", value: lease.address.authority)
        // The hop appended to X-Forwarded-For is the TCP peer; a trusted proxy's chain goes before it.
        let callContext = UpstreamCallContext(
            requestID: exchange.requestID, trace: exchange.trace, identity: target.identity,
            clientAddress: exchange.client.peer, clientScheme: exchange.client.scheme,
            clientHost: exchange.client.host, priorForwardedFor: exchange.client.priorForwardedFor)
        for (name, value) in callContext.propagationHeaders(identityHeaders: shared.identityHeaders) {
            head.headers.replaceOrAdd(name: name, value: value)
        }
        if !target.route.requestHeaders.isEmpty { head.headers.apply(target.route.requestHeaders) }
        head.headers.replaceOrAdd(name: CallDeadline.headerName, value: CallDeadline.headerValue(deadline.remaining))
        head.uri = lease.endpoint.basePath + target.upstreamPath
        head.version = .http1_1
        lease.channel.write(HTTPClientRequestPart.head(head), promise: nil)
        // A retry first sends again what the previous try already sent.
        for buffer in exchange.sentBody {
            lease.channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        }
        let limit = target.route.retry.maxBufferedBody.bytes
        var endQueued = false
        for part in exchange.pending {
            switch part {
            case .body(let buffer): exchange.remember(buffer, limit: limit)
            case .end: endQueued = true
            case .head: break
            }
            lease.channel.write(Self.clientPart(part), promise: nil)
        }
        if exchange.requestEnded && !endQueued { lease.channel.write(HTTPClientRequestPart.end(nil), promise: nil) }
        exchange.pending.removeAll()
        lease.channel.flush()
        let tryTimeout = deadline.tryTimeout(perTry: target.route.retry.perTryTimeout)
        guard tryTimeout < deadline.remaining else { return }  // The call's deadline timer covers this try.
        exchange.tryTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(tryTimeout.nanoseconds)) {
            guard self.exchange === exchange, exchange.phase == .forwarding, !exchange.responseStarted else { return }
            self.abandonUpstream()
            self.tryFailed(
                .timedOut,
                error: GatewayError(
                    .upstreamTimeout,
                    "service '\(target.route.service.name)' did not answer within \(ConfigDuration(tryTimeout))"))
        }
    }

    /// A try ended without a response the client will get: retry it, or answer with `error`.
    private func tryFailed(_ outcome: UpstreamOutcome, error: GatewayError, retryAfter: String? = nil) {
        guard let exchange, let call = exchange.call, let deadline = exchange.deadline, let target = exchange.target
        else { return }
        exchange.tryTimer?.cancel()
        exchange.tryTimer = nil
        var facts = target.facts
        facts.bodyReplayable = exchange.replayable
        if let wait = call.retryWait(after: outcome, request: facts, retryAfter: retryAfter, deadline: deadline) {
            return scheduleRetry(after: wait)
        }
        call.finish(outcome)
        fail(error, closeAfter: false)
    }

    private func scheduleRetry(after wait: Duration) {
        guard let exchange, let context else { return }
        exchange.phase = .preparing
        exchange.retryTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(wait.nanoseconds)) {
            guard self.exchange === exchange else { return }
            exchange.retryTimer = nil
            self.attempt()
        }
    }

    // MARK: upstream → downstream

    func upstreamResponse(_ part: HTTPClientResponsePart) {
        guard let exchange, exchange.phase == .forwarding, let context else { return }
        switch part {
        case .head(var head):
            let status = Int(head.status.code)
            if head.status.code >= 100 && head.status.code < 200 { return }  // Interim responses are not relayed.
            exchange.tryTimer?.cancel()
            exchange.tryTimer = nil
            if let call = exchange.call, let target = exchange.target, let deadline = exchange.deadline {
                // A retryable status is retried when the policy and budget allow, before anything
                // reaches the client; otherwise the service's own response goes through.
                var facts = target.facts
                facts.bodyReplayable = exchange.replayable
                if let wait = call.retryWait(
                    after: .response(status: status), request: facts,
                    retryAfter: head.headers.first(name: "retry-after"), deadline: deadline)
                {
                    abandonUpstream()
                    return scheduleRetry(after: wait)
                }
            }
            exchange.responseStarted = true
            exchange.responseStatus = head.status.code
            exchange.upstreamKeepAlive = head.isKeepAlive
            if let limit = exchange.target?.route.maxResponseBytes,
                let length = head.headers.first(name: "content-length").flatMap({ Int($0) }), length > limit
            {
                abandonUpstream()
                exchange.call?.finish(.cancelled)
                return fail(
                    GatewayError(
                        .upstreamError,
                        "the service's response is larger than \(ByteSize(bytes: limit)), this route's limit"),
                    closeAfter: false)
            }
            // Committed to this response: nothing will be replayed any more.
            exchange.replayable = false
            exchange.sentBody.removeAll()
            let hopByHop = HTTPHeaderRules.hopByHopNames(connectionHeaderValues: head.headers["connection"])
            let chunked = head.headers["transfer-encoding"].contains { $0.lowercased().contains("chunked") }
            for name in HTTPHeaderRules.present(hopByHop, in: head.headers) { head.headers.remove(name: name) }
            if chunked { head.headers.add(name: "transfer-encoding", value: "chunked") }
            head.headers.replaceOrAdd(name: RequestID.headerName, value: exchange.requestID)
            if let route = exchange.target?.route, !route.responseHeaders.isEmpty {
                head.headers.apply(route.responseHeaders)
            }
            for (name, value) in exchange.extraResponseHeaders {
                // Vary lists add up; the CORS headers replace whatever the service sent.
                if name == "Vary" {
                    head.headers.add(name: name, value: value)
                } else {
                    head.headers.replaceOrAdd(name: name, value: value)
                }
            }
            if !exchange.head.isKeepAlive { head.headers.replaceOrAdd(name: "connection", value: "close") }
            head.version = exchange.head.version
            emitResponseHead(HTTPResponseHead(version: head.version, status: head.status, headers: head.headers))
        case .body(let buffer):
            exchange.responseBytes += buffer.readableBytes
            if let limit = exchange.target?.route.maxResponseBytes, exchange.responseBytes > limit {
                // Too late for an error status: cut the response so the client sees it incomplete.
                shared.logger.warning(
                    "response cut at the route's limit",
                    metadata: ["route": "\(exchange.routeName)", "limit": "\(ByteSize(bytes: limit))"])
                exchange.cancelTimers()
                abandonUpstream()
                exchange.call?.finish(.cancelled)
                exchange.phase = .finished
                complete(status: exchange.responseStatus)
                context.close(promise: nil)
                return
            }
            _ = emitResponseBody(buffer)
        case .end(let trailers):
            exchange.cancelTimers()
            exchange.lease?.release(reusable: exchange.upstreamKeepAlive && exchange.requestEnded)
            exchange.lease = nil
            exchange.call?.finish(.response(status: Int(exchange.responseStatus)))
            guard finishResponseBody() else { return }
            exchange.phase = .finished
            let keepAlive = exchange.head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
            complete(status: exchange.responseStatus)
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        // Backpressure: stop reading the client while the upstream cannot take more.
        context?.channel.setOption(ChannelOptions.autoRead, value: isWritable).whenComplete { _ in }
    }

    func upstreamFailed(_ error: any Error) {
        guard let exchange, exchange.phase == .forwarding else { return }
        exchange.lease = nil
        if exchange.heldResponse != nil {
            exchange.call?.finish(.reset)
            fail(
                GatewayError(.upstreamError, "the upstream connection failed before the response ended: \(error)"),
                closeAfter: false)
        } else if exchange.responseStarted {
            exchange.cancelTimers()
            exchange.call?.finish(.reset)
            exchange.phase = .finished
            complete(status: exchange.responseStatus)
            context?.close(promise: nil)
        } else {
            tryFailed(
                .reset,
                error: GatewayError(.upstreamError, "the upstream connection failed before a response: \(error)"))
        }
    }
}
