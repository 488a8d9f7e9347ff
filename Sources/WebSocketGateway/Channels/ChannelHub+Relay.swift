// The hub's side of channels shared by replicas through a bus: this replica's subscribers get the
// publications and presence events relayed from Redis. A subscription is set up in two steps around
// the Redis call that reads the channel's position and history: from `beginSubscription` on, what
// arrives for the subscriber is kept back; `completeSubscription` sends the answer (with recovered
// publications), then what was kept back minus what the answer already covered. So the subscriber
// sees every publication once, in offset order, whichever of Redis's answer and its pub/sub message
// comes first.
//
// When the bus's subscriber connection drops, publications made until it is back never reach this
// replica through pub/sub. From the drop on, relayed messages are kept back per channel (`holdRelays`);
// once the subscriber is back, each channel's history is relayed, then what was kept back for it, and
// the channel is live again (`catchUp`; what a subscriber already has is dropped by offset). Channels
// whose history could not be read stay held until `releaseRelays`. So subscribers get the missed
// publications in order, as far as the history reaches. Presence events of the gap are not replayed.
import GatewayCore

extension ChannelHub.Relayed {
    var message: OutboundMessage {
        switch self {
        case .publication(_, _, let message), .event(let message): message
        }
    }
}

extension ChannelHub {
    /// At most this many messages are kept back for one subscription being set up; beyond that the
    /// connection is a slow consumer (Redis answers in well under a millisecond on a healthy bus).
    static let maxPending = 4096

    /// Adds `connection` to `name` (idempotent) and keeps back what arrives for it until
    /// `completeSubscription`. True when it was not subscribed before.
    @discardableResult
    func beginSubscription(_ connection: ClientConnection, to name: String, policy: WebSocketChannelConfig) -> Bool {
        state.withLock { state in
            var channel = state.channels.removeValue(forKey: name) ?? Channel(epoch: "", policy: policy)
            let isNew = channel.members[connection.id] == nil
            var member = channel.members[connection.id] ?? LocalMember(connection: connection, pending: nil)
            if member.pending == nil { member.pending = [] }
            channel.members[connection.id] = member
            state.byConnection[connection.id, default: []].insert(name)
            state.channels[name] = channel
            return isNew
        }
    }

    /// Sends `reply`, then what was kept back for the subscriber except the publications of `epoch` up to
    /// `offset` (the position it subscribed at, which the reply covers), and delivers live from then on.
    func completeSubscription(
        _ connectionID: String, to name: String, reply: OutboundMessage?, epoch: String, upTo offset: UInt64
    ) {
        state.withLock { state in
            guard let member = state.channels[name]?.members[connectionID] else { return }
            if let reply { _ = member.connection.send(reply) }
            var delivered = (epoch: epoch, offset: offset)
            for item in member.pending ?? [] {
                if case .publication(let itemOffset, let itemEpoch, _) = item {
                    if itemEpoch == delivered.epoch && itemOffset <= delivered.offset { continue }
                    delivered = (itemEpoch, itemOffset)
                }
                _ = member.connection.send(item.message)
            }
            state.channels[name]?.members[connectionID]?.pending = nil
            state.channels[name]?.members[connectionID]?.delivered = delivered
        }
    }

    /// The channels with subscribers on this replica.
    func channelNames() -> [String] {
        state.withLock { state in state.channels.compactMap { $0.value.members.isEmpty ? nil : $0.key } }
    }

    /// At most this many relayed messages are kept back while the bus catches up; past it, they are
    /// delivered at once (the catch-up then only fills what history still adds).
    static let maxHeld = 100_000

    /// Keeps back what the bus relays from now on, for every channel, until its `catchUp` or
    /// `releaseRelays`: the bus's subscriber has dropped `drops` times (it dropped again when a catch-up
    /// was under way, too). Called when the drop is reported, and by the first relay that sees the new
    /// count, whichever comes first (the report can wait behind a catch-up).
    func holdRelays(for drops: Int) {
        state.withLock { state in Self.hold(for: drops, in: &state) }
    }

    private static func hold(for drops: Int, in state: inout State) {
        // Only forward: a message of the old connection handled late carries an older count.
        guard drops > state.heldFor else { return }
        state.heldFor = drops
        if state.hold == nil {
            state.hold = Hold()
            state.holdOverflowed = false
        } else {
            state.hold?.released = []
        }
    }

