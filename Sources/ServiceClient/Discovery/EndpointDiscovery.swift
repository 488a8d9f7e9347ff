// DNS discovery: every service whose endpoints name hosts (not IP literals), or that sets
// `discovery.srv`, is re-resolved every `refreshInterval`. Each resolved address becomes an endpoint
// that keeps the declared name for `Host` and TLS; the service's table is replaced only when the
// set changed, and a failed lookup keeps the last good set.
import GatewayCore
import Logging
import NIOCore

final class EndpointDiscovery: Sendable {
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    init(eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Whether `service` needs discovery at all.
    static func needsDiscovery(_ config: ServiceConfig) -> Bool {
        config.discovery?.srv != nil || config.endpoints.contains { !isIPLiteral($0.url.host) }
    }

    static func isIPLiteral(_ host: String) -> Bool { IPLiteral.isValid(host) }

    /// Resolves the services of `registry` until cancelled (a reload cancels and starts it again).
    func run(registry: ServiceRegistry) async {
        await withTaskGroup(of: Void.self) { group in
            for service in registry.services.values where Self.needsDiscovery(service.config) {
                group.addTask { await self.resolveLoop(service) }
            }
        }
    }

    private func resolveLoop(_ service: UpstreamService) async {
        let discovery = service.config.discovery ?? DiscoveryConfig()
        let resolver = DNSResolver(nameservers: discovery.nameservers, group: eventLoopGroup)
        var last: [UpstreamAddress: Int]?
        while !Task.isCancelled {
            if let resolved = await resolve(
                service.config, discovery: discovery, resolver: resolver, name: service.name)
            {
                let table = Dictionary(resolved.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
                if table != last {
                    service.updateEndpoints(resolved)
                    logger.info(
                        "endpoints resolved",
                        metadata: [
                            "service": "\(service.name)",
                            "endpoints": "\(resolved.map { $0.0.description }.joined(separator: ", "))",
                        ])
                    last = table
                }
            }
            try? await Task.sleep(for: discovery.refreshInterval.duration)
        }
    }

    /// The endpoint set as DNS has it now, or nil when a lookup failed (keep the last good set).
    func resolve(
        _ config: ServiceConfig, discovery: DiscoveryConfig, resolver: DNSResolver, name: String
    ) async -> [(UpstreamAddress, Int)]? {
        var result: [(UpstreamAddress, Int)] = []
        do {
            for endpoint in config.endpoints {
                if Self.isIPLiteral(endpoint.url.host) {
                    result.append((UpstreamAddress(url: endpoint.url), endpoint.weight))
                    continue
                }
                for ip in try await resolver.resolveAddresses(endpoint.url.host) {
                    result.append((UpstreamAddress(url: endpoint.url, ip: ip), endpoint.weight))
                }
            }
            if let srv = discovery.srv {
                // Only the most preferred (lowest) priority is used, as RFC 2782 asks.
                let records = try await resolver.resolveSRV(srv)
                let preferred = records.map(\.priority).min()
                for record in records where record.priority == preferred {
                    let host = record.target.hasSuffix(".") ? String(record.target.dropLast()) : record.target
                    let url = EndpointURL(scheme: discovery.scheme, host: host, port: record.port)
                    let weight = max(1, min(1000, Int(record.weight)))
                    if Self.isIPLiteral(host) {
                        result.append((UpstreamAddress(url: url), weight))
                        continue
                    }
                    for ip in try await resolver.resolveAddresses(host) {
                        result.append((UpstreamAddress(url: url, ip: ip), weight))
                    }
                }
            }
        } catch {
            logger.warning(
                "DNS lookup failed; keeping the last endpoints", metadata: ["service": "\(name)", "error": "\(error)"])
            return nil
        }
        return result
    }
}
