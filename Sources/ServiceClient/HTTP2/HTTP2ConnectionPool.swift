// The streaming HTTP/2 transport of the proxying data path: one multiplexed connection (h2c or TLS) per
// endpoint and event loop, created on demand, shared by many streams and replaced when it closes.
// Callers get a raw HTTP/2 stream channel on their own event loop and relay frames themselves.
public import GatewayCore
public import Logging
public import NIOCore
import NIOHTTP2
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// A stream opened on an upstream HTTP/2 connection.
public struct HTTP2UpstreamStream: Sendable {
    /// The stream's child channel: it reads and writes `HTTP2Frame.FramePayload`.
    public let channel: any Channel
    /// The endpoint the stream was opened to (for `:authority` and logs).
    public let address: UpstreamAddress
    public var endpoint: EndpointURL { address.url }
}

/// Per-endpoint multiplexed HTTP/2 (prior knowledge, h2c) connections to upstream services.
///
/// Connections are kept per event loop so that a proxied stream and its upstream stream live on the
/// same loop: frames move between them with no hop. A connection is opened by the first stream that
/// needs it (other streams wait for it), reused by every later stream, dropped from the pool when it
/// closes, receives GOAWAY or stays idle for the service's `idleTimeout`, and opened again on demand.
///
/// `ServiceClient` owns one and closes it (`shutdown()`) after the gateway's listeners have drained.
/// Standalone, it is also a `Service` whose `run()` waits for graceful shutdown, then closes every connection.
public final class HTTP2ConnectionPool: Service, Sendable {
    let logger: Logger
    let tls: UpstreamTLSTable
    private let loops = Mutex<[ObjectIdentifier: NIOLoopBound<HTTP2LoopPool>]>([:])
    private let isShutDown = Atomic<Bool>(false)

    init(tls: UpstreamTLSTable, logger: Logger) {
        self.tls = tls
        self.logger = logger
    }

    /// A standalone pool for plaintext (h2c) endpoints.
    public convenience init(logger: Logger = Logger(label: "portico.service-client.http2")) {
        self.init(tls: UpstreamTLSTable(), logger: logger)
    }

    /// Opens a new stream to `address` of `service` on a pooled connection bound to `eventLoop`.
    /// Must be called on `eventLoop`; the returned future completes there. Fails with a
    /// ``GatewayError``: `upstreamConnectFailed` when the endpoint cannot be reached within the
    /// service's connect timeout, `unavailable` once the pool is shut down.
    public func openStream(
        to address: UpstreamAddress, service: UpstreamService, on eventLoop: any EventLoop
    ) -> EventLoopFuture<HTTP2UpstreamStream> {
        eventLoop.preconditionInEventLoop()
        guard !isShutDown.load(ordering: .relaxed) else {
            return eventLoop.makeFailedFuture(GatewayError(.unavailable, "the gateway is shutting down"))
        }
        return loopPool(for: eventLoop).openStream(service: service, endpoint: address, tls: tls[service: service.name])
    }

    /// Number of open (or opening) connections on `eventLoop`, for tests and the admin view.
    public func connectionCount(on eventLoop: any EventLoop) -> EventLoopFuture<Int> {
        eventLoop.submit { self.loopPool(for: eventLoop).connections.count }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Closes every connection and refuses new streams.
    public func shutdown() async {
        isShutDown.store(true, ordering: .relaxed)
        let pools = loops.withLock { Array($0.values) }
        var closed: [EventLoopFuture<Void>] = []
        for pool in pools {
            closed.append(pool.eventLoop.flatSubmit { pool.value.closeAll() })
        }
        for future in closed { try? await future.get() }
    }

    private func loopPool(for eventLoop: any EventLoop) -> HTTP2LoopPool {
        let key = ObjectIdentifier(eventLoop)
        if let existing = loops.withLock({ $0[key] }) { return existing.value }
        let created = HTTP2LoopPool(eventLoop: eventLoop, logger: logger)
        let bound = NIOLoopBound(created, eventLoop: eventLoop)
        return loops.withLock { loops in
            if let existing = loops[key] { return existing }
            loops[key] = bound
            return bound
        }.value
    }
}

/// The connections of one event loop, by endpoint. Only touched on that loop.
final class HTTP2LoopPool {
    let eventLoop: any EventLoop
    let logger: Logger
    var connections: [UpstreamAddress: HTTP2UpstreamConnection] = [:]

    init(eventLoop: any EventLoop, logger: Logger) {
        self.eventLoop = eventLoop
        self.logger = logger
    }

    func openStream(
        service: UpstreamService, endpoint: UpstreamAddress, tls: UpstreamTLS?
    ) -> EventLoopFuture<HTTP2UpstreamStream> {
        let connection: HTTP2UpstreamConnection
        if let existing = connections[endpoint], existing.isUsable {
            connection = existing
        } else {
            connection = HTTP2UpstreamConnection(
                endpoint: endpoint, service: service, tls: tls, eventLoop: eventLoop, logger: logger)
            connections[endpoint] = connection
            connection.onUnusable = { [weak self, weak connection] in
                guard let self, let connection, self.connections[endpoint] === connection else { return }
                self.connections[endpoint] = nil
            }
            connection.connect()
        }
        return connection.openStream()
    }

    func closeAll() -> EventLoopFuture<Void> {
        let all = Array(connections.values)
        connections.removeAll()
        return EventLoopFuture.andAllComplete(all.map { $0.close() }, on: eventLoop)
    }
}