    /// Relays `publications` of `name` (its history, oldest first) to the subscribers that miss them, then
    /// what was kept back for `name`, and delivers its relays live from then on, unless the bus's
    /// subscriber has dropped again since the `drops`-th drop this catch-up is for.
    func catchUp(
        _ name: String, epoch: String, publications: [(offset: UInt64, message: OutboundMessage)], drops: Int
    ) {
        state.withLock { state in
            for publication in publications {
                Self.relay(
                    .publication(offset: publication.offset, epoch: epoch, message: publication.message), to: name,
                    except: nil, in: &state)
            }
            guard state.hold != nil, state.heldFor == drops else { return }
            if let held = state.hold?.byChannel.removeValue(forKey: name) {
                state.hold?.count -= held.count
                for entry in held {
                    // A publication of an epoch the channel no longer has (handled late from before the
                    // drop) would make subscribers switch epochs back and forth.
                    if case .publication(_, let itemEpoch, _) = entry.item, !epoch.isEmpty, itemEpoch != epoch {
                        continue
                    }
                    Self.relay(entry.item, to: name, except: entry.except, in: &state)
                }
            }
            state.hold?.released.insert(name)
        }
    }

    /// Delivers what is still kept back (channels that did not catch up), and relays live again; nil (and
    /// everything held again) when the bus's subscriber has dropped again since the `drops`-th drop:
    /// `current` is its drop count now. True when the hold overflowed `maxHeld` meanwhile, so some
    /// channels were let go before their catch-up.
    @discardableResult
    func releaseRelays(for drops: Int, current: Int) -> Bool? {
        state.withLock { state in
            Self.hold(for: current, in: &state)
            guard state.heldFor == drops else { return nil }
            Self.releaseHeld(in: &state)
            return state.holdOverflowed
        }
    }

    /// Ends the hold and relays what it kept, each channel's in order.
    private static func releaseHeld(in state: inout State) {
        guard let hold = state.hold else { return }
        state.hold = nil
        for (name, held) in hold.byChannel {
            for entry in held { relay(entry.item, to: name, except: entry.except, in: &state) }
        }
    }

    /// A publication or presence event from the bus, for this replica's subscribers of `name` other than
    /// `exceptID` (the subject of a join or leave event does not get its own event). `drops`: how many
    /// times the bus's subscriber has dropped so far (a new count holds relays, as `holdRelays` does).
    func relay(_ item: Relayed, to name: String, except exceptID: String? = nil, drops: Int) {
        state.withLock { state in
            Self.hold(for: drops, in: &state)
            // Read through `state.hold?`: a local copy of the hold would make the append below copy it.
            if state.hold?.released.contains(name) == false, state.channels[name] != nil {
                if let count = state.hold?.count, count < Self.maxHeld {
                    // Appended in place (a local copy of the list would make each append copy it).
                    state.hold?.byChannel[name, default: []].append((item, exceptID))
                    state.hold?.count += 1
                    return
                }
                state.holdOverflowed = true
                Self.releaseHeld(in: &state)
            }
            Self.relay(item, to: name, except: exceptID, in: &state)
        }
    }

    private static func relay(_ item: Relayed, to name: String, except exceptID: String?, in state: inout State) {
        // Taken out while changed, so changing its members does not copy them.
        guard var channel = state.channels.removeValue(forKey: name) else { return }
        var overflowing: [ClientConnection] = []
        var batch: OutboundBatch? = OutboundBatch()
        var index = channel.members.values.startIndex
        while index != channel.members.values.endIndex {
            defer { index = channel.members.values.index(after: index) }
            // Fields read one by one: a copy of the member would make appending copy its pending list.
            let connection = channel.members.values[index].connection
            if connection.id == exceptID { continue }
            if let held = channel.members.values[index].pending?.count {
                if held >= Self.maxPending {
                    overflowing.append(connection)
                } else {
                    channel.members.values[index].pending?.append(item)
                }
                continue
            }
            if case .publication(let offset, let epoch, _) = item {
                if let last = channel.members.values[index].delivered, last.epoch == epoch, offset <= last.offset {
                    continue
                }
                channel.members.values[index].delivered = (epoch, offset)
            }
            _ = connection.send(item.message, batch: &batch)
        }
        batch?.submit()
        state.channels[name] = channel
        for connection in overflowing {
            connection.close(code: 1008, reason: "slow consumer", drain: false)
        }
    }
}
