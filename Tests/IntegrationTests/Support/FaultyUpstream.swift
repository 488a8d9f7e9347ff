// An HTTP/1.1 upstream that misbehaves on demand (status, delay, hang, RST at three points, refused connects), for
// testing the gateway's client layer. Hand-written on SwiftNIO: Hummingbird cannot reset a connection mid-body or
// stop listening while keeping its port.
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// TLS for a `FaultyUpstream`: PEM paths; with `clientCAPath` a client certificate signed by that CA is required.
struct TLSOptions: Sendable {
    var certificatePath: String
    var keyPath: String
    var clientCAPath: String? = nil
}

final class FaultyUpstream: Sendable {
    enum Behavior: Sendable {
        /// 200 with `{"upstream":NAME,"path":PATH,"method":M,"bodyBytes":N}`.
        case ok
        /// That status (and `Retry-After` when given) with the same JSON body.
        case status(Int, retryAfter: String? = nil)
        /// `ok`, after a delay.
        case delay(Duration)
        /// `status(code)`, after a delay.
        case slowStatus(Int, Duration)
        /// Never answers; the request counts as abandoned when the client goes away.
        case hang
        /// Accepts, then resets (RST) before reading anything. Applies to health checks too: nothing is read.
        case resetOnAccept
        /// Reads the whole request, then resets with no response.
        case resetBeforeResponse
        /// Sends a head with `Content-Length: 100000` and 1000 bytes of body, then resets.
        case resetMidBody
    }

    let name: String
    let host: String
    private let sslContext: NIOSSLContext?
    private let state = Mutex(State())

    private struct State {
        var behavior: Behavior = .ok
        var healthy = true
        var port = 0
        var listener: (any Channel)?
        /// Holds the port between `refuse()` and `resume()`, so no other test takes it.
        var reserved: ReservedPort?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var requestCount = 0
        var healthCheckCount = 0
        var abandonedCount = 0
        var lastRequestHeaders: [(String, String)] = []
    }

