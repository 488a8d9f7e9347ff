// Channels on this replica: who is subscribed to what, each channel's publications with their offset
// and the channel's epoch, history for recovery, and presence. A publication gets the next offset of
// its channel and is queued for every subscriber under the hub's lock, so each subscriber sees a
// channel's publications in offset order, and a subscriber recovering from an offset gets the missed
// ones and then the live ones with no gap. The epoch is new whenever a channel's history starts over
// (here: when the channel is created on this replica); offsets from another epoch cannot be recovered.
// With a Redis bus the hub only holds this replica's subscribers: offsets, history, epochs and presence
// live in Redis (`RedisChannels`), and publications arrive through `relay` (ChannelHub+Relay.swift).
import Foundation
import GatewayCore
import Synchronization

final class ChannelHub: Sendable {
    struct Publication: Sendable, Equatable {
        let offset: UInt64
        /// The publication's data as JSON text.
        let data: String
        let at: ContinuousClock.Instant

        static func == (a: Publication, b: Publication) -> Bool { a.offset == b.offset && a.data == b.data }
    }

    /// A subscriber as presence lists show it (it may be held by another replica).
    struct Member: Sendable, Equatable {
        let connectionID: String
        let subject: String?

        init(connectionID: String, subject: String?) {
            self.connectionID = connectionID
            self.subject = subject
        }

        init(connection: ClientConnection) {
            self.init(connectionID: connection.id, subject: connection.accepted.identity?.subject)
        }
    }

    /// A subscriber on this replica. While its subscription is being set up in Redis, what arrives for
    /// it waits in `pending` (publications with their offset and epoch, or other messages).
    struct LocalMember {
        let connection: ClientConnection
        var pending: [Relayed]?
        /// With a bus: the last publication this subscriber has (epoch and offset), so one that arrives
        /// again is dropped. Redis answers the subscription on one connection and publishes on another,
        /// so a publication the answer already covered can still arrive after it.
        var delivered: (epoch: String, offset: UInt64)?
        var connectionID: String { connection.id }
        var member: Member { Member(connection: connection) }
    }

    /// A message relayed from the bus to this replica's subscribers.
    enum Relayed: Sendable {
        case publication(offset: UInt64, epoch: String, message: OutboundMessage)
        case event(OutboundMessage)
    }

    /// Where a client wants to resume: the last offset it saw, in that epoch.
    struct Position: Sendable, Equatable {
        var offset: UInt64
        var epoch: String
    }

    enum Recovery: Sendable, Equatable {
        /// The client did not ask to recover.
        case none
        /// These publications were missed and are delivered with the subscription (maybe none).
        case recovered([Publication])
        /// The position is from another epoch or older than the history kept.
        case impossible
    }

    struct Subscription: Sendable, Equatable {
        /// The channel's current position (the last offset published, 0 before any).
        var position: Position
        var recovery: Recovery
    }

    struct Channel {
        let epoch: String
        let policy: WebSocketChannelConfig
        var members: [String: LocalMember] = [:]
        var history: [Publication] = []
        var lastOffset: UInt64 = 0

        mutating func dropExpired(now: ContinuousClock.Instant) {
            let ttl = policy.historyTTL.duration
            if let expired = history.firstIndex(where: { now - $0.at <= ttl }) {
                if expired > 0 { history.removeFirst(expired) }
            } else {
                history.removeAll()
            }
        }
    }

    struct State {
        var channels: [String: Channel] = [:]
        /// The channels each connection is subscribed to (for its disconnect).
        var byConnection: [String: Set<String>] = [:]
        /// While the bus's subscriber is away and until each channel has caught up from history: what
        /// the bus relays, kept back per channel in arrival order (ChannelHub+Relay.swift).
        var hold: Hold?
        /// The hold passed `maxHeld` since `holdRelays` and was let go before every channel caught up.
        var holdOverflowed = false
        /// The bus's subscriber drop count the last hold was made for.
        var heldFor = 0
    }

    /// Relayed messages kept back while the bus catches up.
    struct Hold {
        var byChannel: [String: [(item: Relayed, except: String?)]] = [:]
        var count = 0
        /// Channels that have caught up: what the bus relays for them is delivered again.
        var released: Set<String> = []
    }

    let state = Mutex(State())
    /// Whether another component (Redis) keeps offsets, history and presence: the hub then only delivers.
    let relayed: Bool

    init(relayed: Bool = false) { self.relayed = relayed }

