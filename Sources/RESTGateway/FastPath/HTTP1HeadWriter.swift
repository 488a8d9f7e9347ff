// Writes the heads the byte-level data path sends on: the request line with the rewritten target (or
// the upstream's status line) and every header line of the incoming head copied as bytes, except
// hop-by-hop ones, those listed in `Connection`, and those the gateway sets itself, which come after
// as `extra`. Names are compared without building Strings (the prototype measured String handling of
// heads at +20 µs per request).
import NIOCore

/// Lower-case header names matched against byte ranges case-insensitively. A bit per name length
/// rejects most names without a comparison; no hashing (this runs for every header line of every
/// request and response).
struct HTTP1HeaderNameSet {
    private var names: [[UInt8]] = []
    /// Bit n set: some name has n bytes (names of 64 bytes or more set bit 63 and are compared).
    private var lengths: UInt64 = 0

    init(_ names: some Sequence<String>) {
        for name in names { insert(Array(name.lowercased().utf8)) }
    }

    mutating func insert(_ lowercased: [UInt8]) {
        guard !names.contains(lowercased) else { return }
        names.append(lowercased)
        lengths |= 1 << UInt64(min(lowercased.count, 63))
    }

    func contains(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard lengths & (1 << UInt64(min(range.count, 63))) != 0 else { return false }
        outer: for candidate in names where candidate.count == range.count {
            for (offset, expected) in candidate.enumerated() {
                let byte = p[range.lowerBound + offset]
                if ((byte &- 0x41) < 26 ? byte | 0x20 : byte) != expected { continue outer }
            }
            return true
        }
        return false
    }
}

enum HTTP1HeadWriter {
    /// Hop-by-hop names (RFC 9110 §7.6.1) and the framing headers the writer sets itself.
    static let hopByHop = HTTP1HeaderNameSet([
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade",
    ])

    /// Writes the upstream request head for `head` (parsed from `p`) into `out`: `target` replaces the
    /// request target, lines named in `drop`, hop-by-hop or listed in `Connection` are left out, and
    /// `extra` lines are added; `Transfer-Encoding: chunked` is kept when the body is chunked.
    static func writeRequest(
        _ p: UnsafeRawBufferPointer, head: HTTP1RequestHead, target: String, drop: HTTP1HeaderNameSet,
        extra: [(String, String)], into out: inout ByteBuffer
    ) {
        out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.method]))
        out.writeInteger(UInt8(ascii: " "))
        out.writeString(target)
        out.writeStaticString(" HTTP/1.1\r\n")
        let listed = connectionListed(p, fields: head.fields)
        for field in head.fields {
            if hopByHop.contains(p, field.name) || drop.contains(p, field.name) || listed.contains(p, field.name) {
                continue
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[field.line]))
            out.writeStaticString("\r\n")
        }
        if head.framing == .chunked { out.writeStaticString("transfer-encoding: chunked\r\n") }
        for (name, value) in extra {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
    }

    /// Writes the response head for the client: HTTP/1.1 with the upstream's status code and reason,
    /// its header lines except hop-by-hop, `Connection`-listed and `drop`/`dropExtra` ones, then
    /// `Transfer-Encoding: chunked` when the body is chunked, the `extra` lines, and
    /// `Connection: close` when `close`.
    static func writeResponse(
        _ p: UnsafeRawBufferPointer, head: HTTP1ResponseHead, drop: HTTP1HeaderNameSet,
        dropExtra: HTTP1HeaderNameSet?, extra: [(String, String)], close: Bool, into out: inout ByteBuffer
    ) {
        var statusEnd = 9
        while statusEnd < head.length && p[statusEnd] != 0x0D { statusEnd += 1 }
        // status-line = HTTP-version SP status-code SP [reason-phrase]: the space stays when the
        // upstream sent no reason.
        out.writeStaticString("HTTP/1.1 ")
        out.writeBytes(UnsafeRawBufferPointer(rebasing: p[9..<12]))
        out.writeStaticString(" ")
        if statusEnd > 13 { out.writeBytes(UnsafeRawBufferPointer(rebasing: p[13..<statusEnd])) }
        out.writeStaticString("\r\n")
        let listed = head.fields.count > 0 ? connectionListed(p, fields: head.fields) : HTTP1HeaderNameSet([])
        // RFC 9112 §6.3: a body framed by Transfer-Encoding (or by the close) must not go on with a
        // Content-Length, which a proxy in front of the gateway would believe.
        let dropLength = head.framing == .chunked || head.framing == .untilClose
        for field in head.fields {
            if hopByHop.contains(p, field.name) || drop.contains(p, field.name) || listed.contains(p, field.name)
                || dropExtra?.contains(p, field.name) == true
                || (dropLength && HTTP1RequestHeadParser.equalsLowercase(p, field.name, "content-length"))
            {
                continue
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[field.line]))
            out.writeStaticString("\r\n")
        }
        if head.framing == .chunked { out.writeStaticString("transfer-encoding: chunked\r\n") }
        for (name, value) in extra {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if close { out.writeStaticString("connection: close\r\n") }
        out.writeStaticString("\r\n")
    }

    private static func framingName(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        HTTP1RequestHeadParser.equalsLowercase(p, range, "content-length")
            || HTTP1RequestHeadParser.equalsLowercase(p, range, "host")
    }

    /// The names a message's `Connection` headers list (besides close and keep-alive).
    static func connectionListed(_ p: UnsafeRawBufferPointer, fields: [HTTP1RequestHead.Field]) -> HTTP1HeaderNameSet {
        var set = HTTP1HeaderNameSet([])
        for field in fields where HTTP1RequestHeadParser.equalsLowercase(p, field.name, "connection") {
            var index = field.value.lowerBound
            while index < field.value.upperBound {
                while index < field.value.upperBound && (p[index] == 0x20 || p[index] == 0x09 || p[index] == 0x2C) {
                    index += 1
                }
                var stop = index
                while stop < field.value.upperBound && p[stop] != 0x2C { stop += 1 }
                var trimmed = stop
                while trimmed > index && (p[trimmed - 1] == 0x20 || p[trimmed - 1] == 0x09) { trimmed -= 1 }
                // Framing and Host are the gateway's to set: a `Connection: content-length` must
                // not strip the length off a body that is forwarded as it came (request smuggling).
                if trimmed > index && !framingName(p, index..<trimmed)
                    && !HTTP1RequestHeadParser.equalsLowercase(p, index..<trimmed, "close")
                    && !HTTP1RequestHeadParser.equalsLowercase(p, index..<trimmed, "keep-alive")
                {
                    set.insert(p[index..<trimmed].map { ($0 &- 0x41) < 26 ? $0 | 0x20 : $0 })
                }
                index = stop
            }
        }
        return set
    }
}
