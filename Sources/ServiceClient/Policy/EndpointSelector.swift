// Endpoint selection, one policy for every transport: the NIO streaming pool and the async request
// API both ask an `UpstreamService` which endpoint to use next. First cut: round robin.
public import GatewayCore
import Synchronization

/// One declared service: its config and the selection state shared by all transports.
public final class UpstreamService: Sendable {
    public let name: String
    public let config: ServiceConfig
    private let next = Atomic<Int>(0)

    public init(name: String, config: ServiceConfig) {
        self.name = name
        self.config = config
    }

    public var endpoints: [EndpointURL] { config.endpoints }

    /// The next endpoint in round-robin order, or `noHealthyUpstream` when there is none.
    public func selectEndpoint() throws(GatewayError) -> EndpointURL {
        let endpoints = config.endpoints
        guard !endpoints.isEmpty else {
            throw GatewayError(.noHealthyUpstream, "service '\(name)' has no available endpoint")
        }
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return endpoints[(index % endpoints.count + endpoints.count) % endpoints.count]
    }

    /// The request timeout for a call: the route's when it sets one, else the service's.
    public func requestTimeout(route: ConfigDuration?) -> Duration {
        (route ?? config.requestTimeout).duration
    }

    public var connectTimeout: Duration { config.connectTimeout.duration }
}

/// All declared services by name.
public struct ServiceRegistry: Sendable {
    public let services: [String: UpstreamService]

    public init(config: PorticoConfig) {
        services = Dictionary(
            uniqueKeysWithValues: config.services.map { ($0.key, UpstreamService(name: $0.key, config: $0.value)) })
    }

    public func service(_ name: String) throws(GatewayError) -> UpstreamService {
        guard let service = services[name] else {
            throw GatewayError(.noHealthyUpstream, "service '\(name)' is not declared")
        }
        return service
    }
}