    private init(name: String, host: String, tls: TLSOptions?) throws {
        self.name = name
        self.host = host
        guard let tls else {
            self.sslContext = nil
            return
        }
        let chain = try NIOSSLCertificate.fromPEMFile(tls.certificatePath).map {
            NIOSSLCertificateSource.certificate($0)
        }
        let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(file: tls.keyPath, format: .pem))
        let configuration =
            if let clientCA = tls.clientCAPath {
                TLSConfiguration.makeServerConfigurationWithMTLS(
                    certificateChain: chain, privateKey: key, trustRoots: .file(clientCA))
            } else {
                TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
            }
        self.sslContext = try NIOSSLContext(configuration: configuration)
    }

    /// An https upstream on 127.0.0.1 that demands a client certificate signed by the test CA.
    static func startMutualTLS(name: String, certificates: TestCertificates) async throws -> FaultyUpstream {
        try await start(
            name: name,
            tls: .init(
                certificatePath: certificates.serverCertPath, keyPath: certificates.serverKeyPath,
                clientCAPath: certificates.caPath))
    }

    /// Starts listening on `host` (any 127.x.y.z address works on Linux loopback) and `port` (0: any free one).
    static func start(
        name: String, host: String = "127.0.0.1", port: Int = 0, tls: TLSOptions? = nil
    ) async throws -> FaultyUpstream {
        let upstream = try FaultyUpstream(name: name, host: host, tls: tls)
        try await upstream.listen(port: port)
        return upstream
    }

    var port: Int { state.withLock { $0.port } }
    var url: String { "\(sslContext == nil ? "http" : "https")://\(host):\(port)" }
    var requestCount: Int { state.withLock { $0.requestCount } }
    var healthCheckCount: Int { state.withLock { $0.healthCheckCount } }
    /// Requests whose client closed the connection before they were answered (`hang`, `delay`, `slowStatus`);
    /// connections the upstream itself closes (`refuse`, `stop`) do not count.
    var abandonedCount: Int { state.withLock { $0.abandonedCount } }
    /// Headers of the last request that was not a health check, in order as received.
    var lastRequestHeaders: [(String, String)] { state.withLock { $0.lastRequestHeaders } }

    /// Sets how every path but `/health` is answered; takes effect for requests (and connections) from now on.
    func set(_ behavior: Behavior) { state.withLock { $0.behavior = behavior } }
    /// `/health` answers 200 `ok` when healthy, else 503 `unhealthy`.
    func setHealthy(_ healthy: Bool) { state.withLock { $0.healthy = healthy } }

    /// Closes the listening socket so new connects get ECONNREFUSED. By default also closes the open connections
    /// (with a FIN), like an upstream process that went away, so pooled keep-alive connections cannot hide it.
    func refuse(closingConnections: Bool = true) async throws {
        let listener = state.withLock { state in
            defer { state.listener = nil }
            return state.listener
        }
        var failure: (any Error)?
        do { try await listener?.close() } catch { failure = error }
        if listener != nil, let reserved = try? ReservedPort(port: port) { state.withLock { $0.reserved = reserved } }
        if closingConnections {
            for connection in state.withLock({ Array($0.connections.values) }) {
                try? await Self.closeSocket(connection, reset: false).get()
            }
        }
        if let failure { throw failure }
    }

    /// Listens again on the same port after `refuse()`.
    func resume() async throws {
        guard state.withLock({ $0.listener == nil }) else { return }
        state.withLock { state in
            state.reserved?.release()
            state.reserved = nil
        }
        try await listen(port: port)
    }

    /// Stops listening and closes every connection, idle keep-alive ones included.
    func stop() async {
        try? await refuse(closingConnections: true)
    }

    private func listen(port: Int) async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.setUp(channel) }
            }
            .bind(host: host, port: port).get()
        state.withLock {
            $0.listener = listener
            $0.port = listener.localAddress?.port ?? 0
        }
    }

    private func setUp(_ channel: any Channel) throws {
        let id = ObjectIdentifier(channel)
        let behavior = state.withLock { state in
            state.connections[id] = channel
            return state.behavior
        }
        channel.closeFuture.whenComplete { _ in self.state.withLock { _ = $0.connections.removeValue(forKey: id) } }
        let pipeline = channel.pipeline.syncOperations
        if case .resetOnAccept = behavior {
            try pipeline.addHandler(FaultySocketHandler(resetWhenActive: true))
            return
        }
        try pipeline.addHandler(FaultySocketHandler(resetWhenActive: false))
        if let sslContext { try pipeline.addHandler(NIOSSLServerHandler(context: sslContext)) }
        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
        try pipeline.addHandler(FaultyRequestHandler(upstream: self))
    }

    /// Closes the socket below any TLS handler (no close_notify); with `reset`, SO_LINGER {1,0} turns the close
    /// into an RST so the peer sees ECONNRESET.
    fileprivate static func closeSocket(_ channel: any Channel, reset: Bool) -> EventLoopFuture<Void> {
        channel.eventLoop.flatSubmit {
            let promise = channel.eventLoop.makePromise(of: Void.self)
            // Tells FaultyRequestHandler that an unanswered request is not abandoned by its client.
            channel.pipeline.fireUserInboundEventTriggered(FaultyServerClosing())
            if reset, let provider = channel as? any SocketOptionProvider {
                // On the event loop this sets the option synchronously, before the close below.
                _ = provider.setSoLinger(NIOLinger(l_onoff: 1, l_linger: 0))
            }
            if let context = try? channel.pipeline.syncOperations.context(handlerType: FaultySocketHandler.self) {
                context.close(promise: promise)
            } else {
                channel.close(promise: promise)
            }
            return promise.futureResult
        }
    }

    fileprivate func recordHealthCheck() -> Bool {
        state.withLock {
            $0.healthCheckCount += 1
            return $0.healthy
        }
    }

    fileprivate func record(_ head: HTTPRequestHead) -> Behavior {
        state.withLock {
            $0.requestCount += 1
            $0.lastRequestHeaders = head.headers.map { ($0.name, $0.value) }
            return $0.behavior
        }
    }

    fileprivate func recordAbandoned() { state.withLock { $0.abandonedCount += 1 } }
}

