// The REST data path: one handler per client connection that routes each request, applies its policy,
// leases a keep-alive upstream connection on the same event loop and streams the request and response
// parts between the two channels. No Task per request (only auth that needs jwt-kit's async API hops
// through one), no body buffering beyond what arrives while a lease or auth decision is pending and
// the copy of a small body kept for retries. The upstream side (tries, retries, timers) is in
// RESTProxyHandler+Upstream.swift.
import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import ServiceClient

final class RESTProxyHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let box: RESTSharedBox
    /// The routes and policies of the request in progress (taken from the box at its start).
    var shared: RESTGatewayShared
    var context: ChannelHandlerContext?
    var exchange: RESTExchange?
    /// Request parts that arrived while an earlier request on this connection was in progress.
    var pipelined: [HTTPServerRequestPart] = []
    var pipelinedBytes = 0
    var pipelinePaused = false
    /// Set by a graceful shutdown: close once the current response has been sent.
    var quiescing = false

    init(box: RESTSharedBox) {
        self.box = box
        self.shared = box.current
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: downstream → upstream

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        // A pipelined request waits until the one before it has been answered (see
        // RESTProxyHandler+Pipelining.swift); NIO's pipelining handler is not used because holding
        // reads back costs two epoll_ctl calls per request.
        if !pipelined.isEmpty || (exchange != nil && isRequestHead(part)) {
            return holdPipelined(part, context: context)
        }
        handle(part, context: context)
    }

    func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            start(head: head, context: context)
        case .body(let buffer):
            guard let exchange else { return }
            exchange.bodyBytes += buffer.readableBytes
            if var copy = exchange.mirror {
                copy.bytes += buffer.readableBytes
                if copy.bytes > copy.mirror.config.maxBody.bytes {
                    copy.mirror.abandon()  // Too big to copy: the shadow gets nothing.
                    exchange.mirror = nil
                } else {
                    copy.body.append(buffer)
                    exchange.mirror = copy
                }
            }
            if exchange.bodyBytes > exchange.maxBodyBytes && exchange.canAnswer && exchange.phase != .answered {
                fail(
                    GatewayError(
                        .payloadTooLarge, "the request body is larger than \(ByteSize(bytes: exchange.maxBodyBytes))"),
                    closeAfter: true)
                return
            }
            forwardOrQueue(part)
        case .end:
            guard let exchange else { return }
            exchange.requestEnded = true
            sendMirror()
            forwardOrQueue(part)
            if let next = exchange.whenRequestComplete {
                exchange.whenRequestComplete = nil
                next()
            }
            if exchange.phase == .answered { finishAnswered() }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.lease?.channel.flush()
        context.fireChannelReadComplete()
    }

    private func forwardOrQueue(_ part: HTTPServerRequestPart) {
        guard let exchange else { return }
        switch exchange.phase {
        case .preparing:
            exchange.pending.append(part)
        case .forwarding:
            if case .body(let buffer) = part {
                exchange.remember(buffer, limit: exchange.target?.route.retry.maxBufferedBody.bytes ?? 0)
            }
            exchange.lease?.channel.write(Self.clientPart(part), promise: nil)
        case .answered, .finished:
            break
        }
    }

    private func start(head: HTTPRequestHead, context: ChannelHandlerContext) {
        let requestID = RequestID.accept(head.headers.first(name: RequestID.headerName))
        let trace = GatewayTraceContext(
            traceparent: head.headers.first(name: "traceparent"), tracestate: head.headers.first(name: "tracestate"))
        shared = box.current  // A reload applies from the next request on.
        let exchange = RESTExchange(head: head, requestID: requestID, trace: trace)
        exchange.maxBodyBytes = shared.maxBodyBytes
        self.exchange = exchange
        shared.metrics.requestStarted()

        // Framing that request smuggling relies on is refused outright.
        let lengths = head.headers[canonicalForm: "content-length"]
        if !head.headers["transfer-encoding"].isEmpty && !lengths.isEmpty {
            return fail(
                GatewayError(.badRequest, "Content-Length and Transfer-Encoding together are not allowed"),
                closeAfter: true)
        }
        if lengths.count > 1 && lengths.contains(where: { $0 != lengths[0] }) {
            return fail(GatewayError(.badRequest, "conflicting Content-Length values"), closeAfter: true)
        }
        // Byte scan: `String.contains(String)` goes through Foundation's NSString search.
        for (_, value) in head.headers where value.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
            return fail(GatewayError(.badRequest, "header values must not contain CR or LF"), closeAfter: true)
        }

        let uri = head.uri
        let queryStart = uri.firstIndex(of: "?")
        let rawPath = uri[..<(queryStart ?? uri.endIndex)]
        let query = queryStart.map { uri[uri.index(after: $0)...] }
        guard let path = PathNormalizer.normalize(rawPath) else {
            return fail(GatewayError(.badRequest, "the request path is not valid"), closeAfter: false)
        }
        let host = head.headers.first(name: "host").map { Self.hostWithoutPort($0) }
        let headers = head.headers
        // Route conditions read headers, and query parameters through names starting with "?".
        let lookup: (String) -> String? = { name in
            name.hasPrefix(RouteRequest.queryPrefix)
                ? QueryString.value(of: String(name.dropFirst()), in: query) : headers.first(name: name)
        }
        // A CORS preflight is routed as the request it announces; a route without CORS sees a plain OPTIONS.
        var preflight = CORSPolicy.preflightMethod(head)
        var match = shared.routes.match(
            RouteRequest(method: preflight ?? head.method.rawValue, path: Substring(path), host: host, header: lookup))
        if preflight != nil, case .matched(let route, _) = match, route.cors == nil {
            preflight = nil
            match = shared.routes.match(
                RouteRequest(method: head.method.rawValue, path: Substring(path), host: host, header: lookup))
        }
        switch match {
        case .notFound:
            fail(GatewayError(.notFound, "no route matches \(head.method.rawValue) \(path)"), closeAfter: false)
        case .methodNotAllowed(let allowed):
            fail(
                GatewayError(.methodNotAllowed, "\(head.method.rawValue) is not allowed here"), closeAfter: false,
                extraHeaders: [("Allow", allowed.joined(separator: ", "))])
        case .matched(let route, let parameters):
            exchange.routeName = route.name
            // The body limit is the route's when it sets one, else the gateway's.
            let limit = route.maxRequestBytes ?? shared.maxBodyBytes
            exchange.maxBodyBytes = limit
            if let length = lengths.first.flatMap({ Int($0) }), length > limit {
                return fail(
                    GatewayError(.payloadTooLarge, "the request body is larger than \(ByteSize(bytes: limit))"),
                    closeAfter: true)
            }
            // The peer's address is formatted once per request; forwarded headers are read only when
            // proxies are trusted at all.
            let peer = context.channel.remoteAddress?.ipAddress
            exchange.client =
                shared.trustedProxies.isEmpty
                ? ForwardedClient(peer: peer, host: head.headers.first(name: "host"), scheme: shared.scheme)
                : ForwardedClient(
                    peer: peer, trusted: shared.trustedProxies, forwardedFor: head.headers["x-forwarded-for"],
                    proto: head.headers.first(name: "x-forwarded-proto"),
                    forwardedHost: head.headers.first(name: "x-forwarded-host"), host: head.headers.first(name: "host"),
                    scheme: shared.scheme)
            if !route.ipRules.isEmpty && !route.ipRules.permits(exchange.client.address) {
                return fail(
                    GatewayError(.permissionDenied, "requests from this address are not allowed on this route"),
                    closeAfter: false)
            }
            if let cors = route.cors, let origin = headers.first(name: "origin") {
                if let method = preflight {
                    guard
                        let answer = CORSPolicy.preflightHeaders(
                            cors, route: route, origin: origin, method: method, head: head)
                    else {
                        return fail(
                            GatewayError(
                                .permissionDenied, "cross-origin requests from \(origin) are not allowed here"),
                            closeAfter: false)
                    }
                    return self.answer(.noContent, body: [], headers: answer, closeAfter: false)
                }
                if cors.allows(origin: origin) {
                    exchange.extraResponseHeaders = CORSPolicy.responseHeaders(cors, origin: origin)
                }
            }
            let upstreamPath = route.upstreamPath(path: path, query: query, parameters: parameters)
            exchange.parameters = parameters
            exchange.query = query
            let credentials = Credentials(
                header: { headers.first(name: $0) }, apiKeyHeader: shared.authenticator.config.apiKeyHeader)
            if !route.requiresAuthentication && credentials.isEmpty {
                proceed(route: route, upstreamPath: upstreamPath, identity: nil)
                return
            }
            // jwt-kit verifies asynchronously: pause reading while the decision is made.
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            let authenticator = shared.authenticator
            let policy = route.policy
            context.eventLoop.makeFutureWithTask { () async -> Result<Identity?, GatewayError> in
                do throws(GatewayError) {
                    return .success(try await authenticator.authorize(credentials, policy: policy))
                } catch {
                    return .failure(error)
                }
            }.assumeIsolated().whenSuccess { result in
                guard self.exchange === exchange, let context = self.context else { return }
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                switch result {
                case .success(let identity):
                    self.proceed(route: route, upstreamPath: upstreamPath, identity: identity)
                case .failure(let error):
                    var extra: [(String, String)] = []
                    if error.code == .unauthenticated {
                        for challenge in authenticator.challenges { extra.append(("WWW-Authenticate", challenge)) }
                    }
                    self.fail(error, closeAfter: false, extraHeaders: extra)
                }
            }
        }
    }

    // MARK: downstream writability and lifecycle

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.lease?.pauseReading(!context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.mirror?.mirror.abandon()
        exchange?.mirror = nil
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
        context.close(promise: nil)
    }

    func abandonUpstream() {
        exchange?.lease?.release(reusable: false)
        exchange?.lease = nil
    }

    // MARK: answers made by the gateway

    func fail(_ error: GatewayError, closeAfter: Bool, extraHeaders: [(String, String)] = []) {
        guard let exchange, exchange.canAnswer else {
            context?.close(promise: nil)
            return
        }
        exchange.call?.finish(UpstreamOutcome(error))
        let body = error.problemDetails(
            instance: String(exchange.head.uri.prefix { $0 != "?" }), requestID: exchange.requestID)
        answer(
            HTTPResponseStatus(statusCode: error.code.httpStatus), body: body,
            headers: [("content-type", GatewayError.problemContentType)] + extraHeaders, closeAfter: closeAfter)
    }

    /// Answers the request from the gateway itself (errors, CORS preflights); the rest of the request
    /// body is read and dropped.
    func answer(_ status: HTTPResponseStatus, body: [UInt8], headers extra: [(String, String)], closeAfter: Bool) {
        guard let exchange, let context, exchange.canAnswer else {
            context?.close(promise: nil)
            return
        }
        exchange.heldResponse = nil
        exchange.heldBody = []
        exchange.cacheEntry = nil
        exchange.cancelTimers()
        exchange.phase = .answered
        exchange.responseStarted = true
        exchange.pending.removeAll()
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: "\(body.count)")
        headers.add(name: RequestID.headerName, value: exchange.requestID)
        for (name, value) in extra + exchange.extraResponseHeaders { headers.add(name: name, value: value) }
        let close = closeAfter || !exchange.head.isKeepAlive
        if close { headers.add(name: "connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: exchange.head.version, status: status, headers: headers))),
            promise: nil)
        if exchange.head.method != .HEAD && !body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if close { context.close(promise: nil) }
        }
        exchange.responseStatus = status.code
        if close {
            exchange.phase = .finished
            complete(status: status.code)
        } else if exchange.requestEnded {
            finishAnswered()
        }
        // Otherwise the rest of the request body is read and discarded, then the exchange completes.
    }

    private func finishAnswered() {
        guard let exchange, exchange.phase == .answered else { return }
        exchange.phase = .finished
        complete(status: exchange.responseStatus)
    }

    func complete(status: UInt) {
        guard let exchange else { return }
        self.exchange = nil
        defer { resumePipelined() }
        shared.requestFinished(
            route: exchange.routeName, method: exchange.head.method.rawValue,
            path: exchange.head.uri.prefix { $0 != "?" }, status: status, start: exchange.start,
            requestID: exchange.requestID, trace: exchange.trace, client: exchange.client.address)
    }

    // MARK: helpers

    static func clientPart(_ part: HTTPServerRequestPart) -> HTTPClientRequestPart {
        switch part {
        case .head(let head): return .head(head)
        case .body(let buffer): return .body(.byteBuffer(buffer))
        case .end(let trailers): return .end(trailers)
        }
    }

    static func hostWithoutPort(_ host: String) -> String {
        var host = host.lowercased()
        if host.hasPrefix("[") {
            if let end = host.firstIndex(of: "]") { host = String(host[host.index(after: host.startIndex)..<end]) }
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        return host
    }
}
