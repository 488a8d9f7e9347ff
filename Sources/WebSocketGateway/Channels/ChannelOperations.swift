// Channel operations sent by clients as messages whose route key (the value the route selection
// expression picks, `action` by default) is `$subscribe`, `$unsubscribe`, `$publish` or `$presence`:
// checked against the channel's policy, answered with a channel message or an error message.
import GatewayCore

extension WebSocketRuntime {
    static let channelOperations: Set<String> = ["$subscribe", "$unsubscribe", "$publish", "$presence"]

    /// Handles the channel operation `key` of `text`, answering on `connection`.
    func handleChannelOperation(
        _ key: String, text: String, correlationID: String?, messageID: String, on connection: ClientConnection
    ) async {
        let reply: OutboundMessage?
        do throws(GatewayError) {
            reply = try await channelOperation(key, text: text, correlationID: correlationID, on: connection)
        } catch {
            reply = ClientMessages.error(error, routeKey: key, messageID: messageID, correlationID: correlationID)
        }
        if let reply { deliver(reply, to: connection, route: key) }
    }

    private func channelOperation(
        _ key: String, text: String, correlationID: String?, on connection: ClientConnection
    ) async throws(GatewayError) -> OutboundMessage? {
        guard let value = JSONValue.parse(text.utf8), let name = value["channel"]?.stringValue else {
            throw GatewayError(.badRequest, "\(key) needs a \"channel\"")
        }
        guard WebSocketGatewayConfig.isChannelName(name) else {
            throw GatewayError(.badRequest, "'\(name)' is not a channel name (letters, digits and :_-.@)")
        }
        guard let policy = config.channelPolicy(for: name) else {
            throw GatewayError(.notFound, "no channel namespace matches '\(name)'")
        }
        let scopes = connection.accepted.identity?.scopes ?? []
        let allowedByScopes = policy.scopes.allSatisfy(scopes.contains)
        switch key {
        case "$subscribe":
            guard policy.subscribe == .client else {
                throw GatewayError(
                    .permissionDenied, "clients cannot subscribe themselves to '\(name)'; services subscribe them")
            }
            guard allowedByScopes else {
                throw GatewayError(.permissionDenied, "subscribing to '\(name)' needs scopes \(policy.scopes)")
            }
            let since = try Self.position(value["since"])
            _ = try await subscribe(connection, to: name, policy: policy, since: since, correlationID: correlationID)
            // The answer was queued by the hub, ahead of any later publication.
            return nil
        case "$unsubscribe":
            _ = await unsubscribe(connection, from: name)
            return ChannelMessages.unsubscribed(channel: name, correlationID: correlationID)
        case "$publish":
            guard policy.publish == .client, allowedByScopes else {
                throw GatewayError(.permissionDenied, "clients cannot publish to '\(name)'")
            }
            guard let data = value["data"] else { throw GatewayError(.badRequest, "$publish needs \"data\"") }
            let position = try await publish(data.jsonText, to: name, policy: policy)
            return ChannelMessages.published(channel: name, position: position, correlationID: correlationID)
        default:  // $presence
            guard policy.presence else { throw GatewayError(.badRequest, "presence is off for '\(name)'") }
            let subscribed = channels.channels(of: connection.id).contains(name)
            guard subscribed || (policy.subscribe == .client && allowedByScopes) else {
                throw GatewayError(.permissionDenied, "the presence of '\(name)' is for its subscribers")
            }
            return ChannelMessages.presence(
                channel: name, members: try await members(of: name), correlationID: correlationID)
        }
    }

    /// `{"offset": N, "epoch": "…"}` from a subscribe message, if it has one.
    static func position(_ value: JSONValue?) throws(GatewayError) -> ChannelHub.Position? {
        guard let value, value != .null else { return nil }
        guard case .number(let literal)? = value["offset"], let offset = UInt64(literal),
            let epoch = value["epoch"]?.stringValue
        else {
            throw GatewayError(.badRequest, "\"since\" must be {\"offset\": <number>, \"epoch\": \"<epoch>\"}")
        }
        return ChannelHub.Position(offset: offset, epoch: epoch)
    }
}
