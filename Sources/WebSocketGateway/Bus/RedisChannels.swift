// Channels shared by replicas through Redis (`gateways.websocket.bus`). Per channel Redis keeps
// `portico:ws:ch:<name>` (a hash: `epoch`, `offset`), `…:history` (a list of "offset\nmillis\ndata",
// newest last, trimmed to `historySize`) and `…:presence` (connection id → "replica\n" + subject).
// Publishing is one Lua script: the next offset, the history entry and a PUBLISH on
// `portico:ws:channels`, atomically, so every replica receives a channel's publications in offset
// order. Subscribing is one script too: the channel's position and, when the client recovers, its
// history; the join event is published from the same script. Presence entries of a replica that
// stopped refreshing its `portico:ws:replica:<id>:alive` key are dropped when presence is read.
// Lua scripts by hand: they are Redis's way of doing several things atomically, no library needed.
import Foundation
import GatewayCore
import Logging
import PorticoRedis

struct RedisChannels: Sendable {
    static let busChannel = "portico:ws:channels"
    /// The channel hash outlives the history by this much, so offsets keep counting on quiet channels.
    static let minimumMetaTTL: Duration = .seconds(600)

    let bus: ReplicaBus
    let hub: ChannelHub

    static func metaKey(_ name: String) -> String { "portico:ws:ch:\(name)" }
    static func historyKey(_ name: String) -> String { "portico:ws:ch:\(name):history" }
    static func presenceKey(_ name: String) -> String { "portico:ws:ch:\(name):presence" }

    static let publishScript = """
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        if not epoch then
          epoch = ARGV[5]
          redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
          redis.call('DEL', KEYS[2])
        end
        local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
        local size = tonumber(ARGV[2])
        if size > 0 then
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          redis.call('RPUSH', KEYS[2], offset .. '\\n' .. now .. '\\n' .. ARGV[1])
          redis.call('LTRIM', KEYS[2], -size, -1)
          redis.call('PEXPIRE', KEYS[2], ARGV[3])
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        redis.call('PUBLISH', ARGV[6], 'P\\n' .. ARGV[7] .. '\\n' .. offset .. '\\n' .. epoch .. '\\n' .. ARGV[1])
        return {offset, epoch}
        """

    static let subscribeScript = """
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        if not epoch then
          epoch = ARGV[1]
          redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
          redis.call('DEL', KEYS[2])
        end
        local offset = redis.call('HGET', KEYS[1], 'offset') or '0'
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        if ARGV[4] ~= '' then
          if redis.call('HSET', KEYS[3], ARGV[3], ARGV[4]) == 1 then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
        end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local history = {}
        if ARGV[7] == '1' then history = redis.call('LRANGE', KEYS[2], 0, -1) end
        return {epoch, offset, now, history}
        """

    static let leaveScript = """
        if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
        return 0
        """

    private func redis() async throws(GatewayError) -> RedisConnection {
        do { return try await bus.commands() } catch { throw Self.unavailable(error) }
    }

    private static func unavailable(_ error: any Error) -> GatewayError {
        GatewayError(.unavailable, "the replica bus (Redis) failed: \(error)")
    }

