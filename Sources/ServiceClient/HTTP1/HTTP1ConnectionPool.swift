// The streaming HTTP/1.1 keep-alive connection pool of the proxying data path (REST). Connections
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
    public let endpoint: EndpointURL
    let handler: UpstreamConnectionHandler
    let pool: HTTP1ConnectionPool.LoopPool
    private var released = false

    init(
        channel: any Channel, endpoint: EndpointURL, handler: UpstreamConnectionHandler,
        pool: HTTP1ConnectionPool.LoopPool
    ) {
        self.channel = channel
        self.endpoint = endpoint
        self.handler = handler
        self.pool = pool
    }

    /// Starts the exchange: response parts go to `delegate`.
    public func attach(_ delegate: any UpstreamResponseDelegate) {
        handler.delegate = delegate
    }

    /// Returns the connection to the pool (when `reusable`) or closes it. Call once, after the
    /// response's `.end` (or on failure with `reusable: false`).
    public func release(reusable: Bool) {
        guard !released else { return }
        released = true
        handler.delegate = nil
        if reusable && channel.isActive {
            pool.checkIn(self)
        } else {
            channel.close(promise: nil)
        }
    }
}

/// Per-event-loop pools of idle keep-alive connections, keyed by endpoint.
public final class HTTP1ConnectionPool: @unchecked Sendable {
    // Safety: `loops` is immutable after init; each `LoopPool` is only used on its own event loop.
    private let loops: [ObjectIdentifier: LoopPool]
    let maxIdlePerEndpoint: Int

    public init(group: any EventLoopGroup, maxIdlePerEndpoint: Int = 128) {
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        var loops: [ObjectIdentifier: LoopPool] = [:]
        for loop in group.makeIterator() {
            loops[ObjectIdentifier(loop)] = LoopPool(eventLoop: loop, maxIdle: maxIdlePerEndpoint)
        }
        self.loops = loops
    }

    /// Leases a connection to the next endpoint of `service` on `eventLoop` (which must be one of the
    /// group's loops); reuses an idle one when there is one. Call on `eventLoop`.
    public func lease(service: UpstreamService, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamLease> {
        eventLoop.assertInEventLoop()
        let endpoint: EndpointURL
        do {
            endpoint = try service.selectEndpoint()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        guard let pool = loops[ObjectIdentifier(eventLoop)] else {
            return eventLoop.makeFailedFuture(
                GatewayError(.internalError, "event loop is not part of the pool's group"))
        }
        return pool.lease(endpoint: endpoint, connectTimeout: service.connectTimeout, serviceName: service.name)
    }

    /// Closes every idle connection.
    public func closeIdle() {
        for pool in loops.values {
            pool.eventLoop.execute { pool.closeAll() }
        }
    }

    // Safety: a LoopPool is only touched on its own event loop.
    final class LoopPool: @unchecked Sendable {
        let eventLoop: any EventLoop
        let maxIdle: Int
        private var idle: [EndpointURL: [UpstreamLease]] = [:]

        init(eventLoop: any EventLoop, maxIdle: Int) {
            self.eventLoop = eventLoop
            self.maxIdle = maxIdle
        }

        func lease(endpoint: EndpointURL, connectTimeout: Duration, serviceName: String) -> EventLoopFuture<
            UpstreamLease
        > {
            while var stack = idle[endpoint], let lease = stack.popLast() {
                idle[endpoint] = stack
                if lease.channel.isActive && !lease.handler.closed {
                    return eventLoop.makeSucceededFuture(
                        UpstreamLease(channel: lease.channel, endpoint: endpoint, handler: lease.handler, pool: self))
                }
            }
            let handler = UpstreamConnectionHandler()
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(.nanoseconds(connectTimeout.nanoseconds))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
            return bootstrap.connect(host: endpoint.host, port: endpoint.port).flatMapErrorThrowing { error in
                throw GatewayError(
                    .upstreamConnectFailed,
                    "cannot connect to service '\(serviceName)' at \(endpoint): \(Self.reason(error))")
            }.map { channel in
                UpstreamLease(channel: channel, endpoint: endpoint, handler: handler, pool: self)
            }
        }

        static func reason(_ error: any Error) -> String {
            if case ChannelError.connectTimeout = error { return "connect timed out" }
            if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
                return "\(first.error)"
            }
            return "\(error)"
        }

        func checkIn(_ lease: UpstreamLease) {
            var stack = idle[lease.endpoint, default: []]
            if stack.count >= maxIdle {
                lease.channel.close(promise: nil)
                return
            }
            stack.append(lease)
            idle[lease.endpoint] = stack
        }

        func closeAll() {
            for stack in idle.values { for lease in stack { lease.channel.close(promise: nil) } }
            idle.removeAll()
        }
    }
}

/// The last handler of a pooled connection: hands response parts to the current lease's delegate.
// Safety: lives in one channel pipeline; touched only on that channel's event loop.
final class UpstreamConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    weak var delegate: (any UpstreamResponseDelegate)?
    var closed = false

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
