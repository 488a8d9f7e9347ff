// The resilience policy of a service: active health checks, outlier detection, circuit breaking,
// retries and their budget, and TLS to its endpoints. Defaults are what a first user can run with:
// safe retries only (never twice on a request that may have been processed), breakers that only
// trip under a real outage.

/// Active health checking. Keys: `type` (`http` or `grpc`; default `grpc` for gRPC services, `http`
/// otherwise), `path` (`/healthz`), `expectedStatuses` (default: any 2xx), `grpcService` (the
/// service name sent in `HealthCheckRequest`, default empty = the whole server), `interval` (10s),
/// `timeout` (2s), `healthyThreshold` (2), `unhealthyThreshold` (3).
public struct HealthCheckConfig: Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case http, grpc }

    public var type: Kind?
    public var path: String
    public var expectedStatuses: [Int]
    public var grpcService: String
    public var interval: ConfigDuration
    public var timeout: ConfigDuration
    public var healthyThreshold: Int
    public var unhealthyThreshold: Int

    public init(
        type: Kind? = nil, path: String = "/healthz", interval: ConfigDuration = .seconds(10),
        timeout: ConfigDuration = .seconds(2), healthyThreshold: Int = 2, unhealthyThreshold: Int = 3
    ) {
        self.type = type
        self.path = path
        self.expectedStatuses = []
        self.grpcService = ""
        self.interval = interval
        self.timeout = timeout
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(Kind.self, forKey: .type)
        path = try c.value(.path, or: "/healthz")
        expectedStatuses = try c.value(.expectedStatuses, or: [])
        grpcService = try c.value(.grpcService, or: "")
        interval = try c.value(.interval, or: .seconds(10))
        timeout = try c.value(.timeout, or: .seconds(2))
        healthyThreshold = try c.value(.healthyThreshold, or: 2)
        unhealthyThreshold = try c.value(.unhealthyThreshold, or: 3)
    }

    /// Whether an HTTP health check answer counts as healthy.
    public func accepts(status: Int) -> Bool {
        expectedStatuses.isEmpty ? (200..<300).contains(status) : expectedStatuses.contains(status)
    }
}

/// Passive outlier detection. Keys: `enabled` (true), `consecutiveFailures` (5), `baseEjectionTime`
/// (30s; the n-th ejection in a row lasts n times this), `maxEjectionTime` (300s),
/// `maxEjectionPercent` (50; at least one endpoint may always be ejected).
public struct OutlierDetectionConfig: Codable, Sendable {
    public var enabled: Bool
    public var consecutiveFailures: Int
    public var baseEjectionTime: ConfigDuration
    public var maxEjectionTime: ConfigDuration
    public var maxEjectionPercent: Int

    public init(
        enabled: Bool = true, consecutiveFailures: Int = 5, baseEjectionTime: ConfigDuration = .seconds(30),
        maxEjectionTime: ConfigDuration = .seconds(300), maxEjectionPercent: Int = 50
    ) {
        self.enabled = enabled
        self.consecutiveFailures = consecutiveFailures
        self.baseEjectionTime = baseEjectionTime
        self.maxEjectionTime = maxEjectionTime
        self.maxEjectionPercent = maxEjectionPercent
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, or: true)
        consecutiveFailures = try c.value(.consecutiveFailures, or: 5)
        baseEjectionTime = try c.value(.baseEjectionTime, or: .seconds(30))
        maxEjectionTime = try c.value(.maxEjectionTime, or: .seconds(300))
        maxEjectionPercent = try c.value(.maxEjectionPercent, or: 50)
    }
}

/// Circuit breaking. Keys: `maxConcurrentRequests` (1024), `maxPendingRequests` (1024; calls waiting
/// for a connection), `maxConcurrentRetries` (16), `consecutiveFailures` (20; this many failed calls
/// in a row open the circuit; 0 turns the open state off), `openDuration` (10s before a half-open
/// probe), `halfOpenRequests` (1 probe call at a time while half-open).
public struct CircuitBreakerConfig: Codable, Sendable {
    public var maxConcurrentRequests: Int
    public var maxPendingRequests: Int
    public var maxConcurrentRetries: Int
    public var consecutiveFailures: Int
    public var openDuration: ConfigDuration
    public var halfOpenRequests: Int

    public init(
        maxConcurrentRequests: Int = 1024, maxPendingRequests: Int = 1024, maxConcurrentRetries: Int = 16,
        consecutiveFailures: Int = 20, openDuration: ConfigDuration = .seconds(10), halfOpenRequests: Int = 1
    ) {
        self.maxConcurrentRequests = maxConcurrentRequests
        self.maxPendingRequests = maxPendingRequests
        self.maxConcurrentRetries = maxConcurrentRetries
        self.consecutiveFailures = consecutiveFailures
        self.openDuration = openDuration
        self.halfOpenRequests = halfOpenRequests
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxConcurrentRequests = try c.value(.maxConcurrentRequests, or: 1024)
        maxPendingRequests = try c.value(.maxPendingRequests, or: 1024)
        maxConcurrentRetries = try c.value(.maxConcurrentRetries, or: 16)
        consecutiveFailures = try c.value(.consecutiveFailures, or: 20)
        openDuration = try c.value(.openDuration, or: .seconds(10))
        halfOpenRequests = try c.value(.halfOpenRequests, or: 1)
    }
}

