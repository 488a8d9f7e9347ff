// The DNS wire codec behind DNSResolver (RFC 1035, RFC 3596 AAAA, RFC 2782 SRV): builds one-question queries, parses
// answers following name-compression pointers, and matches UDP answers to queries. Hand-written: no library in
// Portico's set speaks DNS.
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The record types the resolver asks for or follows.
enum DNSRecordType: UInt16, Sendable {
    case a = 1
    case cname = 5
    case aaaa = 28
    case srv = 33
}

/// The data of one answer record, for the types the resolver understands.
enum DNSRecordData: Sendable, Equatable {
    case address(String)
    case cname(String)
    case srv(SRVRecord)
    case other
}

struct DNSResourceRecord: Sendable, Equatable {
    var name: String
    var type: UInt16
    var ttl: UInt32
    var data: DNSRecordData
}

/// A parsed DNS response (or query): the header fields the resolver checks, the questions and the answer section.
struct DNSMessage: Sendable {
    var id: UInt16
    var isResponse: Bool
    var isTruncated: Bool
    var responseCode: UInt8
    var questions: [(name: String, type: UInt16)]
    var answers: [DNSResourceRecord]

    struct FormatError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A recursive query (RD set) for `name` with one question of `type`, class IN.
    static func query(id: UInt16, name: String, type: DNSRecordType) throws(FormatError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(18 + name.utf8.count)
        bytes.appendUInt16(id)
        bytes.appendUInt16(0x0100)  // QR=0, OPCODE=0, RD=1
        bytes.appendUInt16(1)  // QDCOUNT
        bytes.appendUInt16(0)  // ANCOUNT
        bytes.appendUInt16(0)  // NSCOUNT
        bytes.appendUInt16(0)  // ARCOUNT
        try encodeName(name, into: &bytes)
        bytes.appendUInt16(type.rawValue)
        bytes.appendUInt16(1)  // class IN
        return bytes
    }

    /// Appends `name` as uncompressed labels; a trailing dot is allowed, empty labels and over-long names are not.
    static func encodeName(_ name: String, into bytes: inout [UInt8]) throws(FormatError) {
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { throw FormatError("invalid name '\(name)'") }
        for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63 else { throw FormatError("invalid name '\(name)'") }
            bytes.append(UInt8(label.utf8.count))
            bytes.append(contentsOf: label.utf8)
        }
        bytes.append(0)
    }

    /// Parses a whole message; anything that runs past the end or loops is a `FormatError`.
    init(parsing bytes: [UInt8]) throws(FormatError) {
        var reader = Reader(bytes: bytes)
        id = try reader.readUInt16()
        let flags = try reader.readUInt16()
        isResponse = flags & 0x8000 != 0
        isTruncated = flags & 0x0200 != 0
        responseCode = UInt8(flags & 0x000F)
        let questionCount = try reader.readUInt16()
        let answerCount = try reader.readUInt16()
        _ = try reader.readUInt16()  // authority records: not needed
        _ = try reader.readUInt16()  // additional records: not needed
        questions = []
        for _ in 0..<questionCount {
            let name = try reader.readName()
            let type = try reader.readUInt16()
            _ = try reader.readUInt16()  // class
            questions.append((name, type))
        }
        answers = []
        for _ in 0..<answerCount {
            answers.append(try reader.readRecord())
        }
    }
}

/// A bounds-checked cursor over a message; names are read through compression pointers.
private struct Reader {
    let bytes: [UInt8]
    var offset = 0

