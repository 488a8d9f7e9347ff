// One multiplexed HTTP/2 connection (h2c, or TLS with ALPN h2) to one upstream endpoint, confined to one event loop: connects on
// demand (with the service's connect timeout), queues stream requests while connecting, then opens
// every stream on the same connection until it closes, is told to go away, or idles out.
import GatewayCore
import Logging
import NIOCore
import NIOHTTP2
import NIOPosix

final class HTTP2UpstreamConnection {
    enum State {
        case idle
        case connecting([EventLoopPromise<HTTP2UpstreamStream>])
        case ready(any Channel, NIOHTTP2Handler.StreamMultiplexer)
        /// GOAWAY received or idle: existing streams finish, no new ones.
        case draining(any Channel)
        case closed
    }

    let endpoint: UpstreamAddress
    let service: UpstreamService
    let tls: UpstreamTLS?
    let eventLoop: any EventLoop
    let logger: Logger
    private(set) var state: State = .idle
    /// Why the last connect attempt failed, for streams that ask after the fact.
    private var lastError: GatewayError?
    /// Called once when the connection stops accepting new streams (the pool forgets it).
    var onUnusable: (() -> Void)?

    init(
        endpoint: UpstreamAddress, service: UpstreamService, tls: UpstreamTLS?, eventLoop: any EventLoop, logger: Logger
    ) {
        self.endpoint = endpoint
        self.service = service
        self.tls = tls
        self.eventLoop = eventLoop
        self.logger = logger
    }

    var isUsable: Bool {
        switch state {
        case .idle, .connecting, .ready: return true
        case .draining, .closed: return false
        }
    }

    func connect() {
        guard case .idle = state else { return }
        state = .connecting([])
        let connection = NIOLoopBound(self, eventLoop: eventLoop)
        let idleTimeout = TimeAmount.nanoseconds(service.config.idleTimeout.duration.nanoseconds)
        let tls = self.tls
        let address = endpoint
        let connectTimeout = service.connectTimeout
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(service.connectTimeout.nanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try tls.addHandler(to: channel, address: address, http2: true) }
                    var settings = NIOHTTP2Handler.ConnectionConfiguration()
                    settings.initialSettings = [
                        HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
                        HTTP2Setting(parameter: .initialWindowSize, value: 65535),
                        HTTP2Setting(parameter: .maxHeaderListSize, value: 1 << 16),
                        HTTP2Setting(parameter: .enablePush, value: 0),
                    ]
                    settings.targetWindowSize = 1 << 20
                    let watcher = HTTP2ConnectionWatcher(connection: connection, idleTimeout: idleTimeout)
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: settings, streamConfiguration: .init(),
                        streamDelegate: watcher.streamDelegate(eventLoop: channel.eventLoop),
                        inboundStreamInitializer: { stream in stream.close() })
                    try channel.pipeline.syncOperations.addHandler(watcher)
                }
            }
        bootstrap.connect(host: endpoint.connectHost, port: endpoint.port).flatMap { channel in
            UpstreamTLS.ready(channel, tls: tls, within: connectTimeout)
        }.assumeIsolated().whenComplete { result in
            self.connected(result)
        }
    }

    private func connected(_ result: Result<any Channel, any Error>) {
        guard case .connecting(let waiters) = state else {
            // Closed while connecting (pool shutdown): drop the late connection.
            if case .success(let channel) = result { channel.close(promise: nil) }
            return
        }
        switch result {
        case .success(let channel):
            do {
                let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
                    .syncMultiplexer()
                state = .ready(channel, multiplexer)
                channel.closeFuture.assumeIsolated().whenComplete { _ in self.closed() }
                logger.debug(
                    "upstream connection open", metadata: ["service": "\(service.name)", "endpoint": "\(endpoint)"])
                for waiter in waiters { open(on: multiplexer, promise: waiter) }
            } catch {
                channel.close(promise: nil)
                fail(waiters, error: error)
            }
        case .failure(let error):
            fail(waiters, error: error)
        }
    }

    private func fail(_ waiters: [EventLoopPromise<HTTP2UpstreamStream>], error: any Error) {
        state = .closed
        notifyUnusable()
        let mapped = Self.map(error, service: service.name, endpoint: endpoint)
        lastError = mapped
        logger.debug("upstream connect failed", metadata: ["service": "\(service.name)", "error": "\(mapped)"])
        for waiter in waiters { waiter.fail(mapped) }
    }

    func openStream() -> EventLoopFuture<HTTP2UpstreamStream> {
        if case .idle = state { connect() }
        let promise = eventLoop.makePromise(of: HTTP2UpstreamStream.self)
        switch state {
        case .connecting(var waiters):
            waiters.append(promise)
            state = .connecting(waiters)
        case .ready(_, let multiplexer):
            open(on: multiplexer, promise: promise)
        case .idle, .draining, .closed:
            promise.fail(
                lastError
                    ?? GatewayError(
                        .upstreamConnectFailed, "the connection to service '\(service.name)' at \(endpoint) closed"))
        }
        return promise.futureResult
    }

    private func open(on multiplexer: NIOHTTP2Handler.StreamMultiplexer, promise: EventLoopPromise<HTTP2UpstreamStream>)
    {
        let endpoint = self.endpoint
        let name = service.name
        let channelPromise = eventLoop.makePromise(of: (any Channel).self)
        multiplexer.createStreamChannel(promise: channelPromise) { channel in
            channel.eventLoop.makeSucceededVoidFuture()
        }
        channelPromise.futureResult.whenComplete { result in
            switch result {
            case .success(let channel): promise.succeed(HTTP2UpstreamStream(channel: channel, address: endpoint))
            case .failure(let error): promise.fail(Self.map(error, service: name, endpoint: endpoint))
            }
        }
    }

    /// The watcher saw GOAWAY or the idle timeout fired: no new streams; close once the last ends.
    func drain() {
        guard case .ready(let channel, _) = state else { return }
        state = .draining(channel)
        notifyUnusable()
    }

    private func closed() {
        state = .closed
        notifyUnusable()
    }

    func close() -> EventLoopFuture<Void> {
        switch state {
        case .idle, .closed:
            state = .closed
            return eventLoop.makeSucceededVoidFuture()
        case .connecting(let waiters):
            fail(waiters, error: GatewayError(.unavailable, "the gateway is shutting down"))
            return eventLoop.makeSucceededVoidFuture()
        case .ready(let channel, _), .draining(let channel):
            state = .closed
            return channel.close().recover { _ in }
        }
    }

    private func notifyUnusable() {
        let callback = onUnusable
        onUnusable = nil
        callback?()
    }

    static func map(_ error: any Error, service: String, endpoint: UpstreamAddress) -> GatewayError {
        if let error = error as? GatewayError { return error }
        if error is ChannelError, case .connectTimeout = error as? ChannelError {
            return GatewayError(.upstreamConnectFailed, "connecting to service '\(service)' at \(endpoint) timed out")
        }
        return GatewayError(.upstreamConnectFailed, "cannot connect to service '\(service)' at \(endpoint)")
    }
}
