// The HTTP/1.1 keep-alive connection pool of the REST data path and of buffered calls to HTTP/1.1
// services (PooledRequestCall). Connections
// live on the event loop of the downstream connection that uses them, so request and response parts
// move between the two channels with no thread hop, no Task and no buffering. Written on SwiftNIO
// directly: AsyncHTTPClient's pool is request/response shaped and costs a Task per request (see
// docs/architecture.md, "Two kinds of gateway").
public import GatewayCore
public import NIOCore
public import NIOHTTP1
import NIOPosix

/// Receives the response parts of one request sent on a leased connection.
public protocol UpstreamResponseDelegate: AnyObject {
    func upstreamResponse(_ part: HTTPClientResponsePart)
    /// The connection failed or closed before the response ended.
    func upstreamFailed(_ error: any Error)
    /// A read burst ended: a good moment to flush what was written downstream.
    func upstreamReadComplete()
    /// The upstream connection can (or cannot) take more writes: backpressure for the request body.
    func upstreamWritabilityChanged(isWritable: Bool)
}

/// A connection leased from the pool for exactly one request/response exchange.
// Safety: a lease is created, used and released on its connection's event loop only.
public final class UpstreamLease: @unchecked Sendable {
    public let channel: any Channel
    public let address: UpstreamAddress
    let handler: any PooledConnectionHandler
    let pool: HTTP1LoopPool
    private var released = false

    init(channel: any Channel, address: UpstreamAddress, handler: any PooledConnectionHandler, pool: HTTP1LoopPool) {
        self.channel = channel
        self.address = address
        self.handler = handler
        self.pool = pool
    }

    /// The endpoint's declared URL (its host goes in `Host`, its base path before the request path).
    public var endpoint: EndpointURL { address.url }

    /// Starts the exchange on a connection of a `.messages` pool: response parts go to `delegate`.
    public func attach(_ delegate: any UpstreamResponseDelegate) {
        (handler as? UpstreamConnectionHandler)?.delegate = delegate
    }

    /// Starts the exchange on a connection of a `.bytes` pool: the response's raw bytes go to
    /// `delegate`, and the request is written as raw bytes on `channel`.
    public func attach(bytes delegate: any UpstreamByteDelegate) {
        (handler as? RawUpstreamConnectionHandler)?.delegate = delegate
    }

    /// Stops (or resumes) reading the upstream: backpressure while the client cannot take more. A
    /// connection released while paused reads again before it goes back to the pool.
    public func pauseReading(_ paused: Bool) {
        guard paused != readingPaused else { return }
        readingPaused = paused
        channel.setOption(ChannelOptions.autoRead, value: !paused).whenComplete { _ in }
    }
    private var readingPaused = false

    /// Returns the connection to the pool (when `reusable`) or closes it. Call once, after the
    /// response's `.end` (or on failure with `reusable: false`).
    public func release(reusable: Bool) {
        guard !released else { return }
        released = true
        handler.detach()
        if readingPaused && reusable { pauseReading(false) }
        if reusable && channel.isActive && !handler.closed {
            pool.checkIn(channel: channel, handler: handler, address: address)
        } else {
            channel.close(promise: nil)
        }
    }
}

/// Per-event-loop pools of keep-alive connections, keyed by endpoint address.
///
/// A pool's connections carry either NIO's HTTP/1.1 client codec (`.messages`: request and response
/// parts) or nothing at all (`.bytes`: the REST gateway's byte-level data path frames the messages
/// itself).
///
/// Each event loop has its own pool so that a proxied request and its upstream connection share a
/// loop. `maxConnectionsPerEndpoint` is split evenly between the loops (at least one each); a lease
/// beyond that waits for a connection of its loop to come back (and counts as pending for the
/// service's breaker). Idle connections close after the service's `idleTimeout`.
public final class HTTP1ConnectionPool: @unchecked Sendable {
    // Safety: `loops` is immutable after init; each `HTTP1LoopPool` is only used on its own event loop.
    private let loops: [ObjectIdentifier: HTTP1LoopPool]
    let loopCount: Int
    let tls: UpstreamTLSTable

    /// What a pooled connection's pipeline carries.
    public enum Kind: Sendable {
        /// NIO's HTTP/1.1 client codec: `HTTPClientRequestPart` out, `HTTPClientResponsePart` in.
        case messages
        /// Raw bytes both ways.
        case bytes
    }

    init(group: any EventLoopGroup, tls: UpstreamTLSTable, kind: Kind = .messages) {
        var loops: [ObjectIdentifier: HTTP1LoopPool] = [:]
        for loop in group.makeIterator() {
            loops[ObjectIdentifier(loop)] = HTTP1LoopPool(eventLoop: loop, kind: kind)
        }
        self.loops = loops
        self.loopCount = max(1, loops.count)
        self.tls = tls
    }

