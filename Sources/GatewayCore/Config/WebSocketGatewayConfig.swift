// `gateways.websocket`: the WebSocket gateway's section.

/// Keys: `listen` (default 127.0.0.1:8084), `admin`, `gracePeriod`, `path` (upgrade path, default
/// `/ws`), `routeSelection` (default `$request.body.action`), `auth` (policy checked at the handshake;
/// a JWT may come as `Authorization: Bearer` or `?token=`), `managementAuth` (policy of the
/// `/@connections` API, default `require: apiKey`), `routes` (route key, including `$connect`,
/// `$disconnect` and `$default`, to ``WebSocketRouteConfig``), `maxMessageSize` (default 64KiB),
/// `idleTimeout` (default 10m), `pingInterval` (default 30s).
public struct WebSocketGatewayConfig: Codable, Sendable {
    public var listener: ListenerConfig
    public var path: String
    public var routeSelection: String
    public var auth: AuthPolicyConfig
    public var managementAuth: AuthPolicyConfig
    public var routes: [String: WebSocketRouteConfig]
    public var maxMessageSize: ByteSize
    public var idleTimeout: ConfigDuration
    public var pingInterval: ConfigDuration

    public init() {
        listener = .defaults(port: 8084)
        path = "/ws"
        routeSelection = "$request.body.action"
        auth = .public
        managementAuth = AuthPolicyConfig(require: .apiKey)
        routes = [:]
        maxMessageSize = .init(bytes: 64 << 10)
        idleTimeout = .init(.seconds(600))
        pingInterval = .seconds(30)
    }

    enum CodingKeys: String, CodingKey {
        case path, routeSelection, auth, managementAuth, routes, maxMessageSize, idleTimeout, pingInterval
    }

    public init(from decoder: any Decoder) throws {
        let d = WebSocketGatewayConfig()
        listener = try ListenerConfig(
            from: decoder.container(keyedBy: ListenerConfig.CodingKeys.self), defaultPort: 8084)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.value(.path, or: d.path)
        routeSelection = try c.value(.routeSelection, or: d.routeSelection)
        auth = try c.value(.auth, or: d.auth)
        managementAuth = try c.value(.managementAuth, or: d.managementAuth)
        routes = try c.value(.routes, or: [:])
        maxMessageSize = try c.value(.maxMessageSize, or: d.maxMessageSize)
        idleTimeout = try c.value(.idleTimeout, or: d.idleTimeout)
        pingInterval = try c.value(.pingInterval, or: d.pingInterval)
    }

    public func encode(to encoder: any Encoder) throws {
        try listener.encodeInline(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(routeSelection, forKey: .routeSelection)
        try c.encode(auth, forKey: .auth)
        try c.encode(managementAuth, forKey: .managementAuth)
        try c.encode(routes, forKey: .routes)
        try c.encode(maxMessageSize, forKey: .maxMessageSize)
        try c.encode(idleTimeout, forKey: .idleTimeout)
        try c.encode(pingInterval, forKey: .pingInterval)
    }
}

/// One WebSocket route: an integration called with the message.
///
/// Keys: `service` (a declared service), `path` (HTTP path of the integration, default `/`),
/// `twoWay` (send the integration's response back to the sender, default true), `timeout`.
public struct WebSocketRouteConfig: Codable, Sendable {
    public var service: String
    public var path: String
    public var twoWay: Bool
    public var timeout: ConfigDuration?

    public init(service: String, path: String = "/", twoWay: Bool = true, timeout: ConfigDuration? = nil) {
        self.service = service
        self.path = path
        self.twoWay = twoWay
        self.timeout = timeout
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(String.self, forKey: .service)
        path = try c.value(.path, or: "/")
        twoWay = try c.value(.twoWay, or: true)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout)
    }
}
