// RedisConnectionTests.swift — RedisConnection against a real redis-server started by each test.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import PorticoRedis

@Suite("RedisConnection", .timeLimit(.minutes(1)))
struct RedisConnectionTests {
    @Test func commandsRoundTrip() async throws {
        try await withRedisServer { server in
            let redis = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            #expect(try await redis.ping() == "PONG")
            let plainStrings: [String] = ["ECHO", "from [String]"]
            #expect(try await redis.send(plainStrings) == .bulk("from [String]"))
            #expect(try await redis.send([ByteBuffer(string: "ECHO"), ByteBuffer(string: "buf")]) == .bulk("buf"))
            #expect(try await redis.getString("missing") == nil)
            try await redis.set("greeting", to: "hello")
            #expect(try await redis.getString("greeting") == "hello")
            #expect(try await redis.set("greeting", to: "again", onlyIfAbsent: true) == false)

            let binary = [UInt8](0...255)
            try await redis.set("bin", to: binary)
            #expect(try await redis.get("bin").map { Array($0.readableBytesView) } == binary)

            try await redis.set("ttl", to: "x", expiry: .milliseconds(30_000))
            let ttl = try await redis.pttl("ttl")
            #expect(ttl > 0 && ttl <= 30_000)
            try await redis.set("short", to: "x", expiry: .milliseconds(100))
            try await waitUntil(20, "PX expiry") { try await redis.get("short") == nil }
            try await redis.set("long", to: 1)
            #expect(try await redis.expire("long", after: .seconds(100)))
            #expect(try await redis.pttl("long") > 90_000)

            #expect(try await redis.incr("counter") == 1)
            #expect(try await redis.incr("counter", by: 10) == 11)
            #expect(try await redis.del("counter", "greeting", "nope") == 2)

            #expect(try await redis.hset("h", fields: ["a": "1", "b": "2"]) == 2)
            #expect(try await redis.hset("h", fields: [("c", ByteBuffer(string: "3")), ("a", 9)]) == 1)
            let hash = try await redis.hgetall("h").mapValues { String(buffer: $0) }
            #expect(hash == ["a": "9", "b": "2", "c": "3"])
            #expect(try await redis.hget("h", field: "b").map { String(buffer: $0) } == "2")
            #expect(try await redis.hgetall("nohash").isEmpty)

            let script = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1, redis.call('HGET', KEYS[1], 'b')}"
            let reply = try await redis.eval(script: script, keys: ["h"], args: ["x", 41])
            #expect(reply == .array([.bulk("h"), .bulk("x"), .integer(42), .bulk("2")]))
            #expect(try await redis.scriptLoad(script) == RedisConnection.sha1Hex(script))
            _ = try await redis.send("SCRIPT", "FLUSH")
            #expect(try await redis.evalCached(script: script, keys: ["h"], args: ["y", 1]).array?[2] == .integer(2))
            #expect(
                try await redis.evalsha(RedisConnection.sha1Hex(script), keys: ["h"], args: ["z", 2]).array?[1]
                    == .bulk("z"))

