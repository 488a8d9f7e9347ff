// The upstream side of the byte-level data path: the call through the service's policy (rate limit,
// canary split, breaker admission, endpoint choice, deadlines), each try on a raw pooled connection of
// the same event loop, retries as RESTProxyHandler does them, and the response framed over bytes
// (HTTP1ResponseHeadParser, HTTP1ChunkedTracker) and relayed with its head re-written by copying.
import GatewayCore
import NIOCore
import NIOHTTP1
import ServiceClient

extension FastProxyHandler: UpstreamByteDelegate {
    // MARK: starting the call

    func beginCall(route: RESTRoute, upstreamPath: String, identity: Identity?) {
        guard let exchange, let context else { return }
        let request = exchange.request
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
        if let canary = route.canary {
            let key = canary.config.stickyOn?.key(header: { request.value($0) })
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
        let deadline = CallDeadline(
            timeout: route.timeout, callerTimeout: CallDeadline.parseHeader(request.value(CallDeadline.headerName)))
        exchange.deadline = deadline
        let hashKey = route.service.config.hashOn?.key(
            header: { request.value($0) }, clientAddress: exchange.client.address)
        let facts = RetryableRequest(
            isIdempotent: RetryableRequest.isIdempotent(
                method: exchange.method, hasIdempotencyKey: request.contains("idempotency-key")),
            bodyReplayable: true)
        exchange.target = .init(
            route: route, upstreamPath: upstreamPath, identity: identity, hashKey: hashKey, facts: facts)
        let deadlineAt = NIODeadline.now() + .nanoseconds(deadline.total.nanoseconds)
        exchange.deadlineAt = deadlineAt
        armDeadline(deadlineAt)
        attempt()
    }

    /// Starts one try: picks an endpoint and leases a raw connection to it.
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
        let pool = shared.client.bytesPool
        if let lease = pool.leaseIdle(address, on: context.eventLoop) { return forward(lease: lease) }
        pool.lease(address, service: target.route.service, on: context.eventLoop).assumeIsolated()
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

    /// Writes the request head for `lease`'s endpoint, then the body sent before (on a retry) and the
    /// body that waited.
    private func forward(lease: UpstreamLease) {
        guard let exchange, let context, let target = exchange.target, let deadline = exchange.deadline,
            let plan = exchange.plan
        else { return }
        exchange.lease = lease
        exchange.phase = .forwarding
        exchange.response = .head
        exchange.responseHead = nil
        exchange.upstreamReusable = true
        lease.attach(bytes: self)
        // What UpstreamCallContext.propagationHeaders sends, with the client part kept per connection.
        var extra: [(String, String)] = []
        extra.reserveCapacity(12)  // One allocation; growing from one element took two more.
        extra.append((RequestID.headerName, exchange.requestID))
        extra.append(("traceparent", exchange.trace.traceparent))
        if let state = exchange.trace.tracestate, !state.isEmpty { extra.append(("tracestate", state)) }
        if let identity = target.identity {
            extra.append(contentsOf: identity.forwardedHeaders(shared.identityHeaders))
        }
        extra.append(contentsOf: forwardingHeaders(for: exchange.client))
        extra.append(("Host", lease.address.authority))
        let edits = target.route.requestHeaders
        // The route's edits apply after the gateway's own headers, as on the codec path: a `set`
        // replaces one of them, a `remove` removes it.
        if !plan.requestEditNames.isEmpty { extra.removeAll { plan.requestEditNames.contains($0.0.lowercased()) } }
        for (name, value) in edits.set { extra.append((name, value)) }
        for (name, value) in edits.add { extra.append((name, value)) }
        extra.append((CallDeadline.headerName, CallDeadline.headerValue(deadline.remaining)))
        let request = exchange.request
        var out = lease.channel.allocator.buffer(capacity: request.head.length + 512)
        request.bytes.withUnsafeReadableBytes { p in
            HTTP1HeadWriter.writeRequest(
                p, head: request.head, target: lease.endpoint.basePath + target.upstreamPath, drop: plan.requestDrop,
                extra: extra, into: &out)
        }
        // A retry first sends again what the previous try already sent; small bodies go in the same write.
        for var buffer in exchange.sentBody { out.writeBuffer(&buffer) }
        let limit = target.route.retry.maxBufferedBody.bytes
        for buffer in exchange.pending {
            exchange.remember(buffer, limit: limit)
            var copy = buffer
            out.writeBuffer(&copy)
        }
        exchange.pending.removeAll()
        lease.channel.write(out, promise: nil)
        upstreamNeedsFlush = false
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

    // MARK: upstream → client

    func upstreamBytes(_ incoming: ByteBuffer) {
        guard let exchange, exchange.phase == .forwarding else { return }
        var buffer = incoming
        while buffer.readableBytes > 0 {
            switch exchange.response {
            case .head:
                if var earlier = exchange.responseHead {
                    earlier.writeBuffer(&buffer)
                    buffer = earlier
                    exchange.responseHead = nil
                }
                guard let end = buffer.withUnsafeReadableBytes({ HTTP1RequestHeadParser.headEnd($0) }) else {
                    guard buffer.readableBytes <= Self.maxHeadBytes else {
                        upstreamBroken("the service's response head is larger than 64 KiB")
                        return
                    }
                    exchange.responseHead = buffer
                    return
                }
                let headBytes = buffer.readSlice(length: end)!
                guard responseHead(headBytes, end: end, following: buffer.readableBytes) else { return }
            case .length(let left):
                let slice = buffer.readSlice(length: min(left, buffer.readableBytes))!
                exchange.response = left == slice.readableBytes ? .head : .length(left - slice.readableBytes)
                guard responseBody(slice) else { return }
                if case .head = exchange.response { return responseEnded(extra: buffer.readableBytes) }
            case .chunked:
                let count = buffer.withUnsafeReadableBytes { exchange.chunks.consume($0) }
                guard count >= 0 else {
                    upstreamBroken("the service's chunked response is malformed")
                    return
                }
                guard responseBody(buffer.readSlice(length: count)!) else { return }
                if exchange.chunks.isDone { return responseEnded(extra: buffer.readableBytes) }
            case .untilClose:
                let slice = buffer.readSlice(length: buffer.readableBytes)!
                guard responseBody(slice) else { return }
            }
            guard self.exchange === exchange, exchange.phase == .forwarding else { return }
        }
        sendClient()
    }

    /// Handles a complete response head; false when the exchange went another way (retry, error).
    /// `following` is how many bytes came after the head in the same read (none may follow a
    /// body-less response on a connection that is to be reused).
    private func responseHead(_ headBytes: ByteBuffer, end: Int, following: Int) -> Bool {
        guard let exchange else { return false }
        let head: HTTP1ResponseHead
        do {
            head = try headBytes.withUnsafeReadableBytes { p throws(HTTP1ParseError) in
                try HTTP1ResponseHeadParser.parse(p, end: end, requestWasHEAD: exchange.isHEAD)
            }
        } catch {
            upstreamBroken("the service's response is not valid HTTP/1.1: \(error.description)")
            return false
        }
        if head.status < 200 { return head.status != 101 || upstreamBroken("the service switched protocols") }
        exchange.tryTimer?.cancel()
        exchange.tryTimer = nil
        let status = head.status
        if let call = exchange.call, let target = exchange.target, let deadline = exchange.deadline {
            var facts = target.facts
            facts.bodyReplayable = exchange.replayable
            if let wait = call.retryWait(
                after: .response(status: status), request: facts,
                retryAfter: Self.fieldValue(headBytes, head, "retry-after"), deadline: deadline)
            {
                abandonUpstream()
                scheduleRetry(after: wait)
                return false
            }
        }
        if let limit = exchange.target?.route.maxResponseBytes, case .length(let length) = head.framing, length > limit
        {
            abandonUpstream()
            exchange.call?.finish(.cancelled)
            fail(
                GatewayError(
                    .upstreamError,
                    "the service's response is larger than \(ByteSize(bytes: limit)), this route's limit"),
                closeAfter: false)
            return false
        }
        exchange.responseStarted = true
        exchange.responseStatus = UInt(status)
        exchange.upstreamReusable = head.reusable
        // Committed to this response: nothing will be replayed any more.
        exchange.replayable = false
        exchange.sentBody.removeAll()
        var extra: [(String, String)] = [(RequestID.headerName, exchange.requestID)]
        var dropExtra: HTTP1HeaderNameSet?
        if let plan = exchange.plan, let edits = exchange.target?.route.responseHeaders,
            !plan.responseEditNames.isEmpty || !edits.add.isEmpty
        {
            extra.removeAll { plan.responseEditNames.contains($0.0.lowercased()) }
            for (name, value) in edits.set { extra.append((name, value)) }
            for (name, value) in edits.add { extra.append((name, value)) }
        }
        if !exchange.extraResponseHeaders.isEmpty {
            // Vary lists add up; the CORS and rate-limit headers replace whatever the service sent
            // and what the route set.
            let replaced = exchange.extraResponseHeaders.map { $0.0.lowercased() }.filter { $0 != "vary" }
            dropExtra = HTTP1HeaderNameSet(replaced)
            extra.removeAll { replaced.contains($0.0.lowercased()) }
            extra += exchange.extraResponseHeaders
        }
        let close = !exchange.keepAlive || head.framing == .untilClose || quiescing
        exchange.closeClient = close
        var out = ByteBufferAllocator().buffer(capacity: head.length + 256)
        headBytes.withUnsafeReadableBytes { p in
            HTTP1HeadWriter.writeResponse(
                p, head: head, drop: exchange.plan?.responseDrop ?? HTTP1HeaderNameSet([]), dropExtra: dropExtra,
                extra: extra, close: close, into: &out)
        }
        writeClient(out)
        switch head.framing {
        case .none:
            responseEnded(extra: following)
            return false
        case .length(let length):
            exchange.response = .length(length)
        case .chunked:
            exchange.chunks.reset()
            exchange.response = .chunked
        case .untilClose:
            exchange.response = .untilClose
        }
        return true
    }

    /// Passes response body bytes on; false when the route's response limit cut the response.
    private func responseBody(_ slice: ByteBuffer) -> Bool {
        guard let exchange else { return false }
        exchange.responseBytes += slice.readableBytes
        if let limit = exchange.target?.route.maxResponseBytes, exchange.responseBytes > limit {
            // Too late for an error status: cut the response so the client sees it incomplete.
            shared.logger.warning(
                "response cut at the route's limit",
                metadata: ["route": "\(exchange.routeName)", "limit": "\(ByteSize(bytes: limit))"])
            exchange.cancelTimers()
            abandonUpstream()
            exchange.call?.finish(.cancelled)
            exchange.phase = .finished
            sendClient()
            complete(status: exchange.responseStatus)
            close()
            return false
        }
        if !exchange.isHEAD { writeClient(slice) }
        return true
    }

    /// The response's last byte arrived (`extra` bytes followed it: the upstream is out of step).
    private func responseEnded(extra: Int) {
        guard let exchange else { return }
        exchange.cancelTimers()
        exchange.lease?.release(reusable: exchange.upstreamReusable && extra == 0 && exchange.requestEnded)
        exchange.lease = nil
        leaseGone()
        exchange.call?.finish(.response(status: Int(exchange.responseStatus)))
        flushClient()
        guard exchange.requestEnded else {
            // Answered before the whole request arrived: the rest of its body is read and dropped,
            // then the exchange completes (as when the gateway answers early itself).
            exchange.phase = .answered
            return
        }
        exchange.phase = .finished
        complete(status: exchange.responseStatus)
    }

    /// The upstream sent something that cannot be relayed.
    @discardableResult
    private func upstreamBroken(_ message: String) -> Bool {
        guard let exchange else { return false }
        abandonUpstream()
        if exchange.canAnswer {
            exchange.call?.finish(.reset)
            fail(GatewayError(.upstreamError, message), closeAfter: false)
        } else {
            failRequest(GatewayError(.upstreamError, message))
        }
        return false
    }

    func upstreamReadComplete() {
        flushClient()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        // Backpressure: stop reading the client while the upstream cannot take more.
        upstreamBlocked = !isWritable
        updateReading()
    }

    func upstreamFailed(_ error: any Error) {
        guard let exchange, exchange.phase == .forwarding else { return }
        exchange.lease = nil
        leaseGone()
        if case .untilClose = exchange.response, exchange.responseStarted {
            exchange.upstreamReusable = false
            return responseEnded(extra: 0)  // The close is the end of this body.
        }
        if exchange.responseStarted {
            exchange.cancelTimers()
            exchange.call?.finish(.reset)
            exchange.phase = .finished
            flushClient()
            complete(status: exchange.responseStatus)
            close()
        } else {
            tryFailed(
                .reset,
                error: GatewayError(.upstreamError, "the upstream connection failed before a response: \(error)"))
        }
    }

    static func fieldValue(_ bytes: ByteBuffer, _ head: HTTP1ResponseHead, _ name: StaticString) -> String? {
        bytes.withUnsafeReadableBytes { p in
            head.fields.first { HTTP1RequestHeadParser.equalsLowercase(p, $0.name, name) }.map {
                String(decoding: UnsafeRawBufferPointer(rebasing: p[$0.value]), as: UTF8.self)
            }
        }
    }
}
