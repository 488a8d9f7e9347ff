// The `gateways.<name>` sections. Each holds the listener keys inline (``ListenerConfig``) plus its
// protocol's own keys.

/// `gateways.graphql`: keys `listen` (default 127.0.0.1:8081), `admin`, `gracePeriod`, `path` (default
/// `/graphql`), `schema` (path of the SDL file), `maxDepth` (default 10), `auth` (policy for the
/// endpoint), `fields` (root field name to ``GraphQLFieldSourceConfig``).
public struct GraphQLGatewayConfig: Codable, Sendable {
    public var listener: ListenerConfig
    public var path: String
    public var schema: String
    public var maxDepth: Int
    public var auth: AuthPolicyConfig
    public var fields: [String: GraphQLFieldSourceConfig]

    public init() {
        listener = .defaults(port: 8081)
        path = "/graphql"
        schema = "Protocols/graphql/gateway.graphql"
        maxDepth = 10
        auth = .public
        fields = [:]
    }

    enum CodingKeys: String, CodingKey { case path, schema, maxDepth, auth, fields }

    public init(from decoder: any Decoder) throws {
        let defaults = GraphQLGatewayConfig()
        listener = try ListenerConfig(
            from: decoder.container(keyedBy: ListenerConfig.CodingKeys.self), defaultPort: 8081)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.value(.path, or: defaults.path)
        schema = try c.value(.schema, or: defaults.schema)
        maxDepth = try c.value(.maxDepth, or: defaults.maxDepth)
        auth = try c.value(.auth, or: .public)
        fields = try c.value(.fields, or: [:])
    }

    public func encode(to encoder: any Encoder) throws {
        try listener.encodeInline(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(schema, forKey: .schema)
        try c.encode(maxDepth, forKey: .maxDepth)
        try c.encode(auth, forKey: .auth)
        try c.encode(fields, forKey: .fields)
    }
}

/// Where a root GraphQL field is resolved.
///
/// Keys: `service` (a declared service), `kind` (`rest`: an HTTP GET whose JSON is the field's value;
/// `graphql`: the field is forwarded to a GraphQL subgraph), `path` (for `rest`: a template filled from
/// the field's arguments, e.g. `/users/{id}`; for `graphql`: the subgraph endpoint, default `/graphql`).
public struct GraphQLFieldSourceConfig: Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case rest, graphql }
    public var service: String
    public var kind: Kind
    public var path: String?
}

/// `gateways.grpc`: keys `listen` (default 127.0.0.1:8082), `admin`, `gracePeriod`, `routes` (list of
/// ``GRPCRouteConfig``), `health` (serve `grpc.health.v1.Health`, default true).
public struct GRPCGatewayConfig: Codable, Sendable {
    public var listener: ListenerConfig
    public var routes: [GRPCRouteConfig]
    public var health: Bool

    public init(listener: ListenerConfig = .defaults(port: 8082), routes: [GRPCRouteConfig] = []) {
        self.listener = listener
        self.routes = routes
        self.health = true
    }

    enum CodingKeys: String, CodingKey { case routes, health }

    public init(from decoder: any Decoder) throws {
        listener = try ListenerConfig(
            from: decoder.container(keyedBy: ListenerConfig.CodingKeys.self), defaultPort: 8082)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        routes = try c.value(.routes, or: [])
        health = try c.value(.health, or: true)
    }

    public func encode(to encoder: any Encoder) throws {
        try listener.encodeInline(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(routes, forKey: .routes)
        try c.encode(health, forKey: .health)
    }
}

/// One gRPC route.
///
/// Keys: `name`, `grpcService` (fully qualified, e.g. `shop.orders.v1.Orders`), `methods` (method names;
/// default all of the service), `service` (the declared upstream service), `auth`, `timeout`.
public struct GRPCRouteConfig: Codable, Sendable {
    public var name: String
    public var grpcService: String
    public var methods: [String]
    public var service: String
    public var auth: AuthPolicyConfig
    public var timeout: ConfigDuration?

