// The catch-up after the bus's subscriber connection dropped (ChannelHub+Relay.swift has the hub's
// side). While the subscriber is away, relays are kept back; once it is back, every channel with
// subscribers on this replica is caught up from its history in Redis, then gets what was kept back for
// it and is live again. The histories are read concurrently (Redis pipelines them on the one command
// connection), a bounded number at a time, each round bounded in time; channels whose read failed stay
// held and are read again after a short wait, a few times, before what they kept back is let go, so a
// Redis hiccup during the catch-up does not turn into publications missed silently.
import GatewayCore
import Logging
import PorticoRedis

extension RedisChannels {
    static let catchUpScript = """
        return {redis.call('HGET', KEYS[1], 'epoch') or '', redis.call('LRANGE', KEYS[2], 0, -1)}
        """

    /// History reads in flight at once during a catch-up.
    static let catchUpConcurrency = 32
    /// Waits before the reads of channels that failed are tried again (one attempt per entry).
    static let catchUpRetryDelays: [Duration] = [.milliseconds(100), .milliseconds(500), .seconds(2)]
    /// The longest one round of reads may take before its connection is closed (see `catchUp(_:drops:)`).
    static let catchUpRoundTimeout: Duration = .seconds(10)

    /// The bus's subscriber connection dropped, or is back. While it is away, relays are kept back; once
    /// it is back, every channel with subscribers here is caught up from its history and goes live again;
    /// what is still kept back (channels whose history could not be read) is delivered at the end.
    func subscriberEvent(_ event: RedisSubscriberEvent, logger: Logger) async {
        switch event {
        case .disconnected:
            hub.holdRelays(for: bus.subscriberDisconnections)
        case .reconnected:
            let drops = bus.subscriberDisconnections
            // A relay may have seen the new count first; if not, the hold starts here.
            hub.holdRelays(for: drops)
            var pending = hub.channelNames()
            let channels = pending.count
            var relayed = 0
            for delay in [Duration.zero] + Self.catchUpRetryDelays where !pending.isEmpty {
                if delay > .zero {
                    logger.notice(
                        "catch-up: the history of some channels could not be read; trying again",
                        metadata: ["failed": "\(pending.joined(separator: ","))"])
                    try? await Task.sleep(for: delay)
                    // Channels left since the failed read need nothing.
                    let subscribed = Set(hub.channelNames())
                    pending = pending.filter(subscribed.contains)
                }
                // Dropped again meanwhile: the next catch-up covers this one's channels too.
                guard bus.subscriberDisconnections == drops else { break }
                let round = await catchUp(pending, drops: drops)
                relayed += round.relayed
                pending = round.failed
            }
            guard let overflowed = hub.releaseRelays(for: drops, current: bus.subscriberDisconnections) else {
                logger.notice("the bus's subscriber dropped again during the catch-up; holding on")
                return
            }
            if !pending.isEmpty {
                // Their subscribers see a gap in the offsets, and learn with `since` what can be recovered.
                logger.warning(
                    "channels not caught up after the bus's subscriber reconnected: their history could not be read",
                    metadata: [
                        "channels": "\(channels)", "historyEntries": "\(relayed)",
                        "failed": "\(pending.joined(separator: ","))",
                    ])
            } else if overflowed {
                // What was kept back was let go before the catch-up: subscribers may have skipped what it brought.
                logger.warning(
                    "channels caught up from history after the bus's subscriber reconnected, but more than \(ChannelHub.maxHeld) relayed messages were kept back meanwhile and were delivered first: subscribers may see gaps in the offsets",
                    metadata: ["channels": "\(channels)", "historyEntries": "\(relayed)"])
            } else {
                logger.notice(
                    "channels caught up from history after the bus's subscriber reconnected",
                    metadata: ["channels": "\(channels)", "historyEntries": "\(relayed)"])
            }
        case .reconnectFailed:
            break
        }
    }

    /// Reads the histories of `names` (at most `catchUpConcurrency` at once) and relays each to the
    /// subscribers that miss part of it. Returns the entries relayed and the channels whose read failed.
    /// A round that takes longer than `catchUpRoundTimeout` (a connection that stopped answering without
    /// closing) closes the command connection, so its reads fail and are tried again on a new one.
    private func catchUp(_ names: [String], drops: Int) async -> (relayed: Int, failed: [String]) {
        // One command connection for the round (made here if Redis went away), not one per read.
        guard let redis = try? await bus.commands() else { return (0, names.sorted()) }
        let watchdog = Task {
            guard (try? await Task.sleep(for: Self.catchUpRoundTimeout)) != nil else { return }
            await redis.close()
        }
        defer { watchdog.cancel() }
        return await withTaskGroup(of: (String, Int?).self) { group in
            var relayed = 0
            var failed: [String] = []
            var next = names.makeIterator()
            for _ in 0..<Self.catchUpConcurrency {
                guard let name = next.next() else { break }
                group.addTask { (name, await catchUp(name, on: redis, drops: drops)) }
            }
            while let (name, count) = await group.next() {
                if let count { relayed += count } else { failed.append(name) }
                if let name = next.next() { group.addTask { (name, await catchUp(name, on: redis, drops: drops)) } }
            }
            return (relayed, failed.sorted())
        }
    }

    /// One channel's catch-up: the number of history entries relayed, or nil when Redis did not answer.
    private func catchUp(_ name: String, on redis: RedisConnection, drops: Int) async -> Int? {
        do {
            let reply = try await redis.evalCached(
                script: Self.catchUpScript, keys: [Self.metaKey(name), Self.historyKey(name)])
            // No epoch: the channel has expired in Redis; nothing to catch up, and it goes live again.
            guard let fields = reply.array, fields.count == 2, let epoch = fields[0].string, !epoch.isEmpty,
                let entries = fields[1].array
            else {
                hub.catchUp(name, epoch: "", publications: [], drops: drops)
                return 0
            }
            let publications = Self.publications(entries, notBefore: 0)
            hub.catchUp(
                name, epoch: epoch,
                publications: publications.map {
                    ($0.offset, ChannelMessages.publication($0, channel: name, epoch: epoch))
                }, drops: drops)
            return publications.count
        } catch {
            return nil
        }
    }
}
