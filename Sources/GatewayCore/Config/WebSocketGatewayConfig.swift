// `gateways.websocket`: the WebSocket gateway's section.
import Foundation

/// Keys: `listen` (default 127.0.0.1:8084), `admin`, `gracePeriod`, `path` (upgrade path, default
/// `/ws`), `routeSelection` (default `$request.body.action`), `auth` (policy checked at the handshake;
/// a JWT may come as `Authorization: Bearer` or `?token=`), `managementAuth` (policy of the
/// `/@connections` API, default `require: apiKey`), `routes` (route key, including `$connect`,
/// `$disconnect` and `$default`, to ``WebSocketRouteConfig``), `maxMessageSize` (default 64KiB),
/// `idleTimeout` (default 10m), `pingInterval` (default 30s), `allowedOrigins` (browser origins allowed
/// to connect, `scheme://host[:port]` or `*`; default empty: any), `subprotocols` (the subprotocols the
/// gateway speaks, in its order of preference; default empty: none negotiated unless `$connect` picks
/// one), `compression` (``WebSocketCompressionConfig``), `maxConnectionDuration` (default 0s: none),
/// `maxConnectionsPerIdentity` (open connections of one authenticated subject on this replica; default
/// 0: no limit), `messageRate` (``WebSocketMessageRateConfig``, per connection; default none),
/// `outboundQueue` (``WebSocketOutboundQueueConfig``), `channels` (channel name or `prefix*` to
/// ``WebSocketChannelConfig``).
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
    public var allowedOrigins: [String]
    public var subprotocols: [String]
    public var compression: WebSocketCompressionConfig
    public var maxConnectionDuration: ConfigDuration
    public var maxConnectionsPerIdentity: Int
    public var messageRate: WebSocketMessageRateConfig?
    public var outboundQueue: WebSocketOutboundQueueConfig
    public var channels: [String: WebSocketChannelConfig]
    /// `redis://[user:password@]host[:port][/db]`: replicas share connections through Redis; nil: one
    /// replica, in memory.
    public var bus: String?

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
        allowedOrigins = []
        subprotocols = []
        compression = WebSocketCompressionConfig()
        maxConnectionDuration = .init(.zero)
        maxConnectionsPerIdentity = 0
        messageRate = nil
        outboundQueue = WebSocketOutboundQueueConfig()
        channels = [:]
    }

    enum CodingKeys: String, CodingKey {
        case path, routeSelection, auth, managementAuth, routes, maxMessageSize, idleTimeout, pingInterval
        case allowedOrigins, subprotocols, compression
        case maxConnectionDuration, maxConnectionsPerIdentity, messageRate, outboundQueue, channels, bus
    }

    /// Whether a browser page from `origin` (the `Origin` request header) may connect. Requests
    /// without `Origin` come from non-browser clients and are not restricted by it.
    public func allows(origin: String) -> Bool {
        allowedOrigins.isEmpty || allowedOrigins.contains("*")
            || allowedOrigins.contains { $0.caseInsensitiveCompare(origin) == .orderedSame }
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
        allowedOrigins = try c.value(.allowedOrigins, or: d.allowedOrigins)
        subprotocols = try c.value(.subprotocols, or: d.subprotocols)
        compression = try c.value(.compression, or: d.compression)
        maxConnectionDuration = try c.value(.maxConnectionDuration, or: d.maxConnectionDuration)
        maxConnectionsPerIdentity = try c.value(.maxConnectionsPerIdentity, or: d.maxConnectionsPerIdentity)
        messageRate = try c.decodeIfPresent(WebSocketMessageRateConfig.self, forKey: .messageRate)
        outboundQueue = try c.value(.outboundQueue, or: d.outboundQueue)
        channels = try c.value(.channels, or: d.channels)
        bus = try c.decodeIfPresent(String.self, forKey: .bus)
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
        try c.encode(allowedOrigins, forKey: .allowedOrigins)
        try c.encode(subprotocols, forKey: .subprotocols)
        try c.encode(compression, forKey: .compression)
        try c.encode(maxConnectionDuration, forKey: .maxConnectionDuration)
        try c.encode(maxConnectionsPerIdentity, forKey: .maxConnectionsPerIdentity)
        try c.encodeIfPresent(messageRate, forKey: .messageRate)
        try c.encode(outboundQueue, forKey: .outboundQueue)
        try c.encode(channels, forKey: .channels)
        try c.encodeIfPresent(bus, forKey: .bus)
    }
}

/// `gateways.websocket.compression`: permessage-deflate (RFC 7692), used when a client offers it.
///
/// Keys: `enabled` (default true), `noContextTakeover` (default false: each side keeps its
/// compression window between messages, which compresses better and costs about 64 KiB of memory per
/// connection and direction; true resets it per message), `minSize` (messages smaller than this are
/// sent uncompressed, default 256B). An inflated frame may be at most `maxMessageSize`; a bigger one
/// closes the connection with 1009.
public struct WebSocketCompressionConfig: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var noContextTakeover: Bool
    public var minSize: ByteSize

    public init(enabled: Bool = true, noContextTakeover: Bool = false, minSize: ByteSize = .init(bytes: 256)) {
        self.enabled = enabled
        self.noContextTakeover = noContextTakeover
        self.minSize = minSize
    }

    enum CodingKeys: String, CodingKey { case enabled, noContextTakeover, minSize }

    public init(from decoder: any Decoder) throws {
        let d = WebSocketCompressionConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, or: d.enabled)
        noContextTakeover = try c.value(.noContextTakeover, or: d.noContextTakeover)
        minSize = try c.value(.minSize, or: d.minSize)
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
