// A microservice behind the gateways, as the `services` section declares it: where its endpoints are
// (static, weighted, or discovered by DNS), how calls are balanced, timed, retried and guarded. The
// policy sub-sections live in ServicePolicyConfig.swift. Every key is in docs/service-client.md.

/// A microservice behind the gateways.
///
/// Keys: `endpoints` (list of URLs or `{url, weight}`; required unless `discovery.srv` is set),
/// `discovery`, `protocol` (`http1`, `http2`, `grpc`; default `http1`), `loadBalancing`, `hashOn`,
/// `connectTimeout` (2s), `requestTimeout` (15s, the total for a call including retries),
/// `maxConnectionsPerEndpoint` (128), `idleTimeout` (60s), `failureStatuses` ([502, 503, 504]),
/// `healthCheck`, `whenAllUnhealthy` (`failFast` or `panic`), `outlierDetection`, `circuitBreaker`,
/// `retry`, `retryBudget`, `tls`.
public struct ServiceConfig: Codable, Sendable {
    public var endpoints: [WeightedEndpoint]
    public var discovery: DiscoveryConfig?
    public var `protocol`: UpstreamProtocol
    public var loadBalancing: LoadBalancing
    public var hashOn: HashKeySource?
    public var connectTimeout: ConfigDuration
    public var requestTimeout: ConfigDuration
    public var maxConnectionsPerEndpoint: Int
    public var idleTimeout: ConfigDuration
    /// Upstream statuses that count as failures for outlier detection and the circuit breaker.
    public var failureStatuses: [Int]
    public var healthCheck: HealthCheckConfig?
    public var whenAllUnhealthy: AllUnhealthyBehaviour
    public var outlierDetection: OutlierDetectionConfig
    public var circuitBreaker: CircuitBreakerConfig
    public var retry: RetryConfig
    public var retryBudget: RetryBudgetConfig
    public var tls: UpstreamTLSConfig?

    public enum LoadBalancing: String, Codable, Sendable, CaseIterable {
        case roundRobin, weightedRoundRobin, leastRequest
        /// Power of two random choices, scored by an EWMA of latency times outstanding requests.
        case ewma
        /// Consistent hashing (a ring of virtual nodes) on the request key named by `hashOn`.
        case ringHash
    }

    public enum AllUnhealthyBehaviour: String, Codable, Sendable {
        /// Answer 503 / `UNAVAILABLE` at once.
        case failFast
        /// Ignore health and spread calls over every endpoint.
        case panic
    }

    public init(
        endpoints: [EndpointURL], protocol: UpstreamProtocol = .http1, connectTimeout: ConfigDuration = .seconds(2),
        requestTimeout: ConfigDuration = .seconds(15)
    ) {
        self.endpoints = endpoints.map { WeightedEndpoint(url: $0) }
        self.discovery = nil
        self.protocol = `protocol`
        self.loadBalancing = .roundRobin
        self.hashOn = nil
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxConnectionsPerEndpoint = 128
        self.idleTimeout = .seconds(60)
        self.failureStatuses = [502, 503, 504]
        self.healthCheck = nil
        self.whenAllUnhealthy = .failFast
        self.outlierDetection = .init()
        self.circuitBreaker = .init()
        self.retry = .init()
        self.retryBudget = .init()
        self.tls = nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        endpoints = try c.value(.endpoints, or: [])
        discovery = try c.decodeIfPresent(DiscoveryConfig.self, forKey: .discovery)
        `protocol` = try c.value(.protocol, or: .http1)
        loadBalancing = try c.value(.loadBalancing, or: .roundRobin)
        hashOn = try c.decodeIfPresent(HashKeySource.self, forKey: .hashOn)
        connectTimeout = try c.value(.connectTimeout, or: .seconds(2))
        requestTimeout = try c.value(.requestTimeout, or: .seconds(15))
        maxConnectionsPerEndpoint = try c.value(.maxConnectionsPerEndpoint, or: 128)
        idleTimeout = try c.value(.idleTimeout, or: .seconds(60))
        failureStatuses = try c.value(.failureStatuses, or: [502, 503, 504])
        healthCheck = try c.decodeIfPresent(HealthCheckConfig.self, forKey: .healthCheck)
        whenAllUnhealthy = try c.value(.whenAllUnhealthy, or: .failFast)
        outlierDetection = try c.value(.outlierDetection, or: .init())
        circuitBreaker = try c.value(.circuitBreaker, or: .init())
        retry = try c.value(.retry, or: .init())
        retryBudget = try c.value(.retryBudget, or: .init())
        tls = try c.decodeIfPresent(UpstreamTLSConfig.self, forKey: .tls)
    }

