// Two websocket-gateway replicas sharing a real redis-server (`bus: redis://…`): the management API of
// one replica pushes to, describes and closes a connection held by the other; channels span both
// (publications, presence with join and leave events, recovery, service subscriptions), and a client
// subscribing while publications stream in from both replicas sees each offset exactly once, in order.
import Foundation
import PorticoRedis
import Testing

@Suite("WebSocket replicas on Redis", .serialized)
struct WebSocketReplicasTests {
    /// Two websocket-gateway replicas on one redis-server (with the channel tests' namespaces when
    /// `channels`), all stopped after `body`, whether it throws or not.
    static func withReplicas(
        channels: Bool,
        _ body: (GatewayProcess, GatewayProcess, TestRedis, DemoServicesProcess) async throws -> Void
    ) async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let demo = try await DemoServicesProcess.start()
        var yaml = WebSocketGatewayTests.websocketKeys("    bus: \(redis.url)\n")(TestConfig.yaml(demo: demo))
        if channels { yaml = WebSocketChannelsTests.channels(yaml) }
        var gateways: [GatewayProcess] = []
        do {
            gateways.append(try await GatewayProcess.start("websocket", configYAML: yaml))
            gateways.append(try await GatewayProcess.start("websocket", configYAML: yaml))
            try await body(gateways[0], gateways[1], redis, demo)
        } catch {
            for gateway in gateways { await gateway.stop() }
            await demo.stop()
            throw error
        }
        for gateway in gateways { await gateway.stop() }
        await demo.stop()
    }

    @Test func theManagementAPIReachesConnectionsOnAnyReplica() async throws {
        try await Self.withReplicas(channels: false) { first, second, _, demo in
            let client = try await TestWebSocketClient.open("ws://127.0.0.1:\(first.port)/ws")
            let id = try #require(try await WebSocketGatewayTests.chatConnections(demo).first)
            let other = second.baseURL

            let pushed = try await WebSocketGatewayTests.http(
                "\(other)/@connections/\(id)", method: .POST, headers: WebSocketGatewayTests.apiKey,
                body: #"{"hello":"from the other replica"}"#)
            #expect(pushed.status == 204)
            #expect(try await client.next()["hello"] as? String == "from the other replica")

            let described = try await WebSocketGatewayTests.http(
                "\(other)/@connections/\(id)", headers: WebSocketGatewayTests.apiKey)
            #expect(described.status == 200)
            #expect(WebSocketGatewayTests.json(described.body)["connectionId"] as? String == id)

            let unknown = try await WebSocketGatewayTests.http(
                "\(other)/@connections/AAAAAAAAAAAAAAAAAAAAAA", headers: WebSocketGatewayTests.apiKey)
            #expect(unknown.status == 410)

            let closed = try await WebSocketGatewayTests.http(
                "\(other)/@connections/\(id)?code=4001&reason=moved", method: .DELETE,
                headers: WebSocketGatewayTests.apiKey
            )
            #expect(closed.status == 204)
            #expect(
                try await WebSocketGatewayTests.eventually {
                    try await WebSocketGatewayTests.chatConnections(demo).isEmpty
                }
            )
            // Gone everywhere once the holding replica has let it go.
            #expect(
                try await WebSocketGatewayTests.eventually {
                    try await WebSocketGatewayTests.http(
                        "\(other)/@connections/\(id)", headers: WebSocketGatewayTests.apiKey
                    )
                    .status == 410
                })
            await client.close()
        }
    }

    /// A replica whose subscriber connection to Redis drops misses the publications made meanwhile on pub/sub;
    /// once it is back, its subscribers get them from the channel's history, in order, each once. With
    /// `failFirstRead`, the channel's first history read fails (its key holds the wrong type when the
    /// replica comes back): the read is tried again, and nothing is missed.
    @Test(arguments: [false, true])
    func aReplicaCatchesUpFromHistoryAfterItsBusConnectionDrops(failFirstRead: Bool) async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let relay = try await TCPRelay(targetPort: redis.port)
        let demo = try await DemoServicesProcess.start()
        let yaml = { (url: String) in
            WebSocketChannelsTests.channels(
                WebSocketGatewayTests.websocketKeys("    bus: \(url)\n")(TestConfig.yaml(demo: demo)))
        }
        var gateways: [GatewayProcess] = []
        defer {
            Task { [gateways] in
                for gateway in gateways { await gateway.stop() }; await demo.stop()
            }
        }
        let first = try await GatewayProcess.start("websocket", configYAML: yaml(redis.url))
        gateways.append(first)
        // The second replica reaches Redis through the relay only.
        let second = try await GatewayProcess.start("websocket", configYAML: yaml("redis://127.0.0.1:\(relay.port)"))
        gateways.append(second)

        let bob = try await TestWebSocketClient.open("ws://127.0.0.1:\(second.port)/ws")
        bob.send(#"{"action":"$subscribe","channel":"room:gap"}"#)
        #expect(try await bob.next()["type"] as? String == "subscribed")
        _ = try await WebSocketChannelsTests.publish(first, "room:gap", #"{"n":1}"#)
        #expect(try await bob.next()["offset"] as? Int == 1)

        // The network between the second replica and Redis fails; two publications while it is down.
        relay.relay(to: nil)
        await relay.dropConnections()
        _ = try await second.process.waitForLine(timeout: .seconds(20)) {
            $0.contains("subscriber connection to Redis dropped")
        }
        for n in 2...3 {
            #expect(try await WebSocketChannelsTests.publish(first, "room:gap", #"{"n":\#(n)}"#)["offset"] as? Int == n)
        }
        let meta = "portico:ws:ch:room:gap"
        let direct = try await RedisConnection.connect(to: RedisURL(redis.url), timeout: .seconds(30))
        if failFirstRead {
            try await direct.send("RENAME", meta, "\(meta):aside")
            try await direct.send("SET", meta, "not a hash")
        }
        relay.relay(to: redis.port)
        if failFirstRead {
            _ = try await second.process.waitForLine(timeout: .seconds(20)) {
                $0.contains("could not be read; trying again") && $0.contains("room:gap")
            }
            // One script, so the key is back before the next try (100 ms after that line).
            try await direct.send(
                "EVAL", "redis.call('DEL', KEYS[1]); return redis.call('RENAME', KEYS[2], KEYS[1])", 2, meta,
                "\(meta):aside")
        }
        await direct.close()
        _ = try await second.process.waitForLine(timeout: .seconds(20)) {
            $0.contains("channels caught up from history")
        }
        _ = try await WebSocketChannelsTests.publish(first, "room:gap", #"{"n":4}"#)

        var seen: [Int] = []
        for _ in 2...4 {
            let message = try await bob.next()
            seen.append(message["offset"] as? Int ?? -1)
            #expect(((message["data"] as? [String: Any])?["n"] as? Int) == message["offset"] as? Int)
        }
        #expect(seen == [2, 3, 4])
    }

    @Test func channelsSpanReplicas() async throws {
        try await Self.withReplicas(channels: true) { first, second, redis, demo in
            let alice = try await TestWebSocketClient.open("ws://127.0.0.1:\(first.port)/ws")
            alice.send(#"{"action":"$subscribe","channel":"room:1"}"#)
            let subscribed = try await alice.next()
            #expect(subscribed["type"] as? String == "subscribed")
            let epoch = try #require(subscribed["epoch"] as? String)

            // Bob is on the other replica: Alice sees him join, and both see one offset sequence.
            let bob = try await TestWebSocketClient.open("ws://127.0.0.1:\(second.port)/ws")
            bob.send(#"{"action":"$subscribe","channel":"room:1"}"#)
            let bobSubscribed = try await bob.next()
            #expect(bobSubscribed["epoch"] as? String == epoch)
            let join = try await alice.next()
            #expect(join["type"] as? String == "join")
            let bobID = try #require(join["connectionId"] as? String)

            let published = try await WebSocketChannelsTests.publish(second, "room:1", #"{"n":1}"#)
            #expect(published["offset"] as? Int == 1)
            #expect(published["epoch"] as? String == epoch)
            #expect(try await alice.next()["offset"] as? Int == 1)
            #expect(try await bob.next()["offset"] as? Int == 1)
            alice.send(#"{"action":"$publish","channel":"room:1","data":{"n":2}}"#)
            #expect(try await bob.next()["offset"] as? Int == 2)
            let aliceSaw = [try await alice.next(), try await alice.next()].compactMap { $0["type"] as? String }
                .sorted()
            #expect(aliceSaw == ["published", "publication"].sorted())

            // Presence lists both, from either replica.
            for gateway in [first, second] {
                let presence = try await WebSocketGatewayTests.http(
                    "\(gateway.baseURL)/channels/room:1/presence", headers: WebSocketGatewayTests.apiKey)
                let members = WebSocketGatewayTests.json(presence.body)["members"] as? [[String: Any]] ?? []
                #expect(members.count == 2, "\(gateway.baseURL): \(presence.body)")
            }

            // Bob leaves; two publications while he is away; he comes back on the first replica and recovers.
            await bob.close()
            let leave = try await alice.next()
            #expect(leave["type"] as? String == "leave")
            #expect(leave["connectionId"] as? String == bobID)
            _ = try await WebSocketChannelsTests.publish(first, "room:1", #"{"n":3}"#)
            _ = try await WebSocketChannelsTests.publish(second, "room:1", #"{"n":4}"#)
            let back = try await TestWebSocketClient.open("ws://127.0.0.1:\(first.port)/ws")
            back.send(#"{"action":"$subscribe","channel":"room:1","since":{"offset":2,"epoch":"\#(epoch)"}}"#)
            let recovered = try await back.next()
            #expect(recovered["recovery"] as? String == "recovered")
            let publications = recovered["publications"] as? [[String: Any]] ?? []
            #expect(publications.map { $0["offset"] as? Int } == [3, 4])

            // A service on one replica subscribes a connection held by the other to a backend-only channel.
            let backID = try await Self.connectionID(of: back)
            let subscribe = try await WebSocketGatewayTests.http(
                "\(second.baseURL)/@connections/\(backID)/channels/vip:7", method: .POST,
                headers: WebSocketGatewayTests.apiKey)
            #expect(subscribe.status == 204)
            #expect(try await back.next()["type"] as? String == "subscribed")
            _ = try await WebSocketChannelsTests.publish(second, "vip:7", #"{"offer":42}"#)
            #expect((try await back.next()["data"] as? [String: Any])?["offer"] as? Int == 42)

            // Redis drops the replicas' command connections: they connect again, and channels keep working.
            let killed = try await RawSocket.exchange(port: redis.port, "CLIENT KILL TYPE normal\r\n")
            #expect(killed.hasPrefix(":"))
            #expect(
                try await WebSocketGatewayTests.eventually {
                    try await WebSocketGatewayTests.http(
                        "\(first.baseURL)/channels/room:1/messages", method: .POST,
                        headers: WebSocketGatewayTests.apiKey,
                        body: #"{"n":5}"#
                    ).status == 200
                })
            #expect(try await back.next()["offset"] as? Int == 5)

            await back.close()
            await alice.close()
        }
    }

    /// The id of `client`'s connection, as the presence of a channel nobody else is in tells it.
    static func connectionID(of client: TestWebSocketClient) async throws -> String {
        client.send(#"{"action":"$subscribe","channel":"room:whoami"}"#)
        _ = try await client.next()
        client.send(#"{"action":"$presence","channel":"room:whoami"}"#)
        let presence = try await client.next()
        client.send(#"{"action":"$unsubscribe","channel":"room:whoami"}"#)
        _ = try await client.next()
        let members = presence["members"] as? [[String: Any]] ?? []
        return try #require(members.first?["connectionId"] as? String)
    }

    @Test func aSubscriberJoiningMidStreamSeesEveryOffsetOnceInOrder() async throws {
        try await Self.withReplicas(channels: true) { first, second, _, demo in
            let total = 99  // Within room:*'s historySize (100), so offset 1 is always recoverable.
            let epoch = try #require(
                try await WebSocketChannelsTests.publish(first, "room:stream", #"{"n":1}"#)["epoch"] as? String)
            // Publications from both replicas, concurrently, while a client on the second subscribes from offset 1.
            let publisher = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for gateway in [first, second] {
                        group.addTask {
                            for n in 0..<(total - 1) / 2 {
                                _ = try await WebSocketChannelsTests.publish(gateway, "room:stream", #"{"n":\#(n)}"#)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await Task.sleep(for: .milliseconds(150))
            let carol = try await TestWebSocketClient.open("ws://127.0.0.1:\(second.port)/ws")
            carol.send(#"{"action":"$subscribe","channel":"room:stream","since":{"offset":1,"epoch":"\#(epoch)"}}"#)
            try await publisher.value
            var offsets: [Int] = []
            let subscribed = try await carol.next()
            #expect(subscribed["recovery"] as? String == "recovered")
            offsets += (subscribed["publications"] as? [[String: Any]] ?? []).compactMap { $0["offset"] as? Int }
            let last = 1 + 2 * ((total - 1) / 2)
            var seen: [String] = ["subscribed at \(subscribed["offset"] ?? "?") recovering \(offsets.count)"]
            while offsets.last ?? (subscribed["offset"] as? Int ?? 0) < last {
                let message = try await carol.next()
                seen.append("\(message["type"] ?? "?") \(message["offset"] ?? "")")
                if message["type"] as? String == "publication", let offset = message["offset"] as? Int {
                    offsets.append(offset)
                }
            }
            #expect(offsets == Array(2...last), "\(seen)")
            await carol.close()
        }
    }
}
