// The catch-up after the bus's subscriber connection dropped (ChannelHub+Relay.swift has the hub's
// side). While the subscriber is away, relays are kept back; once it is back, every channel with
// subscribers on this replica is caught up from its history in Redis, then what was kept back is
// delivered. The histories are read concurrently (Redis pipelines them on the one command
// connection), a bounded number at a time; channels whose read failed are read again after a short
// wait, a few times, before the relays are let go, so a Redis hiccup during the catch-up does not
// turn into publications missed silently.
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

    /// The bus's subscriber connection dropped, or is back. While it is away, relays are kept back; once
    /// it is back, every channel with subscribers here is caught up from its history, then what was kept
    /// back is delivered.
    func subscriberEvent(_ event: RedisSubscriberEvent, logger: Logger) async {
        switch event {
        case .disconnected:
            hub.holdRelays()
        case .reconnected:
            let drops = bus.subscriberDisconnections
            var pending = hub.channelNames()
            let channels = pending.count
            var relayed = 0
            for delay in [Duration.zero] + Self.catchUpRetryDelays {
                if delay > .zero {
                    try? await Task.sleep(for: delay)
                    // Channels left since the failed read need nothing.
                    pending = Array(Set(pending).intersection(hub.channelNames())).sorted()
                }
                // Dropped again meanwhile: what is held now includes that outage's later publications;
                // releasing it would put subscribers past the ones the next catch-up brings.
                guard bus.subscriberDisconnections == drops else {
                    logger.notice("the bus's subscriber dropped again during the catch-up; holding on")
                    return
                }
                let round = await catchUp(pending)
                relayed += round.relayed
                pending = round.failed
                if pending.isEmpty { break }
                logger.notice(
                    "catch-up: the history of some channels could not be read; trying again",
                    metadata: ["failed": "\(pending.joined(separator: ","))"])
            }
            guard bus.subscriberDisconnections == drops else {
                logger.notice("the bus's subscriber dropped again during the catch-up; holding on")
                return
            }
            hub.releaseRelays()
            if pending.isEmpty {
                logger.notice(
                    "channels caught up from history after the bus's subscriber reconnected",
                    metadata: ["channels": "\(channels)", "historyEntries": "\(relayed)"])
            } else {
                // Their subscribers see a gap in the offsets, and learn with `since` what can be recovered.
                logger.warning(
                    "channels not caught up after the bus's subscriber reconnected: their history could not be read",
                    metadata: [
                        "channels": "\(channels)", "historyEntries": "\(relayed)",
                        "failed": "\(pending.joined(separator: ","))",
                    ])
            }
        case .reconnectFailed:
            break
        }
    }

    /// Reads the histories of `names` (at most `catchUpConcurrency` at once) and relays each to the
    /// subscribers that miss part of it. Returns the entries relayed and the channels whose read failed.
    private func catchUp(_ names: [String]) async -> (relayed: Int, failed: [String]) {
        // One command connection for the round (made here if Redis went away), not one per read.
        guard let redis = try? await bus.commands() else { return (0, names.sorted()) }
        return await withTaskGroup(of: (String, Int?).self) { group in
            var relayed = 0
            var failed: [String] = []
            var next = names.makeIterator()
            func collect(_ result: (String, Int?)) {
                if let count = result.1 { relayed += count } else { failed.append(result.0) }
            }
            for _ in 0..<Self.catchUpConcurrency {
                guard let name = next.next() else { break }
                group.addTask { (name, await catchUp(name, on: redis)) }
            }
            while let result = await group.next() {
                collect(result)
                if let name = next.next() { group.addTask { (name, await catchUp(name, on: redis)) } }
            }
            return (relayed, failed.sorted())
        }
    }

    /// One channel's catch-up: the number of history entries relayed, or nil when Redis did not answer.
    private func catchUp(_ name: String, on redis: RedisConnection) async -> Int? {
        do {
            let reply = try await redis.evalCached(
                script: Self.catchUpScript, keys: [Self.metaKey(name), Self.historyKey(name)])
            // No epoch: the channel has expired in Redis (nothing to catch up).
            guard let fields = reply.array, fields.count == 2, let epoch = fields[0].string, !epoch.isEmpty,
                let entries = fields[1].array
            else { return 0 }
            let publications = Self.publications(entries, notBefore: 0)
            hub.catchUp(
                name, epoch: epoch,
                publications: publications.map {
                    ($0.offset, ChannelMessages.publication($0, channel: name, epoch: epoch))
                })
            return publications.count
        } catch {
            return nil
        }
    }
}
