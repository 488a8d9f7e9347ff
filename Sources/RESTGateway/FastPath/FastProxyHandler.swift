// The REST gateway's byte-level HTTP/1.1 data path: one handler per client connection that frames
// requests over raw bytes (HTTP1RequestHeadParser), routes them, applies the route's policies and
// forwards the head, re-written by copying byte ranges, and the body, passed through unchanged, to a
// raw keep-alive upstream connection of the same event loop; the response comes back the same way
// (FastProxyHandler+Upstream.swift). One write and one flush per read burst on each side.
// experiments/fastproxy measured this design at nginx's CPU per request; NIO's HTTP/1.1 codecs,
// which build a String-keyed message per head and an NIOAny hop per part, cost four times as much.
//
// Routes that need a whole body or the message model (transformation, validation, caching,
// aggregation, mirroring), CORS preflights, `Expect`, `Upgrade`, HTTP/1.0 and responses the
// listener compresses are served by RESTProxyHandler: when the first such request arrives, this
// handler installs NIO's codecs and RESTProxyHandler behind itself, passes the bytes on from that
// request's first byte, and leaves the pipeline. It only does so between requests.
// Hand-written: NIO has no byte-level HTTP proxy; the framing pieces are in this folder.
import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import ServiceClient

final class FastProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A response head larger than this is refused with 502 (a request head's limit is
    /// limits.maxHeaderSize, answered with 431).
    static let maxHeadBytes = 64 << 10
    /// How much of later requests a connection may hold before reading pauses.
    static let pipelinedLimit = 64 << 10

    let box: RESTSharedBox
    var shared: RESTGatewayShared
    var context: ChannelHandlerContext?
    var exchange: FastExchange?
    /// Bytes read but not consumed: a head still arriving, or requests pipelined behind the current one.
    var held: ByteBuffer?
    /// Why reading from the client is paused (see updateReading).
    var readPaused = false
    var authPending = false
    var upstreamBlocked = false
    var readingOff = false
    var closed = false
    var quiescing = false
    /// The client's address, formatted once per connection.
    var peer: String?

    /// How the body of the request being read is framed (it may outlive its exchange's response).
    enum RequestBody {
        case none
        case length(Int)
        case chunked
    }
    var body = RequestBody.none
    var chunks = HTTP1ChunkedTracker()

    /// The connection's deadline timer and when it fires (FastProxyHandler+Upstream.swift).
    var deadlineTimer: Scheduled<Void>?
    var deadlineTimerAt: NIODeadline?
    /// The client timer (FastProxyHandler+ClientTimeouts.swift): since when the connection has had no
    /// request, since when the current head has been arriving, when a body byte last came.
    var clientTimer: Scheduled<Void>?
    var clientTimerAt: NIODeadline?
    var idleSince = NIODeadline.now()
    var headSince: NIODeadline?
    var lastBodyRead = NIODeadline.now()
    /// The forwarding headers of the connection's client, kept while the client stays the same.
    var forwarding: (client: ForwardedClient, headers: [(String, String)])?

    /// Bytes for the client, written once per burst.
    var clientOut: ByteBuffer?
    var clientNeedsFlush = false
    var upstreamNeedsFlush = false

    init(box: RESTSharedBox) {
        self.box = box
        self.shared = box.current
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        peer = context.channel.remoteAddress?.ipAddress
        idleSince = .now()
        armClientTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        cancelClientTimer()
    }

    // MARK: reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var earlier = held {
            held = nil
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        consume(&buffer, context: context)
        if buffer.readableBytes > 0 && !closed && self.context != nil { hold(buffer, context: context) }
        clientProgressed()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushUpstream()
        flushClient()
    }

    /// Handles requests and body bytes in `buffer` until it is empty, a head is incomplete, or the
    /// current request has ended and its response is pending (what is left is a pipelined request).
    func consume(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        while buffer.readableBytes > 0 && !closed && self.context != nil {
            switch body {
            case .none:
                guard exchange == nil else { return }  // Pipelined: waits for the response before it.
                let start = buffer.readerIndex
                let limit = shared.maxHeadBytes
                guard let end = buffer.withUnsafeReadableBytes({ HTTP1RequestHeadParser.headEnd($0) }) else {
                    if buffer.readableBytes > limit { refuseLargeHead(limit) }
                    return
                }
                guard end <= limit else { return refuseLargeHead(limit) }
                let headBytes = buffer.readSlice(length: end)!
                headSince = nil  // The next head's time starts with its own first byte.
                let parsed: HTTP1RequestHead
                do {
                    parsed = try headBytes.withUnsafeReadableBytes { p throws(HTTP1ParseError) in
                        try HTTP1RequestHeadParser.parse(p, end: end)
                    }
                } catch {
                    return refuseHead(error.description)
                }
                if !startRequest(FastRequest(bytes: headBytes, head: parsed), context: context) {
                    // Handed over to the codec path: it gets the bytes from this request's first byte.
                    buffer.moveReaderIndex(to: start)
                    handOff(buffer, context: context)
                    buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                    return
                }
            case .length(let left):
                let slice = buffer.readSlice(length: min(left, buffer.readableBytes))!
                body = left == slice.readableBytes ? .none : .length(left - slice.readableBytes)
                requestBody(slice)
                if case .none = body { requestEnded() }
            case .chunked:
                let count = buffer.withUnsafeReadableBytes { chunks.consume($0) }
                guard count >= 0 else {
                    body = .none
                    return failRequest(GatewayError(.badRequest, "the chunked request body is malformed"))
                }
                requestBody(buffer.readSlice(length: count)!)
                if chunks.isDone {
                    body = .none
                    requestEnded()
                }
            }
        }
    }

    /// Keeps bytes not consumed yet; reading pauses when too much of later requests piles up.
    private func hold(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        held = buffer
        if buffer.readableBytes > Self.pipelinedLimit && exchange != nil {
            readPaused = true
            updateReading()
        }
    }

    /// Reads from the client only while nothing holds it back: later requests piling up, an auth
    /// decision pending, or the upstream not taking more of the body. One place decides, so one
    /// reason ending does not resume reading while another still holds.
    func updateReading() {
        let off = readPaused || authPending || upstreamBlocked
        guard off != readingOff, let context else { return }
        readingOff = off
        context.channel.setOption(ChannelOptions.autoRead, value: !off).whenComplete { _ in }
        if !off {
            lastBodyRead = .now()  // The body timeout counts from when reading resumed.
            armClientTimer()
        }
    }

    /// After a response: handles held bytes (the next pipelined request), on the next loop tick so it
    /// does not run inside the completion of the one before.
    func resumeHeld() {
        guard let context else { return }
        if readPaused {
            readPaused = false
            updateReading()
        }
        guard held != nil else { return }
        context.eventLoop.assumeIsolated().execute {
            guard let context = self.context, self.exchange == nil, var buffer = self.held else { return }
            self.held = nil
            self.consume(&buffer, context: context)
            if buffer.readableBytes > 0 && !self.closed && self.context != nil { self.hold(buffer, context: context) }
            self.clientProgressed()
            self.flushUpstream()
            self.flushClient()
        }
    }

    /// Installs the codec path behind this handler, gives it `bytes` and leaves the pipeline.
    private func handOff(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        held = nil
        do {
            try RESTListenerPipeline.configureHTTP1(context.channel, shared: box)
        } catch {
            closed = true
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(bytes))
        // The codec path flushes what it wrote upstream at read-complete; when this runs for a held
        // pipelined request, no read-complete follows by itself.
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: request start

    /// Routes the request and starts its exchange; false when the codec path must serve it (nothing
    /// has been counted or sent for it then).
    private func startRequest(_ request: FastRequest, context: ChannelHandlerContext) -> Bool {
        let head = request.head
        guard head.minorVersion == 1, !request.contains("expect"), !request.contains("upgrade") else { return false }
        let method = request.method
        if method == "OPTIONS" && request.contains("origin") && request.contains("access-control-request-method") {
            return false  // A CORS preflight.
        }
        let shared = box.current  // A reload applies from the next request on.
        if shared.compression.enabled && request.contains("accept-encoding") { return false }
        let uri = request.target
        let queryStart = uri.utf8.firstIndex(of: UInt8(ascii: "?"))  // A byte scan, not a Character search.
        let rawPath = uri[..<(queryStart ?? uri.endIndex)]
        let query = queryStart.map { uri[uri.index(after: $0)...] }
        let path = PathNormalizer.normalize(rawPath)
        let host = head.host.map { request.hostName($0) }
        var match: RouteMatchResult<RESTRoute>?
        var plan: FastRoutePlan?
        if let path {
            let lookup: (String) -> String? = { name in
                name.hasPrefix(RouteRequest.queryPrefix)
                    ? QueryString.value(of: String(name.dropFirst()), in: query) : request.value(name)
            }
            match = shared.routes.match(RouteRequest(method: method, path: Substring(path), host: host, header: lookup))
            if case .matched(let route, _) = match {
                plan = shared.fastPlans[route.name]
                if plan == nil { return false }
            }
        }

        self.shared = shared
        body = .none
        switch head.framing {
        case .none: break
        case .length(let length): body = .length(length)
        case .chunked:
            chunks.reset()
            body = .chunked
        }
        let exchange = FastExchange(
            request: request, requestID: RequestID.accept(request.value(RequestID.headerName)),
            trace: GatewayTraceContext(
                traceparent: request.value("traceparent"), tracestate: request.value("tracestate")),
            method: method, path: rawPath)
        exchange.maxBodyBytes = shared.maxBodyBytes
        exchange.requestEnded = head.framing == .none
        self.exchange = exchange
        shared.metrics.requestStarted()

        guard let path, let match else {
            failRequest(GatewayError(.badRequest, "the request path is not valid"), closeAfter: false)
            return true
        }
        switch match {
        case .notFound:
            fail(GatewayError(.notFound, "no route matches \(method) \(path)"), closeAfter: false)
        case .methodNotAllowed(let allowed):
            fail(
                GatewayError(.methodNotAllowed, "\(method) is not allowed here"), closeAfter: false,
                extraHeaders: [("Allow", allowed.joined(separator: ", "))])
        case .matched(let route, let parameters):
            exchange.routeName = route.name
            exchange.plan = plan
            startMatched(route: route, parameters: parameters, path: path, query: query, context: context)
        }
        return true
    }

    private func startMatched(
        route: RESTRoute, parameters: [String: String], path: String, query: Substring?, context: ChannelHandlerContext
    ) {
        guard let exchange else { return }
        let request = exchange.request
        let limit = route.maxRequestBytes ?? shared.maxBodyBytes
        exchange.maxBodyBytes = limit
        if case .length(let length) = request.head.framing, length > limit {
            return fail(
                GatewayError(.payloadTooLarge, "the request body is larger than \(ByteSize(bytes: limit))"),
                closeAfter: true)
        }
        let hostHeader = request.head.host.map { request.string($0) }
        exchange.client =
            shared.trustedProxies.isEmpty
            ? ForwardedClient(peer: peer, host: hostHeader, scheme: shared.scheme)
            : ForwardedClient(
                peer: peer, trusted: shared.trustedProxies, forwardedFor: request.values("x-forwarded-for"),
                proto: request.value("x-forwarded-proto"), forwardedHost: request.value("x-forwarded-host"),
                host: hostHeader, scheme: shared.scheme)
        if !route.ipRules.isEmpty && !route.ipRules.permits(exchange.client.address) {
            return fail(
                GatewayError(.permissionDenied, "requests from this address are not allowed on this route"),
                closeAfter: false)
        }
        if let cors = route.cors, let origin = request.value("origin"), cors.allows(origin: origin) {
            exchange.extraResponseHeaders = CORSPolicy.responseHeaders(cors, origin: origin)
        }
        let upstreamPath = route.upstreamPath(path: path, query: query, parameters: parameters)
        let credentials = Credentials(
            header: { request.value($0) }, apiKeyHeader: shared.authenticator.config.apiKeyHeader)
        if !route.requiresAuthentication && credentials.isEmpty {
            return beginCall(route: route, upstreamPath: upstreamPath, identity: nil)
        }
        // jwt-kit verifies asynchronously: pause reading while the decision is made.
        authPending = true
        updateReading()
        let authenticator = shared.authenticator
        let policy = route.policy
        context.eventLoop.makeFutureWithTask { () async -> Result<Identity?, GatewayError> in
            do throws(GatewayError) {
                return .success(try await authenticator.authorize(credentials, policy: policy))
            } catch {
                return .failure(error)
            }
        }.assumeIsolated().whenSuccess { result in
            self.authPending = false
            self.updateReading()
            guard self.exchange === exchange, self.context != nil else { return }
            switch result {
            case .success(let identity):
                self.beginCall(route: route, upstreamPath: upstreamPath, identity: identity)
            case .failure(let error):
                var extra: [(String, String)] = []
                if error.code == .unauthenticated {
                    for challenge in authenticator.challenges { extra.append(("WWW-Authenticate", challenge)) }
                }
                self.fail(error, closeAfter: false, extraHeaders: extra)
            }
        }
    }

    // MARK: request body

    private func requestBody(_ slice: ByteBuffer) {
        guard let exchange, !exchange.requestEnded else { return }  // The rest of a body already answered.
        exchange.bodyBytes += slice.readableBytes
        if exchange.bodyBytes > exchange.maxBodyBytes && exchange.canAnswer && exchange.phase != .answered {
            return fail(
                GatewayError(
                    .payloadTooLarge, "the request body is larger than \(ByteSize(bytes: exchange.maxBodyBytes))"),
                closeAfter: true)
        }
        switch exchange.phase {
        case .preparing:
            exchange.pending.append(slice)
        case .forwarding:
            exchange.remember(slice, limit: exchange.target?.route.retry.maxBufferedBody.bytes ?? 0)
            exchange.lease?.channel.write(slice, promise: nil)
            upstreamNeedsFlush = true
        case .answered, .finished:
            break
        }
    }

    private func requestEnded() {
        guard let exchange, !exchange.requestEnded else { return }
        exchange.requestEnded = true
        if exchange.phase == .answered {
            exchange.phase = .finished
            complete(status: exchange.responseStatus)
        }
    }

    // MARK: lifecycle

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.lease?.pauseReading(!context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        cancelClientTimer()
        deadlineTimer?.cancel()
        deadlineTimer = nil
        if let exchange, exchange.phase != .finished {
            exchange.cancelTimers()
            abandonUpstream()
            exchange.call?.finish(.cancelled)
            exchange.phase = .finished
            complete(status: 499)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        abandonUpstream()
        closed = true
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            if exchange == nil { close() }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func abandonUpstream() {
        exchange?.lease?.release(reusable: false)
        exchange?.lease = nil
        leaseGone()
    }

    /// The exchange no longer has an upstream connection: its backpressure no longer applies.
    func leaseGone() {
        if upstreamBlocked {
            upstreamBlocked = false
            updateReading()
        }
    }

    func close() {
        guard !closed, let context else { return }
        closed = true
        context.close(promise: nil)
    }
}