    /// Leases a connection to `address` of `service` on `eventLoop` (one of the group's loops),
    /// reusing an idle one when there is one. Call on `eventLoop`. Fails with a ``GatewayError``:
    /// `upstreamConnectFailed` (refused, unreachable, TLS handshake, connect timeout) or `circuitOpen`
    /// (too many calls already wait for a connection).
    public func lease(
        _ address: UpstreamAddress, service: UpstreamService, on eventLoop: any EventLoop
    ) -> EventLoopFuture<UpstreamLease> {
        eventLoop.assertInEventLoop()
        guard let pool = loops[ObjectIdentifier(eventLoop)] else {
            return eventLoop.makeFailedFuture(
                GatewayError(.internalError, "event loop is not part of the pool's group"))
        }
        let limit = max(1, service.config.maxConnectionsPerEndpoint / loopCount)
        return pool.lease(address, service: service, limit: limit, tls: tls[service: service.name])
    }

    /// Whether `eventLoop` is one of the pool's loops (connections can be leased on it).
    public func serves(_ eventLoop: any EventLoop) -> Bool { loops[ObjectIdentifier(eventLoop)] != nil }

    /// Any of the pool's loops.
    var anyLoop: any EventLoop { loops.values.randomElement()!.eventLoop }

    /// An idle connection to `address` on `eventLoop`, when one is ready: `lease` without a future.
    /// Call on `eventLoop`; nil means `lease` must open or wait for one.
    public func leaseIdle(_ address: UpstreamAddress, on eventLoop: any EventLoop) -> UpstreamLease? {
        loops[ObjectIdentifier(eventLoop)]?.takeIdle(address)
    }

    /// Closes every idle connection.
    public func closeIdle() {
        for pool in loops.values {
            pool.eventLoop.execute { pool.closeAll() }
        }
    }
}

