// DNSResolver against real UDP servers on loopback: TestDNSServer for A/AAAA/SRV/CNAME/NXDOMAIN, and hand-built
// answers (compression pointers, truncation, strays, loops) from a raw responder; plus getaddrinfo and IP literals.
// TestDNSServer lives in Tests/IntegrationTests/Support; this target needs it reachable (see the integration note).
import NIOCore
import NIOPosix
import ServiceClient
import Synchronization
import Testing

@Suite struct DNSResolverTests {
    let group = MultiThreadedEventLoopGroup.singleton

    private func resolver(_ server: String, timeout: Duration = .seconds(2)) -> DNSResolver {
        DNSResolver(nameservers: [server], timeout: timeout, group: group)
    }

    @Test func resolvesARecordsAndSeesChanges() async throws {
        let dns = try await TestDNSServer.start()
        defer { Task { await dns.stop() } }
        dns.setA("users.test", ["127.0.0.1", "127.0.0.2"])
        let resolver = resolver(dns.address)
        #expect(try await resolver.resolveAddresses("users.test") == ["127.0.0.1", "127.0.0.2"])
        dns.setA("users.test", ["127.0.0.3"])
        #expect(try await resolver.resolveAddresses("USERS.test.") == ["127.0.0.3"])
    }

    @Test func resolvesAAAAAfterA() async throws {
        let dns = try await TestDNSServer.start()
        defer { Task { await dns.stop() } }
        dns.setA("dual.test", ["0:0::1", "127.0.0.9", "fd00::a", "127.0.0.9"])
        dns.setA("v6.test", ["::1"])
        let resolver = resolver(dns.address)
        #expect(try await resolver.resolveAddresses("dual.test") == ["127.0.0.9", "::1", "fd00::a"])
        #expect(try await resolver.resolveAddresses("v6.test") == ["::1"])
    }

