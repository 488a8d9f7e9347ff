// The shared configuration model: one file, shared sections (`services`, `auth`, `limits`,
// `observability`) and one section per gateway under `gateways`. Every key is listed in
// docs/configuration.md; defaults are chosen to be safe for a first user.

/// The whole `portico.yaml`.
///
/// Keys: `services` (map of name to ``ServiceConfig``), `auth` (``AuthConfig``), `limits`
/// (``LimitsConfig``), `observability` (``ObservabilityConfig``), `gateways` (``GatewaysConfig``).
public struct PorticoConfig: Codable, Sendable {
    public var services: [String: ServiceConfig]
    public var auth: AuthConfig
    public var limits: LimitsConfig
    public var observability: ObservabilityConfig
    public var gateways: GatewaysConfig

    public init(
        services: [String: ServiceConfig] = [:], auth: AuthConfig = .init(), limits: LimitsConfig = .init(),
        observability: ObservabilityConfig = .init(), gateways: GatewaysConfig = .init()
    ) {
        self.services = services
        self.auth = auth
        self.limits = limits
        self.observability = observability
        self.gateways = gateways
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        services = try c.value(.services, or: [:])
        auth = try c.value(.auth, or: .init())
        limits = try c.value(.limits, or: .init())
        observability = try c.value(.observability, or: .init())
        gateways = try c.value(.gateways, or: .init())
    }
}

/// Which wire protocol an upstream speaks.
public enum UpstreamProtocol: String, Codable, Sendable, CaseIterable {
    case http1
    /// HTTP/2 with prior knowledge (h2c) or TLS with ALPN.
    case http2
    /// gRPC over HTTP/2.
    case grpc
}

/// Limits shared by every gateway.
///
/// Keys: `maxRequestBodySize` (default 1MiB; larger bodies get 413), `maxHeaderSize` (default 16KiB),
/// and how long a client may take (nginx's `keepalive_timeout`, `client_header_timeout` and
/// `client_body_timeout`): `clientIdleTimeout` (default 75s; a connection with no request in
/// progress is closed), `clientHeaderTimeout` (default 30s, from a request head's first byte to its
/// end; then 408) and `clientBodyTimeout` (default 60s between two reads of a request body; then 408).
public struct LimitsConfig: Codable, Sendable {
    public var maxRequestBodySize: ByteSize
    public var maxHeaderSize: ByteSize
    public var clientIdleTimeout: ConfigDuration
    public var clientHeaderTimeout: ConfigDuration
    public var clientBodyTimeout: ConfigDuration

    public init(
        maxRequestBodySize: ByteSize = .init(bytes: 1 << 20), maxHeaderSize: ByteSize = .init(bytes: 16 << 10),
        clientIdleTimeout: ConfigDuration = .seconds(75), clientHeaderTimeout: ConfigDuration = .seconds(30),
        clientBodyTimeout: ConfigDuration = .seconds(60)
    ) {
        self.maxRequestBodySize = maxRequestBodySize
        self.maxHeaderSize = maxHeaderSize
        self.clientIdleTimeout = clientIdleTimeout
        self.clientHeaderTimeout = clientHeaderTimeout
        self.clientBodyTimeout = clientBodyTimeout
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxRequestBodySize = try c.value(.maxRequestBodySize, or: .init(bytes: 1 << 20))
        maxHeaderSize = try c.value(.maxHeaderSize, or: .init(bytes: 16 << 10))
        clientIdleTimeout = try c.value(.clientIdleTimeout, or: .seconds(75))
        clientHeaderTimeout = try c.value(.clientHeaderTimeout, or: .seconds(30))
        clientBodyTimeout = try c.value(.clientBodyTimeout, or: .seconds(60))
    }
}

/// Logs, metrics and tracing.
///
/// Keys: `logLevel` (`trace` … `critical`, default `info`), `logFormat` (`json` or `text`, default
/// `json`), `accessLog` (default true). W3C trace context is always accepted and propagated.
public struct ObservabilityConfig: Codable, Sendable, Equatable {
    public var logLevel: LogLevel
    public var logFormat: LogFormat
    public var accessLog: Bool

