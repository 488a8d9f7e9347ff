// Buffered request/response calls to HTTP/1.1 services on the streaming pool's keep-alive connections
// (HTTP1ConnectionPool, NIO's HTTP/1.1 client codec), run on one event loop: the same policy as
// HTTPRequestTransport (breaker admission, endpoint choice, per-try and total deadlines, retries with
// backoff and budget, outcomes for outlier detection), without AsyncHTTPClient's per-request machinery
// (URL parsing, request validation, tracing, its own pool's state machine), which cost the WebSocket
// gateway about a fifth of its CPU per message (perf, docs/benchmarks.md). Written on SwiftNIO by hand for
// that reason; HTTP/2 services still go through AsyncHTTPClient.
import GatewayCore
import NIOCore
import NIOHTTP1

/// One call: the caller awaits `promise`.
// Safety: created off the loop, then every member is read and changed on `loop` only.
final class PooledRequestCall: UpstreamResponseDelegate, @unchecked Sendable {
    private let service: UpstreamService
    private let pool: HTTP1ConnectionPool
    private let loop: any EventLoop
    private let request: UpstreamRequest
    private let extra: [(String, String)]
    private let options: UpstreamCallOptions
    private let promise: EventLoopPromise<UpstreamResponse>

    private var call: UpstreamCall?
    /// The call's total deadline, from its creation.
    private let deadline: CallDeadline
    private var facts = RetryableRequest(isIdempotent: false, bodyReplayable: false)
    private var lease: UpstreamLease?
    private var tryTimeout: Duration = .zero
    private var tryTimer: Scheduled<Void>?
    private var retryTimer: Scheduled<Void>?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var done = false
    /// Tries started; a connection that arrives for an earlier try goes back to the pool.
    private var tries = 0

    private init(
        service: UpstreamService, pool: HTTP1ConnectionPool, loop: any EventLoop, request: UpstreamRequest,
        extra: [(String, String)], options: UpstreamCallOptions
    ) {
        self.service = service
        self.pool = pool
        self.loop = loop
        self.request = request
        self.extra = extra
        self.options = options
        self.promise = loop.makePromise(of: UpstreamResponse.self)
        self.deadline = CallDeadline(
            timeout: service.requestTimeout(route: options.timeout), callerTimeout: options.callerTimeout)
    }

    /// Sends `request` to `service` on `loop` (one of the pool's loops) and returns the buffered response.
    static func send(
        _ request: UpstreamRequest, to service: UpstreamService, pool: HTTP1ConnectionPool, on loop: any EventLoop,
        headers extra: [(String, String)], options: UpstreamCallOptions
    ) async throws(GatewayError) -> UpstreamResponse {
        let call = PooledRequestCall(
            service: service, pool: pool, loop: loop, request: request, extra: extra, options: options)
        let response = call.promise.futureResult
        loop.execute { call.start() }
        do {
            return try await withTaskCancellationHandler {
                try await response.get()
            } onCancel: {
                loop.execute { call.cancel() }
            }
        } catch let error as GatewayError {
            throw error
        } catch {
            throw GatewayError(.upstreamError, "service '\(service.name)' failed: \(error)")
        }
    }

    /// Starts the call on `loop`, which the caller is on; the future completes there.
    static func start(
        _ request: UpstreamRequest, to service: UpstreamService, pool: HTTP1ConnectionPool, on loop: any EventLoop,
        headers extra: [(String, String)], options: UpstreamCallOptions
    ) -> EventLoopFuture<UpstreamResponse> {
        let call = PooledRequestCall(
            service: service, pool: pool, loop: loop, request: request, extra: extra, options: options)
        call.start()
        return call.promise.futureResult
    }

    private func start() {
        let call: UpstreamCall
        do {
            call = try service.beginCall(retry: options.retry)
        } catch {
            return fail(error)
        }
        self.call = call
        facts = RetryableRequest(
            isIdempotent: RetryableRequest.isIdempotent(
                method: request.method,
                hasIdempotencyKey: request.headers.contains { $0.0.lowercased() == "idempotency-key" }),
            bodyReplayable: (request.body?.count ?? 0) <= call.retry.config.maxBufferedBody.bytes)
        attempt()
    }