    /// Subscribes `connection` (idempotent), computes its recovery from `since`, then queues
    /// `reply(subscription)` for it and a join event for the others (when the channel has presence),
    /// all before any later publication.
    func subscribe(
        _ connection: ClientConnection, to name: String, policy: WebSocketChannelConfig, since: Position?,
        now: ContinuousClock.Instant = .now, reply: (Subscription) -> OutboundMessage?
    ) -> Subscription {
        state.withLock { state in
            // Taken out while changed: a copy left in the dictionary would make every change copy the
            // members (O(n) per subscribe, O(n²) for a crowd).
            var channel = state.channels.removeValue(forKey: name) ?? Channel(epoch: Self.newEpoch(), policy: policy)
            channel.dropExpired(now: now)
            let position = Position(offset: channel.lastOffset, epoch: channel.epoch)
            let recovery = Self.recovery(since: since, position: position, history: channel.history)
            let subscription = Subscription(position: position, recovery: recovery)
            let isNew = channel.members[connection.id] == nil
            channel.members[connection.id] = LocalMember(connection: connection, pending: nil)
            state.byConnection[connection.id, default: []].insert(name)
            if let message = reply(subscription) { _ = connection.send(message) }
            if isNew && channel.policy.presence {
                let event = ChannelMessages.presenceEvent(.join, channel: name, member: Member(connection: connection))
                for member in channel.members.values where member.connectionID != connection.id {
                    _ = member.connection.send(event)
                }
            }
            state.channels[name] = channel
            return subscription
        }
    }

    /// What a client resuming from `since` gets, given the channel's `position` and the `history` kept.
    static func recovery(since: Position?, position: Position, history: [Publication]) -> Recovery {
        guard let since else { return .none }
        if since.epoch != position.epoch || since.offset > position.offset { return .impossible }
        if since.offset == position.offset { return .recovered([]) }
        if let first = history.first, first.offset <= since.offset + 1 {
            return .recovered(history.filter { $0.offset > since.offset })
        }
        return .impossible
    }

    /// Removes `connectionID` from `name`; false when it was not subscribed.
    @discardableResult
    func unsubscribe(_ connectionID: String, from name: String) -> Bool {
        state.withLock { state in
            state.byConnection[connectionID]?.remove(name)
            if state.byConnection[connectionID]?.isEmpty == true { state.byConnection[connectionID] = nil }
            return Self.leave(&state, connectionID: connectionID, channel: name, relayed: relayed)
        }
    }

    /// Removes a connection that has gone from all its channels; returns those channels.
    @discardableResult
    func removeConnection(_ connectionID: String) -> [String] {
        state.withLock { state in
            let names = state.byConnection.removeValue(forKey: connectionID) ?? []
            for name in names { Self.leave(&state, connectionID: connectionID, channel: name, relayed: relayed) }
            return names.sorted()
        }
    }

    /// Publishes `data` (JSON text) on `name`: the next offset, kept in the history when the channel
    /// keeps one, queued for every subscriber. Returns the publication's position.
    func publish(
        _ data: String, to name: String, policy: WebSocketChannelConfig, now: ContinuousClock.Instant = .now
    ) -> Position {
        state.withLock { state in
            var channel = state.channels.removeValue(forKey: name) ?? Channel(epoch: Self.newEpoch(), policy: policy)
            channel.lastOffset += 1
            let publication = Publication(offset: channel.lastOffset, data: data, at: now)
            if channel.policy.historySize > 0 {
                channel.dropExpired(now: now)
                channel.history.append(publication)
                if channel.history.count > channel.policy.historySize { channel.history.removeFirst() }
            }
            let message = ChannelMessages.publication(publication, channel: name, epoch: channel.epoch)
            // Submitted under the lock, so a channel's publications reach each loop in offset order.
            var batch: OutboundBatch? = OutboundBatch()
            for member in channel.members.values { _ = member.connection.send(message, batch: &batch) }
            batch?.submit()
            let position = Position(offset: channel.lastOffset, epoch: channel.epoch)
            // A channel that keeps nothing and has no subscriber is forgotten; its next publication
            // starts a new epoch (nobody could have recovered from this one anyway).
            if channel.members.isEmpty && channel.history.isEmpty {
                state.channels[name] = nil
            } else {
                state.channels[name] = channel
            }
            return position
        }
    }

    /// The subscribers of `name` on this replica (empty when the channel has none).
    func members(of name: String) -> [Member] {
        state.withLock { state in
            (state.channels[name]?.members.values.map(\.member) ?? []).sorted { $0.connectionID < $1.connectionID }
        }
    }

    /// The channels `connectionID` is subscribed to.
    func channels(of connectionID: String) -> [String] {
        state.withLock { ($0.byConnection[connectionID] ?? []).sorted() }
    }

    @discardableResult
    private static func leave(_ state: inout State, connectionID: String, channel name: String, relayed: Bool) -> Bool {
        guard var channel = state.channels.removeValue(forKey: name) else { return false }
        guard let member = channel.members.removeValue(forKey: connectionID) else {
            state.channels[name] = channel
            return false
        }
        // With a bus, leave events come back through it to every replica's subscribers.
        if channel.policy.presence && !relayed {
            let event = ChannelMessages.presenceEvent(.leave, channel: name, member: member.member)
            for other in channel.members.values { _ = other.connection.send(event) }
        }
        state.channels[name] = channel.members.isEmpty && channel.history.isEmpty ? nil : channel
        return true
    }

    /// 8 random bytes in hex: unlikely to repeat across restarts of a channel.
    static func newEpoch() -> String {
        var random = SystemRandomNumberGenerator()
        let value = random.next() as UInt64
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