    /// The endpoint URLs as declared (without weights).
    public var endpointURLs: [EndpointURL] { endpoints.map(\.url) }
}

/// One static endpoint: a URL string, or `{url, weight}` (weight 1–1000, default 1).
public struct WeightedEndpoint: Codable, Sendable, Hashable {
    public var url: EndpointURL
    public var weight: Int

    public init(url: EndpointURL, weight: Int = 1) {
        self.url = url
        self.weight = weight
    }

    enum CodingKeys: String, CodingKey { case url, weight }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let url = try? single.decode(EndpointURL.self) {
            self.init(url: url)
            return
        }
        if let single = try? decoder.singleValueContainer(), (try? single.decode(String.self)) != nil {
            // A string that is not a valid URL: let EndpointURL report why.
            self.init(url: try single.decode(EndpointURL.self))
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(url: try c.decode(EndpointURL.self, forKey: .url), weight: try c.value(.weight, or: 1))
    }

    public func encode(to encoder: any Encoder) throws {
        if weight == 1 {
            var single = encoder.singleValueContainer()
            try single.encode(url)
        } else {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(url, forKey: .url)
            try c.encode(weight, forKey: .weight)
        }
    }
}

/// DNS discovery. Host names in `endpoints` are always re-resolved (A/AAAA) every `refreshInterval`;
/// `srv` adds the targets of an SRV record (their port and weight come from the record).
///
/// Keys: `refreshInterval` (30s), `srv` (e.g. `_http._tcp.users.internal`), `scheme` for SRV
/// targets (`http` or `https`, default `http`), `nameservers` (`host:port` list; default: the system
/// resolver for names, `/etc/resolv.conf` for SRV).
public struct DiscoveryConfig: Codable, Sendable {
    public var refreshInterval: ConfigDuration
    public var srv: String?
    public var scheme: String
    public var nameservers: [String]?

    public init(refreshInterval: ConfigDuration = .seconds(30), srv: String? = nil) {
        self.refreshInterval = refreshInterval
        self.srv = srv
        self.scheme = "http"
        self.nameservers = nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        refreshInterval = try c.value(.refreshInterval, or: .seconds(30))
        srv = try c.decodeIfPresent(String.self, forKey: .srv)
        scheme = try c.value(.scheme, or: "http")
        nameservers = try c.decodeIfPresent([String].self, forKey: .nameservers)
    }
}

/// Where the key of consistent hashing comes from: `header:NAME`, `cookie:NAME`, `connectionId`
/// (the WebSocket connection) or `clientAddress`.
public enum HashKeySource: Codable, Sendable, Hashable, CustomStringConvertible {
    case header(String)
    case cookie(String)
    case connectionID
    case clientAddress

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        if text == "connectionId" {
            self = .connectionID
        } else if text == "clientAddress" {
            self = .clientAddress
        } else if text.hasPrefix("header:"), text.count > 7 {
            self = .header(String(text.dropFirst(7)).lowercased())
        } else if text.hasPrefix("cookie:"), text.count > 7 {
            self = .cookie(String(text.dropFirst(7)))
        } else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription:
                    "'\(text)' is not a hash key (use header:NAME, cookie:NAME, connectionId or clientAddress)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var description: String {
        switch self {
        case .header(let name): return "header:\(name)"
        case .cookie(let name): return "cookie:\(name)"
        case .connectionID: return "connectionId"
        case .clientAddress: return "clientAddress"
        }
    }

    /// The key for one request, given how to read its headers and its connection's facts.
    public func key(header: (String) -> String?, connectionID: String? = nil, clientAddress: String? = nil) -> String? {
        switch self {
        case .header(let name): return header(name)
        case .cookie(let name):
            guard let cookies = header("cookie") else { return nil }
            for pair in cookies.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingWhitespace() == name {
                    return String(parts[1].trimmingWhitespace())
                }
            }
            return nil
        case .connectionID: return connectionID
        case .clientAddress: return clientAddress
        }
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}