            #expect(try await redis.publish(channel: "nobody", message: "hi") == 0)
            await redis.close()
        }
    }

    @Test func largeRepliesArriveAcrossManyReads() async throws {
        try await withRedisServer { server in
            let redis = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            let big = [UInt8]((0..<(8 << 20)).lazy.map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await redis.set("big", to: big)
            #expect(try await redis.get("big").map { Array($0.readableBytesView) == big } == true)

            let items = (0..<20_000).map { "item-\($0)" }
            for chunk in stride(from: 0, to: items.count, by: 1000) {
                try await redis.send(["RPUSH", "list"] + Array(items[chunk..<chunk + 1000]))
            }
            let list = try await redis.send("LRANGE", "list", 0, -1)
            #expect(list.array?.compactMap(\.string) == items)
            await redis.close()
        }
    }

    @Test func pipelinesAThousandConcurrentIncrs() async throws {
        try await withRedisServer { server in
            let redis = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            let results = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await withThrowingTaskGroup(of: Int.self) { inner in
                            for _ in 0..<125 { inner.addTask { try await redis.incr("pipelined") } }
                            // Interleaved ECHOs with unique payloads prove each reply reaches its own caller.
                            for i in 0..<25 {
                                inner.addTask {
                                    let token = "echo-\(i)-\(UInt64.random(in: 0...UInt64.max))"
                                    let reply = try await redis.send("ECHO", token)
                                    #expect(reply.string == token)
                                    return 0
                                }
                            }
                            return try await inner.reduce(into: []) { if $1 > 0 { $0.append($1) } }
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            // Every reply was matched to its own command: each INCR saw a distinct value.
            #expect(results.count == 1000)
            #expect(Set(results) == Set(1...1000))
            #expect(try await redis.getString("pipelined") == "1000")
            await redis.close()
        }
    }

    @Test func errorReplyIsThrownAndConnectionKeepsWorking() async throws {
        try await withRedisServer { server in
            let redis = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            let error = await #expect(throws: RedisError.self) { try await redis.send("NOSUCHCOMMAND", "x") }
            #expect(error?.code == "ERR")
            try await redis.hset("hash", fields: ["f": "v"])
            let wrongType = await #expect(throws: RedisError.self) { try await redis.incr("hash") }
            #expect(wrongType?.code == "WRONGTYPE")
            #expect(try await redis.sendRaw(["INCR", "hash"]).errorMessage?.hasPrefix("WRONGTYPE") == true)

            // Errors in the middle of a pipeline do not shift later replies.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        if i % 5 == 0 {
                            await #expect(throws: RedisError.self) { try await redis.incr("hash") }
                        } else {
                            try await redis.set("k\(i)", to: i)
                            #expect(try await redis.getString("k\(i)") == "\(i)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await redis.ping() == "PONG")
            await redis.close()
        }
    }

    @Test func authWithPassword() async throws {
        try await withRedisServer(password: "correct horse") { server in
            var url = server.url
            let redis = try await RedisConnection.connect(to: url, timeout: testConnectTimeout)
            #expect(try await redis.ping() == "PONG")
            await redis.close()

            url.username = "default"
            let withUser = try await RedisConnection.connect(
                to: try RedisURL("redis://default:correct%20horse@127.0.0.1:\(server.port)"),
                timeout: testConnectTimeout)
            #expect(try await withUser.ping() == "PONG")
            await withUser.close()

            url.username = nil
            url.password = "wrong"
            await #expect {
                _ = try await RedisConnection.connect(to: url, timeout: testConnectTimeout)
            } throws: { error in
                guard case RedisClientError.authenticationFailed(let message) = error else { return false }
                return message.hasPrefix("WRONGPASS")
            }

            url.password = nil
            let anonymous = try await RedisConnection.connect(to: url, timeout: testConnectTimeout)
            let noAuth = await #expect(throws: RedisError.self) { try await anonymous.ping() }
            #expect(noAuth?.code == "NOAUTH")
            await anonymous.close()
        }
    }

    @Test func selectsDatabaseFromURL() async throws {
        try await withRedisServer { server in
            let db3 = try await RedisConnection.connect(
                to: try RedisURL("redis://127.0.0.1:\(server.port)/3"), timeout: testConnectTimeout)
            let db0 = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            try await db3.set("where", to: "three")
            #expect(try await db3.getString("where") == "three")
            #expect(try await db0.getString("where") == nil)
            #expect(try await db0.send("SELECT", 3) == .simpleString("OK"))
            #expect(try await db0.getString("where") == "three")
            await #expect(throws: RedisClientError.selectFailed(db: 99, message: "ERR DB index is out of range")) {
                _ = try await RedisConnection.connect(
                    to: try RedisURL("redis://127.0.0.1:\(server.port)/99"), timeout: testConnectTimeout)
            }
            await db3.close()
            await db0.close()
        }
    }

    @Test func droppedConnectionFailsPendingCommands() async throws {
        try await withRedisServer { server in
            let victim = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            let admin = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            let id = try #require(try await victim.send("CLIENT", "ID").int)
            // BLPOP with no timeout never answers by itself; several commands are queued behind it.
            let pending = (0..<5).map { i in
                Task { try await victim.send(i == 0 ? ["BLPOP", "never", 0] : ["PING"]) }
            }
            try await waitUntil(20, "BLPOP to block") {
                try await admin.send("INFO", "clients").string?.contains("blocked_clients:1") == true
            }
            #expect(try await admin.send("CLIENT", "KILL", "ID", id) == .integer(1))
            for task in pending {
                await #expect(throws: RedisClientError.connectionClosed) {
                    _ = try await withTimeout(20, "pending command to fail") { try await task.value }
                }
            }
            try await waitUntil(20, "channel to close") { !victim.isConnected }
            await #expect(throws: RedisClientError.connectionClosed) { try await victim.ping() }
            await admin.close()
        }
    }

    @Test func closeFailsLaterCommands() async throws {
        try await withRedisServer { server in
            let redis = try await RedisConnection.connect(to: server.url, timeout: testConnectTimeout)
            await redis.close()
            await redis.close()
            await #expect(throws: RedisClientError.connectionClosed) { try await redis.ping() }
        }
    }

    @Test func connectFailsWhenNothingListens() async throws {
        let reservation = try PortReservation()
        let port = reservation.port
        defer { _ = reservation }
        await #expect(throws: (any Error).self) {
            try await withTimeout(10, "refused connect") {
                _ = try await RedisConnection.connect(to: RedisURL(host: "127.0.0.1", port: port), timeout: .seconds(2))
            }
        }
    }

    @Test func malformedServerReplyClosesConnectionWithProtocolError() async throws {
        // A fake server on a loopback port that answers anything with bytes that are not RESP2.
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(GarbageResponder())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let redis = try await RedisConnection.connect(to: RedisURL(host: "127.0.0.1", port: server.localAddress!.port!))
        await #expect {
            _ = try await withTimeout(20, "garbage reply") { try await redis.ping() }
        } throws: { error in
            if case RedisClientError.protocolError = error { return true }
            return false
        }
        try await waitUntil(20, "client to close on garbage") { !redis.isConnected }
        try await server.close()
    }
}

private final class GarbageResponder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: "!garbage\r\n")), promise: nil)
    }
}