private struct FaultyServerClosing {}

/// First handler of every connection: the point `closeSocket` closes from; resets at once for `resetOnAccept`.
private final class FaultySocketHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let resetWhenActive: Bool

    init(resetWhenActive: Bool) { self.resetWhenActive = resetWhenActive }

    func channelActive(context: ChannelHandlerContext) {
        if resetWhenActive { _ = FaultyUpstream.closeSocket(context.channel, reset: true) }
        context.fireChannelActive()
    }
}

/// Answers one request at a time (the pipelining handler queues the rest) according to the upstream's behavior.
private final class FaultyRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let upstream: FaultyUpstream
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var unanswered = false
    private var delayed: Scheduled<Void>?

    init(upstream: FaultyUpstream) { self.upstream = upstream }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
        case .end:
            guard let head else { return }
            handle(head, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if unanswered {
            unanswered = false
            delayed?.cancel()
            upstream.recordAbandoned()
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is FaultyServerClosing {
            unanswered = false
            delayed?.cancel()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = String(head.uri.prefix { $0 != "?" })
        if path == "/health" {
            let healthy = upstream.recordHealthCheck()
            respond(
                head, status: healthy ? .ok : .serviceUnavailable, body: healthy ? "ok" : "unhealthy",
                contentType: "text/plain", context: context)
            return
        }
        // `path` is the request target as received, query included (as TestUpstream's echo reports it).
        let json = Self.json(
            upstream: upstream.name, path: head.uri, method: head.method.rawValue, bodyBytes: bodyBytes)
        switch upstream.record(head) {
        case .ok:
            respond(head, status: .ok, body: json, context: context)
        case .status(let code, let retryAfter):
            let extra = retryAfter.map { [("retry-after", $0)] } ?? []
            respond(head, status: .init(statusCode: code), body: json, extraHeaders: extra, context: context)
        case .delay(let duration):
            respondLater(head, after: duration, status: .ok, body: json, context: context)
        case .slowStatus(let code, let duration):
            respondLater(head, after: duration, status: .init(statusCode: code), body: json, context: context)
        case .hang:
            unanswered = true
        case .resetOnAccept, .resetBeforeResponse:
            _ = FaultyUpstream.closeSocket(context.channel, reset: true)
        case .resetMidBody:
            var headers = baseHeaders(contentType: "application/octet-stream")
            headers.replaceOrAdd(name: "content-length", value: "100000")
            let responseHead = HTTPResponseHead(version: head.version, status: .ok, headers: headers)
            context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
            let chunk = context.channel.allocator.buffer(repeating: UInt8(ascii: "x"), count: 1000)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(chunk)))).assumeIsolated().whenComplete { _ in
                // A moment for the peer to take the head and bytes before the RST.
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(20)) {
                    _ = FaultyUpstream.closeSocket(context.channel, reset: true)
                }
            }
        }
    }

    private func respondLater(
        _ head: HTTPRequestHead, after delay: Duration, status: HTTPResponseStatus, body: String,
        context: ChannelHandlerContext
    ) {
        unanswered = true
        delayed = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) {
            self.unanswered = false
            self.respond(head, status: status, body: body, context: context)
        }
    }

    private func baseHeaders(contentType: String) -> HTTPHeaders {
        ["x-upstream": upstream.name, "content-type": contentType]
    }

    private func respond(
        _ request: HTTPRequestHead, status: HTTPResponseStatus, body: String, contentType: String = "application/json",
        extraHeaders: [(String, String)] = [], context: ChannelHandlerContext
    ) {
        guard context.channel.isActive else { return }
        var headers = baseHeaders(contentType: contentType)
        headers.add(contentsOf: extraHeaders)
        headers.add(name: "content-length", value: String(body.utf8.count))
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    private static func json(upstream: String, path: String, method: String, bodyBytes: Int) -> String {
        let object: [String: Any] = ["upstream": upstream, "path": path, "method": method, "bodyBytes": bodyBytes]
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
