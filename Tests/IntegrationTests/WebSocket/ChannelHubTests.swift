// Unit tests of the channel hub: offsets and epochs, recovery from a position (recovered, nothing
// missed, impossible by epoch, by history size and by age), presence events, and policy look-up.
import Foundation
import GatewayCore
import Testing

@testable import WebSocketGateway

@Suite("WebSocket channel hub")
struct ChannelHubTests {
    static let policy = WebSocketChannelConfig(
        publish: .client, presence: true, historySize: 3, historyTTL: .seconds(60))

    static func connection(_ id: String) -> ClientConnection { WebSocketLogicTests.connection(id) }

    /// The messages written to `connection` so far.
    static func drain(_ connection: ClientConnection) -> [String] { WebSocketLogicTests.written(connection) }

    /// After a bus outage each channel gets its history, then what was kept back for it, and is live
    /// again; a channel not caught up yet stays held until the release; a new drop holds everything again.
    @Test func aHoldIsReleasedChannelByChannel() {
        let hub = ChannelHub(relayed: true)
        let alice = Self.connection("a")
        let bob = Self.connection("b")
        for (connection, name) in [(alice, "room:1"), (bob, "room:2")] {
            hub.beginSubscription(connection, to: name, policy: Self.policy)
            hub.completeSubscription(connection.id, to: name, reply: nil, epoch: "e", upTo: 1)
        }
        func publication(_ name: String, _ offset: UInt64) -> ChannelHub.Relayed {
            .publication(offset: offset, epoch: "e", message: .text("\(name)#\(offset)"))
        }
        hub.relay(publication("room:1", 2), to: "room:1", drops: 0)
        #expect(Self.drain(alice) == ["room:1#2"])

        // The bus's subscriber drops (first seen by a relay), publications 3–4 are missed, 5 is kept back.
        hub.relay(publication("room:1", 5), to: "room:1", drops: 1)
        hub.relay(publication("room:2", 5), to: "room:2", drops: 1)
        hub.holdRelays(for: 1)  // the drop's report, later: changes nothing
        #expect(Self.drain(alice).isEmpty && Self.drain(bob).isEmpty)

        // room:1 catches up: its history (what alice has is skipped; read before 5 was published), what
        // was kept back, then live.
        hub.catchUp(
            "room:1", epoch: "e", publications: (1...4).map { ($0, .text("room:1#\($0)")) }, drops: 1)
        #expect(Self.drain(alice) == ["room:1#3", "room:1#4", "room:1#5"])
        hub.relay(publication("room:1", 6), to: "room:1", drops: 1)
        #expect(Self.drain(alice) == ["room:1#6"])
        // room:2's read has not succeeded: still held.
        hub.relay(publication("room:2", 6), to: "room:2", drops: 1)
        #expect(Self.drain(bob).isEmpty)

        // A second drop before the release, that no relay has seen yet: the first catch-up's release
        // releases nothing and holds room:1 again; a relay of the old connection handled late does not
        // undo that.
        #expect(hub.releaseRelays(for: 1, current: 2) == nil)
        hub.relay(publication("room:1", 8), to: "room:1", drops: 1)
        hub.relay(publication("room:1", 9), to: "room:1", drops: 2)
        #expect(Self.drain(alice).isEmpty && Self.drain(bob).isEmpty)
        hub.catchUp("room:1", epoch: "e", publications: (6...7).map { ($0, .text("room:1#\($0)")) }, drops: 2)
        #expect(Self.drain(alice) == ["room:1#7", "room:1#8", "room:1#9"])
        #expect(hub.releaseRelays(for: 2, current: 2) == false)
        #expect(Self.drain(bob) == ["room:2#5", "room:2#6"])
        hub.relay(publication("room:2", 7), to: "room:2", drops: 2)
        #expect(Self.drain(bob) == ["room:2#7"])
    }