/// The connections of one event loop. Only touched on that loop.
// Safety: a loop pool is only touched on its own event loop.
final class HTTP1LoopPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    let kind: HTTP1ConnectionPool.Kind
    private struct Idle {
        var channel: any Channel
        var handler: any PooledConnectionHandler
        /// When this connection's idle time runs out.
        var expires: NIODeadline
    }
    private struct Waiter {
        var promise: EventLoopPromise<UpstreamLease>
        var service: UpstreamService
        var tls: UpstreamTLS?
    }
    /// Idle connections per address, oldest first. A class, so a lease and a check-in change the stack
    /// in place (a dictionary's modify accessor allocated on every request).
    private final class IdleStack {
        var entries: [Idle] = []
    }
    private var idle: [UpstreamAddress: IdleStack] = [:]
    /// Open or opening connections per address (leased and idle).
    private var open: [UpstreamAddress: Int] = [:]
    private var waiters: [UpstreamAddress: [Waiter]] = [:]
    private var idleTimeouts: [UpstreamAddress: TimeAmount] = [:]
    /// One timer per loop closes connections idle too long (not one timer per checked-in connection,
    /// which cost a schedule and a cancel on every request).
    private var sweep: Scheduled<Void>?
    private var sweepAt: NIODeadline?

    init(eventLoop: any EventLoop, kind: HTTP1ConnectionPool.Kind) {
        self.eventLoop = eventLoop
        self.kind = kind
    }

    func lease(_ address: UpstreamAddress, service: UpstreamService, limit: Int, tls: UpstreamTLS?) -> EventLoopFuture<
        UpstreamLease
    > {
        let timeout = TimeAmount.nanoseconds(service.config.idleTimeout.duration.nanoseconds)
        if idleTimeouts[address] != timeout { idleTimeouts[address] = timeout }
        if let lease = takeIdle(address) { return eventLoop.makeSucceededFuture(lease) }
        guard service.beginPending() else {
            return eventLoop.makeFailedFuture(
                GatewayError(
                    .circuitOpen, "service '\(service.name)' is not taking calls: too many calls wait for a connection")
            )
        }
        let promise = eventLoop.makePromise(of: UpstreamLease.self)
        promise.futureResult.whenComplete { _ in service.endPending() }
        if open[address, default: 0] >= limit {
            waiters[address, default: []].append(Waiter(promise: promise, service: service, tls: tls))
        } else {
            connect(address, service: service, tls: tls, promise: promise)
        }
        return promise.futureResult
    }

    /// The most recently used idle connection to `address` that is still open.
    func takeIdle(_ address: UpstreamAddress) -> UpstreamLease? {
        guard let stack = idle[address] else { return nil }
        while let entry = stack.entries.popLast() {
            if entry.channel.isActive && !entry.handler.closed {
                return UpstreamLease(channel: entry.channel, address: address, handler: entry.handler, pool: self)
            }
        }
        return nil
    }

    private func connect(
        _ address: UpstreamAddress, service: UpstreamService, tls: UpstreamTLS?,
        promise: EventLoopPromise<UpstreamLease>
    ) {
        open[address, default: 0] += 1
        let handler: any PooledConnectionHandler & ChannelHandler =
            kind == .messages ? UpstreamConnectionHandler() : RawUpstreamConnectionHandler()
        let codec = kind == .messages
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(service.connectTimeout.nanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try tls.addHandler(to: channel, address: address, http2: false) }
                    if codec {
                        // Request headers were validated where they came in (the gateway refuses CR/LF).
                        try channel.pipeline.syncOperations.addHTTPClientHandlers(
                            enableOutboundHeaderValidation: false)
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let serviceName = service.name
        bootstrap.connect(host: address.connectHost, port: address.port).flatMap { channel in
            UpstreamTLS.ready(channel, tls: tls, within: service.connectTimeout)
        }.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                channel.closeFuture.assumeIsolated().whenComplete { _ in self.connectionClosed(address) }
                promise.succeed(UpstreamLease(channel: channel, address: address, handler: handler, pool: self))
            case .failure(let error):
                self.connectionClosed(address)
                promise.fail(
                    GatewayError(
                        .upstreamConnectFailed,
                        "cannot connect to service '\(serviceName)' at \(address): \(Self.reason(error))"))
            }
        }
    }

    static func reason(_ error: any Error) -> String {
        if case ChannelError.connectTimeout = error { return "connect timed out" }
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return "\(first.error)"
        }
        return "\(error)"
    }

    func checkIn(channel: any Channel, handler: any PooledConnectionHandler, address: UpstreamAddress) {
        if var queue = waiters[address], !queue.isEmpty {
            let waiter = queue.removeFirst()
            waiters[address] = queue
            waiter.promise.succeed(UpstreamLease(channel: channel, address: address, handler: handler, pool: self))
            return
        }
        let timeout = idleTimeouts[address] ?? .seconds(60)
        let expires = NIODeadline.now() + timeout
        let entry = Idle(channel: channel, handler: handler, expires: expires)
        if let stack = idle[address] {
            stack.entries.append(entry)
        } else {
            let stack = IdleStack()
            stack.entries.append(entry)
            idle[address] = stack
        }
        scheduleSweep(at: expires)
    }

    private func scheduleSweep(at deadline: NIODeadline) {
        if let sweepAt, sweepAt <= deadline { return }
        sweep?.cancel()
        sweepAt = deadline
        sweep = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.sweepIdle() }
    }

    /// Closes connections whose idle time ran out; the stacks are oldest first, so expired ones are at
    /// the bottom.
    private func sweepIdle() {
        sweep = nil
        sweepAt = nil
        let now = NIODeadline.now()
        var next: NIODeadline?
        for address in Array(idle.keys) {
            guard let stack = idle[address] else { continue }
            let expired = stack.entries.prefix { $0.expires <= now }
            for entry in expired { entry.channel.close(promise: nil) }
            stack.entries.removeFirst(expired.count)
            if stack.entries.isEmpty { idle[address] = nil }
            if let first = stack.entries.first { next = min(next ?? first.expires, first.expires) }
        }
        if let next { scheduleSweep(at: next) }
    }

    /// A connection to `address` closed (or failed to open): a waiter may now open one.
    private func connectionClosed(_ address: UpstreamAddress) {
        open[address, default: 1] -= 1
        idle[address]?.entries.removeAll { !$0.channel.isActive }
        if var queue = waiters[address], !queue.isEmpty {
            let waiter = queue.removeFirst()
            waiters[address] = queue
            connect(address, service: waiter.service, tls: waiter.tls, promise: waiter.promise)
        }
    }

    func closeAll() {
        for stack in idle.values {
            for entry in stack.entries { entry.channel.close(promise: nil) }
        }
        idle.removeAll()
        sweep?.cancel()
        sweep = nil
        sweepAt = nil
        for queue in waiters.values {
            for waiter in queue { waiter.promise.fail(GatewayError(.unavailable, "the gateway is shutting down")) }
        }
        waiters.removeAll()
    }
}

/// The last handler of a pooled connection, as the pool sees it.
protocol PooledConnectionHandler: AnyObject, Sendable {
    /// Whether the connection failed or closed.
    var closed: Bool { get }
    /// Ends the current exchange: nothing more reaches its delegate.
    func detach()
}

/// The last handler of a `.messages` connection: hands response parts to the current lease's delegate.
// Safety: lives in one channel pipeline; touched only on that channel's event loop.
final class UpstreamConnectionHandler: ChannelInboundHandler, PooledConnectionHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    weak var delegate: (any UpstreamResponseDelegate)?
    var closed = false

    func detach() { delegate = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let delegate {
            delegate.upstreamResponse(part)
        } else {
            // Data on an idle connection is a protocol violation: drop the connection.
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        delegate?.upstreamFailed(ChannelError.ioOnClosedChannel)
        delegate = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closed = true
        delegate?.upstreamFailed(error)
        delegate = nil
        context.close(promise: nil)
    }
}