    private static func millis(_ duration: Duration) -> Int {
        max(1, Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000))
    }

    private static func metaTTL(_ policy: WebSocketChannelConfig) -> Int {
        millis(max(policy.historyTTL.duration, minimumMetaTTL))
    }

    /// Publishes `data` (JSON text) on `name` for subscribers on every replica.
    func publish(_ data: String, to name: String, policy: WebSocketChannelConfig) async throws(GatewayError)
        -> ChannelHub.Position
    {
        let redis = try await redis()
        let reply: RESPValue
        do {
            reply = try await redis.evalCached(
                script: Self.publishScript, keys: [Self.metaKey(name), Self.historyKey(name)],
                args: [
                    data, max(0, policy.historySize), Self.millis(policy.historyTTL.duration), Self.metaTTL(policy),
                    ChannelHub.newEpoch(), Self.busChannel, name,
                ])
        } catch { throw Self.unavailable(error) }
        guard let fields = reply.array, fields.count == 2, let offset = fields[0].int, let epoch = fields[1].string
        else { throw GatewayError(.internalError, "unexpected answer from the publish script: \(reply)") }
        return ChannelHub.Position(offset: UInt64(offset), epoch: epoch)
    }

    /// Subscribes `connection` to `name`, recovering from `since`; `reply` makes the answer queued for the
    /// client ahead of every later publication.
    func subscribe(
        _ connection: ClientConnection, to name: String, policy: WebSocketChannelConfig, since: ChannelHub.Position?,
        reply: (ChannelHub.Subscription) -> OutboundMessage?
    ) async throws(GatewayError) -> ChannelHub.Subscription {
        let redis = try await redis()
        hub.beginSubscription(connection, to: name, policy: policy)
        let member = ChannelHub.Member(connection: connection)
        let answer: RESPValue
        do {
            answer = try await redis.evalCached(
                script: Self.subscribeScript,
                keys: [Self.metaKey(name), Self.historyKey(name), Self.presenceKey(name)],
                args: [
                    ChannelHub.newEpoch(), Self.metaTTL(policy), connection.id,
                    policy.presence ? Self.presenceValue(replica: bus.replicaID, subject: member.subject) : "",
                    Self.busChannel, Self.eventPayload(.join, channel: name, member: member),
                    since == nil ? "0" : "1",
                ])
        } catch {
            hub.unsubscribe(connection.id, from: name)
            throw Self.unavailable(error)
        }
        guard let fields = answer.array, fields.count == 4, let epoch = fields[0].string,
            let offset = fields[1].int, let now = fields[2].int, let entries = fields[3].array
        else {
            hub.unsubscribe(connection.id, from: name)
            throw GatewayError(.internalError, "unexpected answer from the subscribe script: \(answer)")
        }
        let position = ChannelHub.Position(offset: UInt64(offset), epoch: epoch)
        let history = Self.publications(entries, notBefore: now - Self.millis(policy.historyTTL.duration))
        let subscription = ChannelHub.Subscription(
            position: position, recovery: ChannelHub.recovery(since: since, position: position, history: history))
        hub.completeSubscription(
            connection.id, to: name, reply: reply(subscription), epoch: epoch, upTo: UInt64(offset))
        return subscription
    }

    /// History entries ("offset\nmillis\ndata") as publications, leaving out those older than `notBefore`
    /// (Redis time in milliseconds).
    static func publications(_ entries: [RESPValue], notBefore: Int) -> [ChannelHub.Publication] {
        entries.compactMap { entry -> ChannelHub.Publication? in
            guard let text = entry.string else { return nil }
            let parts = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let offset = UInt64(parts[0]), let at = Int(parts[1]), at >= notBefore else {
                return nil
            }
            return ChannelHub.Publication(offset: offset, data: String(parts[2]), at: .now)
        }
    }

    /// Takes `member` out of `name`'s presence, with a leave event for the others.
    func leave(_ member: ChannelHub.Member, channel name: String) async {
        _ = try? await bus.commands().evalCached(
            script: Self.leaveScript, keys: [Self.presenceKey(name)],
            args: [member.connectionID, Self.busChannel, Self.eventPayload(.leave, channel: name, member: member)])
    }

    /// Everyone subscribed to `name` on any live replica.
    func members(of name: String) async throws(GatewayError) -> [ChannelHub.Member] {
        let redis = try await redis()
        do {
            let entries = try await redis.hgetall(Self.presenceKey(name))
            var alive: [String: Bool] = [bus.replicaID: true]
            var members: [ChannelHub.Member] = []
            var stale: [String] = []
            for (connectionID, value) in entries {
                let text = String(buffer: value)
                let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { continue }
                let replica = String(parts[0])
                if alive[replica] == nil { alive[replica] = try await bus.isAlive(replica) }
                guard alive[replica] == true else {
                    stale.append(connectionID)
                    continue
                }
                let subject = parts[1].first == "1" ? String(parts[1].dropFirst()) : nil
                members.append(ChannelHub.Member(connectionID: connectionID, subject: subject))
            }
            if !stale.isEmpty { _ = try await redis.send(["HDEL", Self.presenceKey(name)] + stale) }
            return members.sorted { $0.connectionID < $1.connectionID }
        } catch {
            throw Self.unavailable(error)
        }
    }

    /// Keeps the position of every channel with subscribers here from expiring while it is quiet (the
    /// epoch would start over under them). Runs with the bus's periodic refresh.
    func refresh(policy: (String) -> WebSocketChannelConfig?) async {
        guard let redis = try? await bus.commands() else { return }
        for name in hub.channelNames() {
            guard let policy = policy(name) else { continue }
            _ = try? await redis.send(["PEXPIRE", Self.metaKey(name), Self.metaTTL(policy)])
        }
    }

    /// A message from `portico:ws:channels`, for this replica's subscribers.
    func received(_ payload: String) {
        let parts = payload.split(separator: "\n", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count >= 4 else { return }
        let drops = bus.subscriberDisconnections
        let name = String(parts[1])
        switch parts[0] {
        case "P" where parts.count == 5:
            guard let offset = UInt64(parts[2]) else { return }
            let epoch = String(parts[3])
            let publication = ChannelHub.Publication(offset: offset, data: String(parts[4]), at: .now)
            hub.relay(
                .publication(
                    offset: offset, epoch: epoch,
                    message: ChannelMessages.publication(publication, channel: name, epoch: epoch)),
                to: name, drops: drops)
        case "E":
            // E, channel, the connection the event is about, the event's JSON (which may hold newlines).
            let event = parts.dropFirst(3).joined(separator: "\n")
            hub.relay(.event(.text(event)), to: name, except: String(parts[2]), drops: drops)
        default:
            return
        }
    }

    static func presenceValue(replica: String, subject: String?) -> String {
        replica + "\n" + (subject.map { "1" + $0 } ?? "0")
    }

    /// `E\n<channel>\n<connection id>\n<event JSON>`.
    static func eventPayload(_ kind: ChannelMessages.PresenceEvent, channel: String, member: ChannelHub.Member)
        -> String
    {
        guard case .text(let json) = ChannelMessages.presenceEvent(kind, channel: channel, member: member) else {
            return ""
        }
        return "E\n\(channel)\n\(member.connectionID)\n\(json)"
    }
}