    /// One try: an endpoint, a connection to it, the request written, the try's timer.
    private func attempt() {
        guard !done, let call else { return }
        let address: UpstreamAddress
        do {
            address = try call.nextEndpoint(key: options.hashKey)
        } catch {
            call.finish(.cancelled)
            return fail(error)
        }
        tries += 1
        let thisTry = tries
        tryTimeout = deadline.tryTimeout(perTry: call.retry.config.perTryTimeout)
        head = nil
        body = nil
        tryTimer = loop.assumeIsolated().scheduleTask(in: .nanoseconds(tryTimeout.nanoseconds)) {
            self.tryTimer = nil
            self.tryFailed(
                GatewayError(
                    .upstreamTimeout,
                    "service '\(self.service.name)' did not answer within \(ConfigDuration(self.tryTimeout))"))
        }
        if let idle = pool.leaseIdle(address, on: loop) { return forward(on: idle) }
        pool.lease(address, service: service, on: loop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let lease):
                guard !self.done, self.tries == thisTry, self.tryTimer != nil else {
                    return lease.release(reusable: true)
                }
                self.forward(on: lease)
            case .failure(let error):
                guard !self.done, self.tries == thisTry, self.tryTimer != nil else { return }
                let mapped =
                    (error as? GatewayError)
                    ?? HTTPRequestTransport.map(error, service: self.service.name, endpoint: address, timeout: .zero)
                if mapped.code == .circuitOpen {
                    self.cancelTimers()
                    call.finish(.cancelled)
                    return self.fail(mapped)
                }
                self.tryFailed(mapped)
            }
        }
    }

    private func forward(on lease: UpstreamLease) {
        self.lease = lease
        lease.attach(self)
        let endpoint = lease.endpoint
        var headers = HTTPHeaders()
        for (name, value) in request.headers where !HTTPHeaderRules.hopByHop.contains(name.lowercased()) {
            headers.add(name: name, value: value)
        }
        for (name, value) in extra { headers.replaceOrAdd(name: name, value: value) }
        headers.replaceOrAdd(name: "host", value: endpoint.authority)
        headers.replaceOrAdd(name: CallDeadline.headerName, value: CallDeadline.headerValue(deadline.remaining))
        if let body = request.body { headers.replaceOrAdd(name: "content-length", value: String(body.count)) }
        let head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: endpoint.basePath + request.path,
            headers: headers)
        lease.channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body = request.body, !body.isEmpty {
            lease.channel.write(
                HTTPClientRequestPart.body(.byteBuffer(lease.channel.allocator.buffer(bytes: body))), promise: nil)
        }
        lease.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    // MARK: the response

    func upstreamResponse(_ part: HTTPClientResponsePart) {
        guard !done else { return }
        switch part {
        case .head(let head):
            if head.status.code >= 100 && head.status.code < 200 { return }  // interim
            if let length = head.headers.first(name: "content-length").flatMap(Int.init),
                length > options.maxResponseBytes
            {
                return tooLarge()
            }
            self.head = head
        case .body(var chunk):
            guard (body?.readableBytes ?? 0) + chunk.readableBytes <= options.maxResponseBytes else {
                return tooLarge()
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head, let call else { return }
            cancelTryTimer()
            lease?.release(reusable: head.isKeepAlive)
            lease = nil
            var received = body ?? ByteBuffer()
            let response = UpstreamResponse(
                status: Int(head.status.code), headers: head.headers.map { ($0.name, $0.value) },
                body: received.readBytes(length: received.readableBytes) ?? [])
            let outcome = UpstreamOutcome.response(status: response.status)
            if let wait = call.retryWait(
                after: outcome, request: facts, retryAfter: response.header("retry-after"), deadline: deadline)
            {
                return scheduleRetry(after: wait)
            }
            call.finish(outcome)
            succeed(response)
        }
    }

    func upstreamFailed(_ error: any Error) {
        guard !done, let address = lease?.address else { return }
        tryFailed(HTTPRequestTransport.map(error, service: service.name, endpoint: address, timeout: tryTimeout))
    }

    func upstreamReadComplete() {}

    func upstreamWritabilityChanged(isWritable: Bool) {}

    /// A response over `maxResponseBytes`: the caller's limit, not a sign of a sick endpoint.
    private func tooLarge() {
        cancelTimers()
        abandonLease()
        call?.finish(.cancelled)
        fail(GatewayError(.upstreamError, "service '\(service.name)' sent a response that is too large"))
    }

    /// A try ended without a response: another one when the policy allows, else the call fails.
    private func tryFailed(_ error: GatewayError) {
        guard !done, let call else { return }
        cancelTryTimer()
        abandonLease()
        let outcome = UpstreamOutcome(error)
        if let wait = call.retryWait(after: outcome, request: facts, retryAfter: nil, deadline: deadline) {
            return scheduleRetry(after: wait)
        }
        call.finish(outcome)
        if error.code == .upstreamTimeout, deadline.remaining == .zero {
            return fail(
                GatewayError(
                    .upstreamTimeout,
                    "service '\(service.name)' did not answer within \(ConfigDuration(deadline.total))"))
        }
        fail(error)
    }

    private func scheduleRetry(after wait: Duration) {
        retryTimer = loop.assumeIsolated().scheduleTask(in: .nanoseconds(wait.nanoseconds)) {
            self.retryTimer = nil
            self.attempt()
        }
    }

    /// The caller's task was cancelled.
    private func cancel() {
        guard !done else { return }
        cancelTimers()
        abandonLease()
        call?.finish(.cancelled)
        fail(GatewayError(.unavailable, "the call to service '\(service.name)' was cancelled"))
    }

    private func abandonLease() {
        lease?.release(reusable: false)
        lease = nil
    }

    private func cancelTryTimer() {
        tryTimer?.cancel()
        tryTimer = nil
    }

    private func cancelTimers() {
        cancelTryTimer()
        retryTimer?.cancel()
        retryTimer = nil
    }

    private func succeed(_ response: UpstreamResponse) {
        done = true
        promise.succeed(response)
    }

    private func fail(_ error: GatewayError) {
        done = true
        promise.fail(error)
    }
}
