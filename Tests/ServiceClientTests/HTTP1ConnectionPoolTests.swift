// The streaming HTTP/1.1 pool's limits against a bare TCP listener: connections per endpoint (a lease
// beyond the limit waits for one to come back), pending calls bounded by the breaker, idle timeout.
import GatewayCore
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import ServiceClient

@Suite struct HTTP1ConnectionPoolTests {
    /// Accepts connections and never answers; counts them.
    final class Listener: Sendable {
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let channel: any Channel
        let counter = Counter()

        var accepted: Int { counter.value.load(ordering: .relaxed) }

        init(group: any EventLoopGroup) async throws {
            let counter = self.counter
            channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    counter.value.add(1, ordering: .relaxed)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        var port: Int { channel.localAddress?.port ?? 0 }
    }

    static func service(port: Int, configure: (inout ServiceConfig) -> Void) -> UpstreamService {
        var config = ServiceConfig(endpoints: [EndpointURL(scheme: "http", host: "127.0.0.1", port: port)])
        configure(&config)
        return UpstreamService(name: "pool-test", config: config)
    }

    @Test func leasesBeyondTheLimitWaitForAConnectionToComeBack() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await Listener(group: group)
        let service = Self.service(port: listener.port) {
            $0.maxConnectionsPerEndpoint = 1
            $0.circuitBreaker.maxPendingRequests = 1
        }
        let pool = HTTP1ConnectionPool(group: group, tls: UpstreamTLSTable())
        let loop = group.next()
        let address = service.addresses[0]
        let first = try await loop.flatSubmit { pool.lease(address, service: service, on: loop) }.get()
        let second = try await loop.submit { pool.lease(address, service: service, on: loop) }.get()
        // A third call would be the second one waiting: refused by maxPendingRequests.
        let third = try await loop.submit { pool.lease(address, service: service, on: loop) }.get()
        await #expect(throws: GatewayError.self) { try await third.get() }
        try await Task.sleep(for: .milliseconds(100))
        #expect(service.snapshot().circuit.pendingRequests == 1)
        try await loop.submit { first.release(reusable: true) }.get()
        let reused = try await second.get()
        #expect(reused.channel === first.channel)
        #expect(listener.accepted == 1)
        #expect(service.snapshot().circuit.pendingRequests == 0)
        try await loop.submit { reused.release(reusable: false) }.get()
        try await listener.channel.close()
        try await group.shutdownGracefully()
    }

    @Test func idleConnectionsCloseAfterTheIdleTimeout() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await Listener(group: group)
        let service = Self.service(port: listener.port) { $0.idleTimeout = .seconds(1) }
        let pool = HTTP1ConnectionPool(group: group, tls: UpstreamTLSTable())
        let loop = group.next()
        let lease = try await loop.flatSubmit { pool.lease(service.addresses[0], service: service, on: loop) }.get()
        try await loop.submit { lease.release(reusable: true) }.get()
        #expect(lease.channel.isActive)
        try await lease.channel.closeFuture.get()  // closes by itself after ~1 s
        try await listener.channel.close()
        try await group.shutdownGracefully()
    }

    @Test func aRefusedConnectFailsAsAConnectFailure() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await Listener(group: group)
        let port = listener.port
        try await listener.channel.close()
        let service = Self.service(port: port) { _ in }
        let pool = HTTP1ConnectionPool(group: group, tls: UpstreamTLSTable())
        let loop = group.next()
        do {
            _ = try await loop.flatSubmit { pool.lease(service.addresses[0], service: service, on: loop) }.get()
            Issue.record("expected a connect failure")
        } catch let error as GatewayError {
            #expect(error.code == .upstreamConnectFailed)
        }
        try await group.shutdownGracefully()
    }
}