    mutating func readUInt8() throws(DNSMessage.FormatError) -> UInt8 {
        guard offset < bytes.count else { throw DNSMessage.FormatError("message ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() throws(DNSMessage.FormatError) -> UInt16 {
        UInt16(try readUInt8()) << 8 | UInt16(try readUInt8())
    }

    mutating func readUInt32() throws(DNSMessage.FormatError) -> UInt32 {
        UInt32(try readUInt16()) << 16 | UInt32(try readUInt16())
    }

    /// Reads a possibly compressed name at the cursor, leaving the cursor after it (after the first pointer, if any).
    mutating func readName() throws(DNSMessage.FormatError) -> String {
        var labels: [String] = []
        var position = offset
        var resumeAt: Int?
        var jumps = 0
        var length = 0
        while true {
            guard position < bytes.count else { throw DNSMessage.FormatError("name runs past the message") }
            let byte = bytes[position]
            switch byte & 0xC0 {
            case 0x00 where byte == 0:
                offset = resumeAt ?? position + 1
                return labels.joined(separator: ".")
            case 0x00:
                let end = position + 1 + Int(byte)
                guard end <= bytes.count else { throw DNSMessage.FormatError("label runs past the message") }
                length += Int(byte) + 1
                guard length <= 255 else { throw DNSMessage.FormatError("name longer than 255 bytes") }
                labels.append(String(decoding: bytes[(position + 1)..<end], as: UTF8.self))
                position = end
            case 0xC0:
                guard position + 1 < bytes.count else { throw DNSMessage.FormatError("pointer runs past the message") }
                let target = Int(byte & 0x3F) << 8 | Int(bytes[position + 1])
                // A pointer must point backwards (RFC 1035 4.1.4: "a prior occurrence"); this also rules out loops.
                guard target < position, jumps < 64 else { throw DNSMessage.FormatError("bad compression pointer") }
                if resumeAt == nil { resumeAt = position + 2 }
                jumps += 1
                position = target
            default:
                throw DNSMessage.FormatError("unsupported label type")
            }
        }
    }

    mutating func readRecord() throws(DNSMessage.FormatError) -> DNSResourceRecord {
        let name = try readName()
        let type = try readUInt16()
        _ = try readUInt16()  // class
        let ttl = try readUInt32()
        let dataLength = Int(try readUInt16())
        let dataStart = offset
        let dataEnd = dataStart + dataLength
        guard dataEnd <= bytes.count else { throw DNSMessage.FormatError("record data runs past the message") }
        let data: DNSRecordData
        switch DNSRecordType(rawValue: type) {
        case .a:
            guard dataLength == 4 else { throw DNSMessage.FormatError("A record of \(dataLength) bytes") }
            data = .address(formatAddress(Array(bytes[dataStart..<dataEnd])))
        case .aaaa:
            guard dataLength == 16 else { throw DNSMessage.FormatError("AAAA record of \(dataLength) bytes") }
            data = .address(formatAddress(Array(bytes[dataStart..<dataEnd])))
        case .cname:
            data = .cname(try readName())
        case .srv:
            let priority = try readUInt16()
            let weight = try readUInt16()
            let port = try readUInt16()
            let target = try readName()
            data = .srv(SRVRecord(priority: priority, weight: weight, port: Int(port), target: target))
        case nil:
            data = .other
        }
        guard offset <= dataEnd else { throw DNSMessage.FormatError("record data longer than its length") }
        offset = dataEnd
        return DNSResourceRecord(name: name, type: type, ttl: ttl, data: data)
    }
}

/// The text form of a 4-byte IPv4 or 16-byte IPv6 address (IPv6 canonical, as inet_ntop writes it).
func formatAddress(_ raw: [UInt8]) -> String {
    let family = raw.count == 4 ? AF_INET : AF_INET6
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    let ok = raw.withUnsafeBytes { source in
        buffer.withUnsafeMutableBufferPointer {
            inet_ntop(family, source.baseAddress, $0.baseAddress, socklen_t($0.count))
        }
    }
    guard ok != nil else { return "" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Completes `promise` with the first datagram that answers our question: from the server we asked, with our id,
/// flagged as a response, echoing our question. Anything else (strays, spoofs) is ignored.
final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    struct Expected {
        var id: UInt16
        var name: String
        var type: UInt16
        var server: SocketAddress
    }

    private let expected: Expected
    private let promise: EventLoopPromise<DNSMessage>

    init(_ expected: Expected, _ promise: EventLoopPromise<DNSMessage>) {
        self.expected = expected
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == expected.server else { return }
        let bytes = Array(envelope.data.readableBytesView)
        guard bytes.count >= 4, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == expected.id, bytes[2] & 0x80 != 0 else {
            return
        }
        let name = expected.name
        if bytes[2] & 0x02 != 0 {  // TC: the rest may be cut anywhere
            promise.fail(
                DNSResolutionError(.truncated, name: name, "answer truncated (TC); TCP fallback not supported"))
            return
        }
        do {
            let message = try DNSMessage(parsing: bytes)
            guard let question = message.questions.first, question.type == expected.type,
                DNSResolver.canonical(question.name) == name
            else { return }
            promise.succeed(message)
        } catch {
            promise.fail(DNSResolutionError(.malformed, name: name, "unparseable answer: \(error.description)"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(DNSResolutionError(.networkError, name: expected.name, "\(error)"))
    }
}

fileprivate extension [UInt8] {
    mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }
}
