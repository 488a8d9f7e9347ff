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

    @Test func offsetsEpochsAndRecovery() async {
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

    @Test func presenceJoinAndLeave() async {
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
