// A tiny authoritative DNS server on 127.0.0.1:0/UDP for tests: A/AAAA, SRV and CNAME records that can change at
// runtime, NXDOMAIN for unknown names, answers with name compression, and a switch to drop queries unanswered.
// Keeps its own minimal encoder because ServiceClient's DNS codec is internal.
import NIOCore
import NIOPosix
import ServiceClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

final class TestDNSServer: Sendable {
    private let channel: any Channel
    private let zone: Zone

    private init(channel: any Channel, zone: Zone) {
        self.channel = channel
        self.zone = zone
    }

    static func start() async throws -> TestDNSServer {
        let zone = Zone()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(zone: zone))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestDNSServer(channel: channel, zone: zone)
    }

    /// "127.0.0.1:PORT", to pass as a nameserver.
    var address: String { "127.0.0.1:\(channel.localAddress?.port ?? 0)" }

    /// Replaces the addresses of `name`: IPv4 literals answer A queries, IPv6 literals answer AAAA queries.
    func setA(_ name: String, _ addresses: [String]) { zone.state.withLock { $0.addresses[key(name)] = addresses } }
    func setSRV(_ name: String, _ records: [SRVRecord]) { zone.state.withLock { $0.srv[key(name)] = records } }
    /// Makes `name` an alias of `target`; the answer carries the CNAME and then `target`'s records.
    func setCNAME(_ name: String, _ target: String) { zone.state.withLock { $0.cname[key(name)] = target } }
    /// Removes every record of `name`, so it answers NXDOMAIN again.
    func remove(_ name: String) {
        zone.state.withLock {
            $0.addresses[key(name)] = nil; $0.srv[key(name)] = nil; $0.cname[key(name)] = nil
        }
    }
    /// The next `count` queries are counted but not answered (to test timeouts and retries).
    func dropNext(_ count: Int) { zone.state.withLock { $0.toDrop = count } }
    /// Queries received so far, answered or not.
    var queryCount: Int { zone.state.withLock { $0.queryCount } }

    func stop() async { try? await channel.close() }
}

private func key(_ name: String) -> String { (name.hasSuffix(".") ? String(name.dropLast()) : name).lowercased() }

private final class Zone: Sendable {
    struct State {
        var addresses: [String: [String]] = [:]
        var srv: [String: [SRVRecord]] = [:]
        var cname: [String: String] = [:]
        var queryCount = 0
        var toDrop = 0
    }

    let state = Mutex(State())
}

private final class Responder: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let zone: Zone
    init(zone: Zone) { self.zone = zone }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let drop = zone.state.withLock { state in
            state.queryCount += 1
            guard state.toDrop > 0 else { return false }
            state.toDrop -= 1
            return true
        }
        let query = Array(envelope.data.readableBytesView)
        guard !drop, let reply = zone.state.withLock({ Self.answer(query, $0) }) else { return }
        let out = AddressedEnvelope(
            remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: reply))
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    /// The reply to `query`, or nil when it is not a one-question query we can read.
    private static func answer(_ query: [UInt8], _ state: Zone.State) -> [UInt8]? {
        guard query.count > 12, query[4] == 0, query[5] == 1 else { return nil }
        var labels: [String] = []
        var offset = 12
        while offset < query.count, query[offset] != 0 {
            let length = Int(query[offset])
            guard length < 64, offset + 1 + length < query.count else { return nil }
            labels.append(String(decoding: query[(offset + 1)...(offset + length)], as: UTF8.self))
            offset += 1 + length
        }
        guard offset + 4 < query.count else { return nil }
        let type = UInt16(query[offset + 1]) << 8 | UInt16(query[offset + 2])
        let name = labels.joined(separator: ".")

        // Header: same id, QR + AA + RD echoed + RA; counts and RCODE patched below; question echoed at offset 12.
        var message = Encoder()
        message.bytes = [query[0], query[1], 0x84 | (query[2] & 0x01), 0x80, 0, 1, 0, 0, 0, 0, 0, 0]
        message.name(name)
        message.uint16(type)
        message.uint16(1)
        var answers = 0
        var current = key(name)
        var known = false
        for _ in 0..<8 {
            if let target = state.cname[current] {
                known = true
                message.record(current, type: 5) { $0.name(target) }
                answers += 1
                current = key(target)
                continue
            }
            known = known || state.addresses[current] != nil || state.srv[current] != nil
            for address in state.addresses[current] ?? [] {
                let bytes = rawAddress(address)
                guard (type == 1 && bytes.count == 4) || (type == 28 && bytes.count == 16) else { continue }
                message.record(current, type: type) { $0.bytes += bytes }
                answers += 1
            }
            for record in type == 33 ? state.srv[current] ?? [] : [] {
                message.record(current, type: 33) {
                    $0.uint16(record.priority)
                    $0.uint16(record.weight)
                    $0.uint16(UInt16(clamping: record.port))
                    $0.name(record.target)
                }
                answers += 1
            }
            break
        }
        message.bytes[3] = known ? 0x80 : 0x83  // RCODE 3: NXDOMAIN
        message.bytes[6] = UInt8(answers >> 8)
        message.bytes[7] = UInt8(answers & 0xFF)
        return message.bytes
    }
}

/// Appends names with compression: each suffix already written is replaced by a pointer to it.
private struct Encoder {
    var bytes: [UInt8] = []
    var offsets: [String: Int] = [:]

    mutating func uint16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }

    mutating func name(_ name: String) {
        let labels = key(name).split(separator: ".").map(String.init)
        for index in labels.indices {
            let suffix = labels[index...].joined(separator: ".")
            if let offset = offsets[suffix] {
                uint16(0xC000 | UInt16(offset))
                return
            }
            if bytes.count < 0x3FFF { offsets[suffix] = bytes.count }
            bytes.append(UInt8(labels[index].utf8.count))
            bytes += labels[index].utf8
        }
        bytes.append(0)
    }

    mutating func record(_ owner: String, type: UInt16, data: (inout Encoder) -> Void) {
        name(owner)
        uint16(type)
        uint16(1)  // class IN
        bytes += [0, 0, 0, 30]  // TTL 30 s
        let lengthAt = bytes.count
        uint16(0)
        data(&self)
        let length = bytes.count - lengthAt - 2
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}

private func rawAddress(_ text: String) -> [UInt8] {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
    return []
}