    @Test func offsetsEpochsAndRecovery() {
        let hub = ChannelHub()
        let first = Self.connection("a")
        let subscribed = hub.subscribe(first, to: "room:1", policy: Self.policy, since: nil) { _ in nil }
        #expect(subscribed.position.offset == 0)
        #expect(subscribed.recovery == .none)
        let epoch = subscribed.position.epoch
        for index in 1...5 {
            let position = hub.publish("{\"n\":\(index)}", to: "room:1", policy: Self.policy)
            #expect(position == .init(offset: UInt64(index), epoch: epoch))
        }
        let received = Self.drain(first)
        #expect(received.count == 5)
        #expect(
            received.last == #"{"type":"publication","channel":"room:1","offset":5,"epoch":"\#(epoch)","data":{"n":5}}"#
        )

        func recover(_ since: ChannelHub.Position) -> ChannelHub.Recovery {
            hub.subscribe(
                Self.connection("r\(since.offset)\(since.epoch)"), to: "room:1", policy: Self.policy, since: since
            ) {
                _ in nil
            }.recovery
        }
        // History keeps 3, 4 and 5.
        #expect(recover(.init(offset: 3, epoch: epoch)).publications?.map(\.offset) == [4, 5])
        #expect(recover(.init(offset: 2, epoch: epoch)).publications?.map(\.offset) == [3, 4, 5])
        #expect(recover(.init(offset: 5, epoch: epoch)).publications == [])
        #expect(recover(.init(offset: 1, epoch: epoch)) == .impossible)
        #expect(recover(.init(offset: 3, epoch: "another")) == .impossible)
        #expect(recover(.init(offset: 9, epoch: epoch)) == .impossible)
    }

    @Test func historyExpires() {
        let hub = ChannelHub()
        let start = ContinuousClock.now
        let position = hub.publish("1", to: "room:2", policy: Self.policy, now: start)
        _ = hub.publish("2", to: "room:2", policy: Self.policy, now: start)
        let late = hub.subscribe(
            Self.connection("a"), to: "room:2", policy: Self.policy,
            since: .init(offset: position.offset, epoch: position.epoch), now: start + .seconds(61)
        ) { _ in nil }
        #expect(late.recovery == .impossible)
    }

    @Test func presenceJoinAndLeave() {
        let hub = ChannelHub()
        let alice = Self.connection("alice")
        let bob = Self.connection("bob")
        _ = hub.subscribe(alice, to: "room:3", policy: Self.policy, since: nil) { _ in nil }
        _ = hub.subscribe(bob, to: "room:3", policy: Self.policy, since: nil) { _ in nil }
        #expect(hub.members(of: "room:3").map(\.connectionID) == ["alice", "bob"])
        #expect(hub.channels(of: "bob") == ["room:3"])
        hub.removeConnection("bob")
        #expect(hub.members(of: "room:3").map(\.connectionID) == ["alice"])
        let seen = Self.drain(alice)
        #expect(
            seen == [
                #"{"type":"join","channel":"room:3","connectionId":"bob","subject":null}"#,
                #"{"type":"leave","channel":"room:3","connectionId":"bob","subject":null}"#,
            ])
    }

    @Test func policiesByNameThenLongestPrefix() {
        var config = WebSocketGatewayConfig()
        config.channels = [
            "room:*": .init(historySize: 1), "room:vip:*": .init(subscribe: .backend), "news": .init(presence: true),
        ]
        #expect(config.channelPolicy(for: "room:1")?.historySize == 1)
        #expect(config.channelPolicy(for: "room:vip:1")?.subscribe == .backend)
        #expect(config.channelPolicy(for: "news")?.presence == true)
        #expect(config.channelPolicy(for: "newsroom") == nil)
        #expect(WebSocketGatewayConfig.isChannelName("room:1_a-b.c@d"))
        #expect(!WebSocketGatewayConfig.isChannelName("room/1"))
        #expect(!WebSocketGatewayConfig.isChannelName(""))
    }
}

extension ChannelHub.Recovery {
    var publications: [ChannelHub.Publication]? {
        if case .recovered(let publications) = self { return publications }
        return nil
    }
}