    @Test func resolvesSRVSortedByPriorityThenWeight() async throws {
        let dns = try await TestDNSServer.start()
        defer { Task { await dns.stop() } }
        // Targets share suffixes with the question and with each other, so the answers use compression pointers.
        dns.setSRV(
            "_http._tcp.users.test",
            [
                SRVRecord(priority: 20, weight: 1, port: 8083, target: "c.users.test"),
                SRVRecord(priority: 10, weight: 5, port: 8081, target: "a.users.test"),
                SRVRecord(priority: 10, weight: 50, port: 8082, target: "b.a.users.test"),
            ])
        let records = try await resolver(dns.address).resolveSRV("_http._tcp.users.test")
        #expect(
            records == [
                SRVRecord(priority: 10, weight: 50, port: 8082, target: "b.a.users.test"),
                SRVRecord(priority: 10, weight: 5, port: 8081, target: "a.users.test"),
                SRVRecord(priority: 20, weight: 1, port: 8083, target: "c.users.test"),
            ])
    }

    @Test func followsCNAMEWithinTheAnswer() async throws {
        let dns = try await TestDNSServer.start()
        defer { Task { await dns.stop() } }
        dns.setCNAME("www.test", "edge.test")
        dns.setCNAME("edge.test", "users.test")
        dns.setA("users.test", ["127.0.0.5"])
        #expect(try await resolver(dns.address).resolveAddresses("www.test") == ["127.0.0.5"])
    }

    @Test func unknownNameIsNXDOMAINAndEmptyTypeIsNoRecords() async throws {
        let dns = try await TestDNSServer.start()
        defer { Task { await dns.stop() } }
        dns.setA("users.test", ["127.0.0.1"])
        let resolver = resolver(dns.address)
        let missing = await #expect(throws: DNSResolutionError.self) {
            try await resolver.resolveAddresses("nope.test")
        }
        #expect(missing?.code == .nxdomain)
        let srv = await #expect(throws: DNSResolutionError.self) { try await resolver.resolveSRV("nope.test") }
        #expect(srv?.code == .nxdomain)
        let empty = await #expect(throws: DNSResolutionError.self) { try await resolver.resolveSRV("users.test") }
        #expect(empty?.code == .noRecords)
    }

    @Test func timesOutAgainstASilentServer() async throws {
        let silent = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        let resolver = resolver("127.0.0.1:\(silent.localAddress!.port!)", timeout: .milliseconds(200))
        let error = await #expect(throws: DNSResolutionError.self) { try await resolver.resolveSRV("_x._tcp.test") }
        #expect(error?.code == .timeout)
    }

    @Test func retriesOnceAfterATimeout() async throws {
        let dns = try await TestDNSServer.start()
        defer { Task { await dns.stop() } }
        dns.setSRV("_x._tcp.test", [SRVRecord(priority: 1, weight: 1, port: 9000, target: "x.test")])
        dns.dropNext(1)
        // Long enough that an answered retry is never late, even with the whole suite running on two cores.
        let resolver = resolver(dns.address, timeout: .seconds(1))
        #expect(try await resolver.resolveSRV("_x._tcp.test").map(\.port) == [9000])
        #expect(dns.queryCount == 2)
        dns.dropNext(2)
        let error = await #expect(throws: DNSResolutionError.self) { try await resolver.resolveSRV("_x._tcp.test") }
        #expect(error?.code == .timeout)
        // The server counts a query when its event loop reads it, which a loaded machine can delay past the
        // resolver's timeout: wait for the count, then check that it is exactly one retry.
        let deadline = ContinuousClock.now + .seconds(5)
        while dns.queryCount < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(dns.queryCount == 4)
    }

    @Test func parsesHandBuiltCompressionPointers() async throws {
        // Answer 1 points its owner at the question and its target's suffix into the question ("example");
        // answer 2's target is "b" then a pointer to answer 1's target, which itself ends in a pointer.
        let raw = try await RawDNSResponder.start { query in
            var first = srvData(priority: 1, weight: 5, port: 8080) + [1, UInt8(ascii: "a"), 0xC0, 16]
            let firstTarget = query.count + 12 + 6  // after answer 1's owner, type, class, TTL, length, SRV fields
            var answers = record(data: first)
            first = srvData(priority: 0, weight: 1, port: 9090) + [1, UInt8(ascii: "b"), 0xC0, UInt8(firstTarget)]
            answers += record(data: first)
            return [reply(to: query, answerCount: 2, answers: answers)]
        }
        defer { raw.stop() }
        let records = try await resolver(raw.address).resolveSRV("svc.example")
        #expect(
            records == [
                SRVRecord(priority: 0, weight: 1, port: 9090, target: "b.a.example"),
                SRVRecord(priority: 1, weight: 5, port: 8080, target: "a.example"),
            ])
    }

    @Test func rejectsLoopingPointersAndTruncatedAnswers() async throws {
        let looping = try await RawDNSResponder.start { query in
            // The owner name is a pointer to itself.
            [reply(to: query, answerCount: 1, answers: [0xC0, UInt8(query.count)] + [0, 33, 0, 1, 0, 0, 0, 30, 0, 0])]
        }
        defer { looping.stop() }
        let loop = await #expect(throws: DNSResolutionError.self) {
            try await resolver(looping.address).resolveSRV("svc.example")
        }
        #expect(loop?.code == .malformed)

        let truncated = try await RawDNSResponder.start { query in [reply(to: query, flags: 0x8380, answerCount: 0)] }
        defer { truncated.stop() }
        let cut = await #expect(throws: DNSResolutionError.self) {
            try await resolver(truncated.address).resolveSRV("svc.example")
        }
        #expect(cut?.code == .truncated)
    }

    @Test func ignoresAnswersWithTheWrongIdOrQuestion() async throws {
        let raw = try await RawDNSResponder.start { query in
            var wrongID = reply(
                to: query, answerCount: 1, answers: record(data: srvData(priority: 9, weight: 9, port: 1) + [0]))
            wrongID[1] &+= 1
            var otherQuestion = reply(to: query, answerCount: 0)
            otherQuestion[13] = UInt8(ascii: "X")  // first letter of the question name
            let good = reply(
                to: query, answerCount: 1, answers: record(data: srvData(priority: 2, weight: 3, port: 4) + [0]))
            return [wrongID, otherQuestion, good]
        }
        defer { raw.stop() }
        let records = try await resolver(raw.address).resolveSRV("svc.example")
        #expect(records == [SRVRecord(priority: 2, weight: 3, port: 4, target: "")])
    }

    @Test func ipLiteralsResolveToThemselvesWithoutAQuery() async throws {
        let dns = try await TestDNSServer.start()
        defer { Task { await dns.stop() } }
        let resolver = resolver(dns.address)
        #expect(try await resolver.resolveAddresses("10.1.2.3") == ["10.1.2.3"])
        #expect(try await resolver.resolveAddresses("::1") == ["::1"])
        #expect(try await resolver.resolveAddresses("[fd00::1]") == ["fd00::1"])
        #expect(dns.queryCount == 0)
    }

    @Test func systemResolverFindsLocalhost() async throws {
        let addresses = try await DNSResolver(group: group).resolveAddresses("localhost")
        #expect(addresses.contains("127.0.0.1") || addresses.contains("::1"))
        #expect(Set(addresses).count == addresses.count)
        if let firstV6 = addresses.firstIndex(where: { $0.contains(":") }) {
            #expect(addresses[firstV6...].allSatisfy { $0.contains(":") })
        }
    }

    @Test func readsNameserversFromResolvConf() {
        let text = "# comment\nsearch corp.test\nnameserver 10.0.0.2\nnameserver\tfd00::53\nnameserver fe80::1%eth0\n"
        #expect(DNSResolver.nameservers(fromResolvConf: text) == ["10.0.0.2", "fd00::53"])
    }

    @Test func badNameserverIsAConfigurationError() async throws {
        let error = await #expect(throws: DNSResolutionError.self) {
            try await resolver("dns.example:53").resolveSRV("_x._tcp.test")
        }
        #expect(error?.code == .invalidConfiguration)
    }
}

