// Active health checking: for every service with a `healthCheck`, each endpoint is probed every
// interval (HTTP GET of the path, or grpc.health.v1 Check) within the check's timeout, and the result
// goes to the service, which applies the healthy/unhealthy thresholds.
import AsyncHTTPClient
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1

final class HealthChecker: Sendable {
    let http2Pool: HTTP2ConnectionPool
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    init(
        http2Pool: HTTP2ConnectionPool, eventLoopGroup: any EventLoopGroup, logger: Logger
    ) {
        self.http2Pool = http2Pool
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Checks the services of `registry` until cancelled (a reload cancels and starts it again).
    func run(registry: ServiceRegistry, transports: [String: HTTPRequestTransport]) async {
        await withTaskGroup(of: Void.self) { group in
            for service in registry.services.values where service.config.healthCheck != nil {
                group.addTask { await self.checkLoop(service, client: transports[service.name]?.client) }
            }
        }
    }

    private func checkLoop(_ service: UpstreamService, client: HTTPClient?) async {
        guard let check = service.config.healthCheck else { return }
        let kind = check.type ?? (service.config.protocol == .grpc ? .grpc : .http)
        while !Task.isCancelled {
            let started = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                for address in service.addresses {
                    group.addTask {
                        let healthy = await self.probe(address, of: service, check: check, kind: kind, client: client)
                        guard !Task.isCancelled else { return }
                        service.recordHealthCheck(address, healthy: healthy)
                    }
                }
            }
            let next = started + check.interval.duration
            try? await Task.sleep(until: next, clock: .continuous)
        }
    }

    private func probe(
        _ address: UpstreamAddress, of service: UpstreamService, check: HealthCheckConfig, kind: HealthCheckConfig.Kind,
        client: HTTPClient?
    ) async -> Bool {
        switch kind {
        case .grpc:
            return await GRPCHealthProbe.check(
                address, service: service, serviceName: check.grpcService, timeout: check.timeout.duration,
                pool: http2Pool, eventLoop: eventLoopGroup.next())
        case .http:
            guard let client else { return false }
            let host = HTTPRequestTransport.urlHost(address)
            var request = HTTPClientRequest(url: "\(address.url.scheme)://\(host):\(address.port)\(check.path)")
            request.headers.add(name: "host", value: address.url.authority)
            request.headers.add(name: "user-agent", value: "portico-health-check")
            do {
                let response = try await client.execute(
                    request, timeout: .nanoseconds(check.timeout.duration.nanoseconds), logger: logger)
                _ = try? await response.body.collect(upTo: 64 << 10)
                return check.accepts(status: Int(response.status.code))
            } catch {
                return false
            }
        }
    }
}