/// Retries of one call. A service's `retry` applies to every route to it unless the route sets its own.
///
/// Keys: `attempts` (total tries including the first, default 2; 1 turns retries off), `retryOn`
/// (conditions: `connectFailure`, `reset`, `timeout`; default `[connectFailure, reset]`),
/// `statuses` (HTTP statuses that are retried, default `[503]`), `grpcStatuses` (default
/// `[UNAVAILABLE]`), `backoff` (`{base: 25ms, max: 250ms}`, full jitter), `perTryTimeout` (default:
/// none, each try may use what is left of the total), `nonIdempotent` (false: POST and PATCH are only
/// retried after a connect failure, when the service never saw them), `maxBufferedBody` (64KiB: a
/// larger request body streams and is not replayed).
public struct RetryConfig: Codable, Sendable {
    public enum Condition: String, Codable, Sendable, CaseIterable { case connectFailure, reset, timeout }

    public var attempts: Int
    public var retryOn: [Condition]
    public var statuses: [Int]
    public var grpcStatuses: [GRPCStatusName]
    public var backoff: Backoff
    public var perTryTimeout: ConfigDuration?
    public var nonIdempotent: Bool
    public var maxBufferedBody: ByteSize

    public struct Backoff: Codable, Sendable {
        public var base: ConfigDuration
        public var max: ConfigDuration

        public init(base: ConfigDuration = .milliseconds(25), max: ConfigDuration = .milliseconds(250)) {
            self.base = base
            self.max = max
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            base = try c.value(.base, or: .milliseconds(25))
            max = try c.value(.max, or: .milliseconds(250))
        }
    }

    public init(
        attempts: Int = 2, retryOn: [Condition] = [.connectFailure, .reset], statuses: [Int] = [503],
        grpcStatuses: [GRPCStatusName] = [.UNAVAILABLE], backoff: Backoff = .init(),
        perTryTimeout: ConfigDuration? = nil,
        nonIdempotent: Bool = false, maxBufferedBody: ByteSize = .init(bytes: 64 << 10)
    ) {
        self.attempts = attempts
        self.retryOn = retryOn
        self.statuses = statuses
        self.grpcStatuses = grpcStatuses
        self.backoff = backoff
        self.perTryTimeout = perTryTimeout
        self.nonIdempotent = nonIdempotent
        self.maxBufferedBody = maxBufferedBody
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        attempts = try c.value(.attempts, or: 2)
        retryOn = try c.value(.retryOn, or: [.connectFailure, .reset])
        statuses = try c.value(.statuses, or: [503])
        grpcStatuses = try c.value(.grpcStatuses, or: [.UNAVAILABLE])
        backoff = try c.value(.backoff, or: .init())
        perTryTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .perTryTimeout)
        nonIdempotent = try c.value(.nonIdempotent, or: false)
        maxBufferedBody = try c.value(.maxBufferedBody, or: .init(bytes: 64 << 10))
    }
}

/// gRPC status names as they appear in config (`UNAVAILABLE`) with their numeric codes.
public enum GRPCStatusName: String, Codable, Sendable, CaseIterable {
    case OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED
    case RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE
    case DATA_LOSS, UNAUTHENTICATED

    public var code: Int { Self.allCases.firstIndex(of: self)! }
}

/// The retry budget of a service: retries in flight may not exceed `percent` of the calls in flight
/// (default 20), but `minConcurrency` (default 3) retries are always allowed.
public struct RetryBudgetConfig: Codable, Sendable {
    public var percent: Int
    public var minConcurrency: Int

    public init(percent: Int = 20, minConcurrency: Int = 3) {
        self.percent = percent
        self.minConcurrency = minConcurrency
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        percent = try c.value(.percent, or: 20)
        minConcurrency = try c.value(.minConcurrency, or: 3)
    }
}

/// TLS to a service's `https://` endpoints. Keys: `ca` (PEM file of trusted roots; default the
/// system's), `certificate` and `key` (PEM files of a client certificate, for mTLS; both or neither),
/// `serverName` (SNI and the name verified; default the endpoint's host).
public struct UpstreamTLSConfig: Codable, Sendable {
    public var ca: String?
    public var certificate: String?
    public var key: String?
    public var serverName: String?

    public init(ca: String? = nil, certificate: String? = nil, key: String? = nil, serverName: String? = nil) {
        self.ca = ca
        self.certificate = certificate
        self.key = key
        self.serverName = serverName
    }
}
