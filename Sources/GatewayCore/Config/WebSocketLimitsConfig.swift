// The per-connection limits of `gateways.websocket` that take more than one value.

/// `gateways.websocket.messageRate`: a token bucket per connection. Keys: `messages` (required),
/// `per` (required), `burst` (default `messages`). A message over the rate is not handled; the client
/// gets a `rate_limited` error message for it and the connection stays open.
public struct WebSocketMessageRateConfig: Codable, Sendable, Equatable {
    public var messages: Int
    public var per: ConfigDuration
    public var burst: Int?

    public init(messages: Int, per: ConfigDuration, burst: Int? = nil) {
        self.messages = messages
        self.per = per
        self.burst = burst
    }

    /// Tokens a connection starts with and can save up.
    public var capacity: Int { burst ?? messages }
}

/// `gateways.websocket.outboundQueue`: what may wait for one client before it counts as a slow
/// consumer and is closed with 1008. Keys: `maxBytes` (default 1MiB: bytes handed to the connection's
/// event loop and not written yet, and bytes its socket has not taken yet), `maxMessages` (default 256;
/// accepted and without effect: messages are written straight to the socket, so no queue of them forms).
public struct WebSocketOutboundQueueConfig: Codable, Sendable, Equatable {
    public var maxMessages: Int
    public var maxBytes: ByteSize

    public init(maxMessages: Int = 256, maxBytes: ByteSize = .init(bytes: 1 << 20)) {
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
    }

    enum CodingKeys: String, CodingKey { case maxMessages, maxBytes }

    public init(from decoder: any Decoder) throws {
        let d = WebSocketOutboundQueueConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxMessages = try c.value(.maxMessages, or: d.maxMessages)
        maxBytes = try c.value(.maxBytes, or: d.maxBytes)
    }
}
