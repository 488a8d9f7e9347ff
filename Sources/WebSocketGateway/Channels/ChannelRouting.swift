// Channel operations as the rest of the gateway calls them, on one replica (the hub alone) or on
// replicas sharing a Redis bus (`RedisChannels`, which delivers through the hub).
import GatewayCore

extension WebSocketRuntime {
    /// Channels shared through Redis, when this gateway has a bus.
    var sharedChannels: RedisChannels? { bus.map { RedisChannels(bus: $0, hub: channels) } }

    /// Subscribes `connection` to `name` (recovering from `since`); the `subscribed` answer is queued for the
    /// client ahead of every later publication.
    func subscribe(
        _ connection: ClientConnection, to name: String, policy: WebSocketChannelConfig, since: ChannelHub.Position?,
        correlationID: String?
    ) async throws(GatewayError) -> ChannelHub.Subscription {
        let reply = { (subscription: ChannelHub.Subscription) -> OutboundMessage? in
            ChannelMessages.subscribed(subscription, channel: name, correlationID: correlationID)
        }
        let subscription: ChannelHub.Subscription
        if let shared = sharedChannels {
            subscription = try await shared.subscribe(connection, to: name, policy: policy, since: since, reply: reply)
        } else {
            subscription = channels.subscribe(connection, to: name, policy: policy, since: since, reply: reply)
        }
        switch subscription.recovery {
        case .none: break
        case .recovered: metrics.recovery(succeeded: true)
        case .impossible: metrics.recovery(succeeded: false)
        }
        return subscription
    }

    /// Publishes `data` (JSON text) on `name` to its subscribers on every replica.
    func publish(_ data: String, to name: String, policy: WebSocketChannelConfig) async throws(GatewayError)
        -> ChannelHub.Position
    {
        if let shared = sharedChannels { return try await shared.publish(data, to: name, policy: policy) }
        return channels.publish(data, to: name, policy: policy)
    }

    /// Takes `connection` out of `name`; false when it was not subscribed.
    func unsubscribe(_ connection: ClientConnection, from name: String) async -> Bool {
        guard channels.unsubscribe(connection.id, from: name) else { return false }
        if let shared = sharedChannels, config.channelPolicy(for: name)?.presence == true {
            await shared.leave(ChannelHub.Member(connection: connection), channel: name)
        }
        return true
    }

    /// Takes a connection that has gone out of all its channels.
    func leaveAllChannels(_ connection: ClientConnection) async {
        let names = channels.removeConnection(connection.id)
        guard let shared = sharedChannels else { return }
        for name in names where config.channelPolicy(for: name)?.presence == true {
            await shared.leave(ChannelHub.Member(connection: connection), channel: name)
        }
    }

    /// The subscribers of `name` on every replica.
    func members(of name: String) async throws(GatewayError) -> [ChannelHub.Member] {
        if let shared = sharedChannels { return try await shared.members(of: name) }
        return channels.members(of: name)
    }
}
