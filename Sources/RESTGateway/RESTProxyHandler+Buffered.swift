// The parts of the REST data path that need whole bodies: a request body transformed before it goes
// upstream, a response held until its end so it can be transformed, and the response cache (lookups
// answered by the gateway, responses copied into the cache while they stream to the client).
import GatewayCore
import NIOCore
import NIOHTTP1
import ServiceClient

extension RESTProxyHandler {
    // MARK: request side

    /// Continues with `next` once the request body is complete when the route transforms it, at once
    /// otherwise.
    func proceed(route: RESTRoute, upstreamPath: String, identity: Identity?) {
        guard let exchange, route.requestTransform != nil || route.validator != nil else {
            return beginCall(route: route, upstreamPath: upstreamPath, identity: identity)
        }
        if let transformer = route.requestTransform {
            exchange.maxBodyBytes = min(exchange.maxBodyBytes, transformer.maxBodySize)
        }
        let next = { [self] in
            guard self.exchange === exchange else { return }
            if let validator = route.validator, !validateRequest(validator) { return }
            if let transformer = route.requestTransform, !transformRequestBody(transformer) { return }
            beginCall(route: route, upstreamPath: upstreamPath, identity: identity)
        }
        if exchange.requestEnded { next() } else { exchange.whenRequestComplete = next }
    }

    /// Checks the whole request against its OpenAPI operation; answers 400 (or 415 for a media type
    /// the operation does not accept) naming the failing fields, and returns false, when it fails.
    private func validateRequest(_ validator: RequestValidator) -> Bool {
        guard let exchange else { return false }
        var bytes: [UInt8] = []
        for case .body(let buffer) in exchange.pending { bytes.append(contentsOf: buffer.readableBytesView) }
        let headers = exchange.head.headers
        let failures = validator.validate(
            pathParameters: exchange.parameters, query: exchange.query, header: { headers.first(name: $0) },
            contentType: headers.first(name: "content-type"), body: bytes.isEmpty ? nil : bytes)
        guard let first = failures.first else { return true }
        let mediaType = failures.contains { $0.kind == .unsupportedMediaType }
        fail(
            GatewayError(
                mediaType ? .unsupportedMediaType : .badRequest,
                failures.map(\.message).joined(separator: "; "),
                details: ["field": first.field, "fields": failures.map(\.field).joined(separator: ",")]),
            closeAfter: false)
        return false
    }

    /// Replaces the queued body with its transformed form; answers 400 and returns false when the
    /// body cannot be transformed.
    private func transformRequestBody(_ transformer: BodyTransformer) -> Bool {
        guard let exchange, let context else { return false }
        var bytes: [UInt8] = []
        for case .body(let buffer) in exchange.pending { bytes.append(contentsOf: buffer.readableBytesView) }
        let result: (body: [UInt8], contentType: String?)
        do {
            result = try transformer.apply(bytes, contentType: exchange.head.headers.first(name: "content-type"))
        } catch {
            fail(GatewayError(.badRequest, error.description), closeAfter: false)
            return false
        }
        exchange.head.headers.remove(name: "transfer-encoding")
        exchange.head.headers.replaceOrAdd(name: "content-length", value: "\(result.body.count)")
        if let type = result.contentType { exchange.head.headers.replaceOrAdd(name: "content-type", value: type) }
        exchange.pending = [.body(context.channel.allocator.buffer(bytes: result.body)), .end(nil)]
        return true
    }

    // MARK: cache lookups

    /// Answers from the cache when it holds a fresh response; returns true when it did.
    func answerFromCache(route: RESTRoute, upstreamPath: String) -> Bool {
        guard let exchange, let config = route.cache, config.caches(method: exchange.head.method.rawValue) else {
            return false
        }
        let headers = exchange.head.headers
        let request = CacheRequest(
            method: exchange.head.method.rawValue,
            host: headers.first(name: "host").map { Self.hostWithoutPort($0) } ?? "",
            target: upstreamPath, route: route.name, apiKeyHeader: shared.authenticator.config.apiKeyHeader
        ) { name in
            let values = headers[name]
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }
        let lookup = shared.cache.lookup(request, config: config)
        route.cacheCounters?.count(lookup.status)
        guard case .hit(let cached) = lookup else {
            if request.cacheControl.onlyIfCached {
                // RFC 9111 §5.2.1.7: the client wants a stored response or nothing.
                fail(
                    GatewayError(.upstreamTimeout, "only-if-cached: no fresh stored response for this request"),
                    closeAfter: false, extraHeaders: [(CacheStatus.headerName, lookup.status.rawValue)])
                return true
            }
            exchange.cacheRequest = request
            exchange.cacheLookup = lookup
            exchange.cacheConfig = config
            return false
        }
        var extra: [(String, String)] = cached.headers.filter { $0.name.lowercased() != "content-length" }.map {
            ($0.name, $0.value)
        }
        extra.append(("Age", "\(cached.age)"))
        extra.append((CacheStatus.headerName, CacheStatus.hit.rawValue))
        answer(HTTPResponseStatus(statusCode: cached.status), body: cached.body, headers: extra, closeAfter: false)
        return true
    }

