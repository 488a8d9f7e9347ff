// `gateways.websocket.channels`: named channels clients subscribe to and services (or permitted
// clients) publish to, keyed by a channel name or a prefix pattern ending in `*`.

/// One channel namespace. Keys: `subscribe` (`client`: clients may subscribe themselves, the default;
/// `backend`: only services subscribe connections, through the management API), `publish` (`backend`,
/// the default: only services publish; `client`: subscribed clients may publish too), `scopes` (identity
/// scopes a client needs to subscribe or publish itself; default none), `presence` (members can be
/// listed and join/leave events are sent to subscribers; default false), `historySize` (publications
/// kept for recovery; default 0: none), `historyTTL` (how long they are kept; default 10m).
public struct WebSocketChannelConfig: Codable, Sendable, Equatable {
    public enum Party: String, Codable, Sendable {
        case client
        case backend
    }

    public var subscribe: Party
    public var publish: Party
    public var scopes: [String]
    public var presence: Bool
    public var historySize: Int
    public var historyTTL: ConfigDuration

    public init(
        subscribe: Party = .client, publish: Party = .backend, scopes: [String] = [], presence: Bool = false,
        historySize: Int = 0, historyTTL: ConfigDuration = .seconds(600)
    ) {
        self.subscribe = subscribe
        self.publish = publish
        self.scopes = scopes
        self.presence = presence
        self.historySize = historySize
        self.historyTTL = historyTTL
    }

    enum CodingKeys: String, CodingKey { case subscribe, publish, scopes, presence, historySize, historyTTL }

    public init(from decoder: any Decoder) throws {
        let d = WebSocketChannelConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        subscribe = try c.value(.subscribe, or: d.subscribe)
        publish = try c.value(.publish, or: d.publish)
        scopes = try c.value(.scopes, or: d.scopes)
        presence = try c.value(.presence, or: d.presence)
        historySize = try c.value(.historySize, or: d.historySize)
        historyTTL = try c.value(.historyTTL, or: d.historyTTL)
    }
}

extension WebSocketGatewayConfig {
    /// The policy of channel `name`: its exact entry, else the longest `prefix*` entry it starts with.
    public func channelPolicy(for name: String) -> WebSocketChannelConfig? {
        if let exact = channels[name] { return exact }
        var best: (length: Int, config: WebSocketChannelConfig)?
        for (pattern, config) in channels where pattern.hasSuffix("*") {
            let prefix = pattern.dropLast()
            if name.hasPrefix(prefix), prefix.count >= (best?.length ?? -1) { best = (prefix.count, config) }
        }
        return best?.config
    }

    /// Channel names: 1–200 characters from letters, digits and `:_-.@` (a name is one URL path segment).
    public static func isChannelName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 200
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || ":_-.@".utf8.contains(byte)
            }
    }
}