    public enum LogLevel: String, Codable, Sendable { case trace, debug, info, notice, warning, error, critical }
    public enum LogFormat: String, Codable, Sendable { case json, text }

    public init(logLevel: LogLevel = .info, logFormat: LogFormat = .json, accessLog: Bool = true) {
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.accessLog = accessLog
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        logLevel = try c.value(.logLevel, or: .info)
        logFormat = try c.value(.logFormat, or: .json)
        accessLog = try c.value(.accessLog, or: true)
    }
}

/// The per-gateway sections. A gateway whose section is absent runs with its defaults.
public struct GatewaysConfig: Codable, Sendable {
    public var rest: RESTGatewayConfig
    public var graphql: GraphQLGatewayConfig
    public var grpc: GRPCGatewayConfig
    public var cloudevents: CloudEventsGatewayConfig
    public var websocket: WebSocketGatewayConfig

    public init() {
        rest = .init()
        graphql = .init()
        grpc = .init()
        cloudevents = .init()
        websocket = .init()
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rest = try c.value(.rest, or: .init())
        graphql = try c.value(.graphql, or: .init())
        grpc = try c.value(.grpc, or: .init())
        cloudevents = try c.value(.cloudevents, or: .init())
        websocket = try c.value(.websocket, or: .init())
    }

    /// The names accepted by `--gateway`.
    public static let names = ["rest", "graphql", "grpc", "cloudevents", "websocket"]

    public func listener(for gateway: String) -> ListenerConfig? {
        switch gateway {
        case "rest": return rest.listener
        case "graphql": return graphql.listener
        case "grpc": return grpc.listener
        case "cloudevents": return cloudevents.listener
        case "websocket": return websocket.listener
        default: return nil
        }
    }
}

/// What every gateway section has: where it listens and how it drains.
///
/// Keys (inline in each gateway section): `listen` (host:port), `admin` (host:port of the admin
/// listener), `gracePeriod` (how long SIGTERM waits for in-flight requests, default 10s).
public struct ListenerConfig: Codable, Sendable {
    public var listen: ListenAddress
    public var admin: ListenAddress
    public var gracePeriod: ConfigDuration

    public init(listen: ListenAddress, admin: ListenAddress, gracePeriod: ConfigDuration = .seconds(10)) {
        self.listen = listen
        self.admin = admin
        self.gracePeriod = gracePeriod
    }

    enum CodingKeys: String, CodingKey { case listen, admin, gracePeriod }

    init(from container: KeyedDecodingContainer<CodingKeys>, defaultPort: Int) throws {
        listen = try container.value(.listen, or: ListenAddress(host: "127.0.0.1", port: defaultPort))
        admin = try container.value(.admin, or: ListenAddress(host: "127.0.0.1", port: defaultPort + 1000))
        gracePeriod = try container.value(.gracePeriod, or: .seconds(10))
    }

    public static func defaults(port: Int) -> ListenerConfig {
        ListenerConfig(listen: .init(host: "127.0.0.1", port: port), admin: .init(host: "127.0.0.1", port: port + 1000))
    }
}

extension ListenerConfig {
    /// Writes the listener keys into a gateway section's own container (they are inline there).
    func encodeInline(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(listen, forKey: .listen)
        try c.encode(admin, forKey: .admin)
        try c.encode(gracePeriod, forKey: .gracePeriod)
    }
}

/// How long a client may take, from `limits` (each gateway's listener applies what its protocol allows).
public struct ClientTimeouts: Sendable, Equatable {
    /// A connection with no request in progress is closed after this.
    public var idle: Duration
    /// A request head must arrive within this from its first byte.
    public var header: Duration
    /// The longest gap between two reads of a request body.
    public var body: Duration

    public init(idle: Duration, header: Duration, body: Duration) {
        self.idle = idle
        self.header = header
        self.body = body
    }

    public init(_ limits: LimitsConfig) {
        self.init(
            idle: limits.clientIdleTimeout.duration, header: limits.clientHeaderTimeout.duration,
            body: limits.clientBodyTimeout.duration)
    }
}