    public init(
        name: String, grpcService: String, methods: [String] = [], service: String,
        auth: AuthPolicyConfig = .public, timeout: ConfigDuration? = nil
    ) {
        self.name = name
        self.grpcService = grpcService
        self.methods = methods
        self.service = service
        self.auth = auth
        self.timeout = timeout
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        grpcService = try c.decode(String.self, forKey: .grpcService)
        methods = try c.value(.methods, or: [])
        service = try c.decode(String.self, forKey: .service)
        auth = try c.value(.auth, or: .public)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout)
    }
}

/// `gateways.cloudevents`: keys `listen` (default 127.0.0.1:8083), `admin`, `gracePeriod`, `path`
/// (default `/`), `auth`, `maxBatchSize` (default 100 events), `triggers` (list of
/// ``CloudEventTriggerConfig``), `deliveryAttempts` (default 3), `queueCapacity` (pending deliveries, one per event and matching trigger; default 10000).
public struct CloudEventsGatewayConfig: Codable, Sendable {
    public var listener: ListenerConfig
    public var path: String
    public var auth: AuthPolicyConfig
    public var maxBatchSize: Int
    public var triggers: [CloudEventTriggerConfig]
    public var deliveryAttempts: Int
    public var queueCapacity: Int

    public init() {
        listener = .defaults(port: 8083)
        path = "/"
        auth = .public
        maxBatchSize = 100
        triggers = []
        deliveryAttempts = 3
        queueCapacity = 10_000
    }

    enum CodingKeys: String, CodingKey { case path, auth, maxBatchSize, triggers, deliveryAttempts, queueCapacity }

    public init(from decoder: any Decoder) throws {
        let d = CloudEventsGatewayConfig()
        listener = try ListenerConfig(
            from: decoder.container(keyedBy: ListenerConfig.CodingKeys.self), defaultPort: 8083)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.value(.path, or: d.path)
        auth = try c.value(.auth, or: .public)
        maxBatchSize = try c.value(.maxBatchSize, or: d.maxBatchSize)
        triggers = try c.value(.triggers, or: [])
        deliveryAttempts = try c.value(.deliveryAttempts, or: d.deliveryAttempts)
        queueCapacity = try c.value(.queueCapacity, or: d.queueCapacity)
    }

    public func encode(to encoder: any Encoder) throws {
        try listener.encodeInline(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(auth, forKey: .auth)
        try c.encode(maxBatchSize, forKey: .maxBatchSize)
        try c.encode(triggers, forKey: .triggers)
        try c.encode(deliveryAttempts, forKey: .deliveryAttempts)
        try c.encode(queueCapacity, forKey: .queueCapacity)
    }
}

/// A subscription: events matching `filter` are delivered to `service` at `path` in binary mode.
///
/// Keys: `name`, `filter` (``CloudEventFilterConfig``), `service`, `path` (default `/`).
public struct CloudEventTriggerConfig: Codable, Sendable {
    public var name: String
    public var filter: CloudEventFilterConfig
    public var service: String
    public var path: String

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        filter = try c.value(.filter, or: .init())
        service = try c.decode(String.self, forKey: .service)
        path = try c.value(.path, or: "/")
    }
}

/// Attribute filters, all of which must hold (an empty filter matches every event).
///
/// Keys: `exact`, `prefix`, `suffix`: each a map of attribute name to value.
public struct CloudEventFilterConfig: Codable, Sendable, Equatable {
    public var exact: [String: String]
    public var prefix: [String: String]
    public var suffix: [String: String]

    public init(exact: [String: String] = [:], prefix: [String: String] = [:], suffix: [String: String] = [:]) {
        self.exact = exact
        self.prefix = prefix
        self.suffix = suffix
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        exact = try c.value(.exact, or: [:])
        prefix = try c.value(.prefix, or: [:])
        suffix = try c.value(.suffix, or: [:])
    }
}