    // MARK: response side

    /// Writes the response head, or holds it when the route transforms responses; starts copying the
    /// response into the cache when it may be stored.
    func emitResponseHead(_ head: HTTPResponseHead) {
        guard let exchange, let context else { return }
        var head = head
        if let lookup = exchange.cacheLookup {
            head.headers.replaceOrAdd(name: CacheStatus.headerName, value: lookup.status.rawValue)
        }
        if exchange.target?.route.responseTransform != nil, exchange.head.method != .HEAD {
            exchange.heldResponse = head
            return
        }
        startCacheEntry(head)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    /// Passes a body part on (or keeps it while the response is held); false when the held body grew
    /// past the transform's limit and the request was answered with an error instead.
    func emitResponseBody(_ buffer: ByteBuffer) -> Bool {
        guard let exchange, let context else { return false }
        if exchange.heldResponse != nil, let transformer = exchange.target?.route.responseTransform {
            exchange.heldBody.append(contentsOf: buffer.readableBytesView)
            if exchange.heldBody.count > transformer.maxBodySize {
                abandonUpstream()
                exchange.call?.finish(.cancelled)
                fail(
                    GatewayError(
                        .upstreamError,
                        "the response body is larger than \(ByteSize(bytes: transformer.maxBodySize)), the transform's limit"
                    ), closeAfter: false)
                return false
            }
            return true
        }
        exchange.cacheEntry?.append(contentsOf: buffer.readableBytesView)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        return true
    }

    /// At the response's end: transforms a held response and sends it (or answers 502 when it cannot
    /// be transformed); stores the cache copy. Returns false when the gateway answered instead.
    func finishResponseBody() -> Bool {
        guard let exchange, let context else { return false }
        if var head = exchange.heldResponse, let transformer = exchange.target?.route.responseTransform {
            let encoding = head.headers.first(name: "content-encoding")?.lowercased()
            if let encoding, encoding != "identity" {
                fail(
                    GatewayError(.upstreamError, "the response is \(encoding)-encoded and cannot be transformed"),
                    closeAfter: false)
                return false
            }
            let result: (body: [UInt8], contentType: String?)
            do {
                result = try transformer.apply(exchange.heldBody, contentType: head.headers.first(name: "content-type"))
            } catch {
                fail(GatewayError(.upstreamError, error.description), closeAfter: false)
                return false
            }
            exchange.heldResponse = nil
            exchange.heldBody = []
            head.headers.remove(name: "transfer-encoding")
            head.headers.replaceOrAdd(name: "content-length", value: "\(result.body.count)")
            if let type = result.contentType { head.headers.replaceOrAdd(name: "content-type", value: type) }
            startCacheEntry(head)
            exchange.cacheEntry?.append(contentsOf: result.body)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            if !result.body.isEmpty {
                context.write(
                    wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: result.body)))),
                    promise: nil)
            }
        }
        invalidateAfterUnsafeRequest()
        if let entry = exchange.cacheEntry {
            exchange.cacheEntry = nil
            let outcome = entry.commit()
            if outcome == .stored { CacheCounters.recordSize(of: shared.cache) }
        }
        return true
    }

    /// A successful POST, PUT, PATCH or DELETE on a cached route drops what is stored for its URL.
    private func invalidateAfterUnsafeRequest() {
        guard let exchange, let target = exchange.target, target.route.cache != nil,
            ![.GET, .HEAD, .OPTIONS, .TRACE].contains(exchange.head.method),
            (200..<400).contains(exchange.responseStatus)
        else { return }
        let host = exchange.head.headers.first(name: "host").map { Self.hostWithoutPort($0) } ?? ""
        if shared.cache.invalidate(host: host, target: target.upstreamPath, route: target.route.name) > 0 {
            CacheCounters.recordSize(of: shared.cache)
        }
    }

    private func startCacheEntry(_ head: HTTPResponseHead) {
        guard let exchange, let request = exchange.cacheRequest, let lookup = exchange.cacheLookup, lookup.mayStore,
            let config = exchange.cacheConfig
        else { return }
        var headers: CacheHeaders = []
        let own: Set<String> = [RequestID.headerName.lowercased(), CacheStatus.headerName.lowercased()]
        for (name, value) in head.headers where !own.contains(name.lowercased()) {
            headers.append((name: name, value: value))
        }
        let length = head.headers.first(name: "content-length").flatMap { Int($0) }
        switch shared.cache.begin(
            status: Int(head.status.code), headers: headers, request: request, config: config, contentLength: length)
        {
        case .pending(let entry):
            exchange.cacheEntry = entry
        case .notStorable(let reason):
            shared.logger.debug("not cached", metadata: ["reason": "\(reason)", "route": "\(exchange.routeName)"])
        }
    }
}