// MARK: hand-built answers

/// SRV RDATA up to (not including) the target name.
private func srvData(priority: UInt16, weight: UInt16, port: UInt16) -> [UInt8] {
    [priority, weight, port].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
}

/// An SRV answer whose owner is a pointer to the question name (offset 12).
private func record(data: [UInt8]) -> [UInt8] {
    [0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 30, UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
}

/// The query turned into a response: same id and question, the given flags and answers.
private func reply(to query: [UInt8], flags: UInt16 = 0x8180, answerCount: UInt8, answers: [UInt8] = []) -> [UInt8] {
    var bytes = query
    bytes[2] = UInt8(flags >> 8)
    bytes[3] = UInt8(flags & 0xFF)
    bytes[7] = answerCount
    return bytes + answers
}

/// Answers each UDP datagram with whatever `respond` makes of it (zero or more datagrams).
private final class RawDNSResponder: Sendable {
    let channel: any Channel
    private init(channel: any Channel) { self.channel = channel }

    var address: String { "127.0.0.1:\(channel.localAddress!.port!)" }

    static func start(_ respond: @escaping @Sendable ([UInt8]) -> [[UInt8]]) async throws -> RawDNSResponder {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(respond))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return RawDNSResponder(channel: channel)
    }

    func stop() { channel.close(promise: nil) }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let respond: @Sendable ([UInt8]) -> [[UInt8]]
        init(_ respond: @escaping @Sendable ([UInt8]) -> [[UInt8]]) { self.respond = respond }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            for datagram in respond(Array(envelope.data.readableBytesView)) {
                let buffer = context.channel.allocator.buffer(bytes: datagram)
                context.write(
                    wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)),
                    promise: nil)
            }
            context.flush()
        }
    }
}
