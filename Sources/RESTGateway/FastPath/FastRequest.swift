// A parsed HTTP/1.1 request head as the byte-level data path keeps it: the head's bytes (a slice of
// what was read, not a copy) and the byte ranges `HTTP1RequestHeadParser` found. Header values become
// Strings only when a policy asks for one by name.
import NIOCore

struct FastRequest {
    let bytes: ByteBuffer
    let head: HTTP1RequestHead

    var isHEAD: Bool { bytes.withUnsafeReadableBytes { HTTP1RequestHeadParser.matches($0, 0, "HEAD ") } }

    /// The method; the common ones without an allocation.
    var method: String {
        bytes.withUnsafeReadableBytes { p in
            switch head.method.count {
            case 3 where HTTP1RequestHeadParser.matches(p, 0, "GET"): return "GET"
            case 3 where HTTP1RequestHeadParser.matches(p, 0, "PUT"): return "PUT"
            case 4 where HTTP1RequestHeadParser.matches(p, 0, "POST"): return "POST"
            case 4 where HTTP1RequestHeadParser.matches(p, 0, "HEAD"): return "HEAD"
            case 5 where HTTP1RequestHeadParser.matches(p, 0, "PATCH"): return "PATCH"
            case 6 where HTTP1RequestHeadParser.matches(p, 0, "DELETE"): return "DELETE"
            case 7 where HTTP1RequestHeadParser.matches(p, 0, "OPTIONS"): return "OPTIONS"
            default: return String(decoding: UnsafeRawBufferPointer(rebasing: p[head.method]), as: UTF8.self)
            }
        }
    }

    var target: String { string(head.target) }

    func string(_ range: Range<Int>) -> String {
        bytes.withUnsafeReadableBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    /// The host name in a `Host` value at `range`, as routing matches it: lower-cased, without the
    /// port, without an IPv6 literal's brackets. Made from the bytes in one pass (what
    /// `RESTProxyHandler.hostWithoutPort` does with three String operations).
    func hostName(_ range: Range<Int>) -> String {
        bytes.withUnsafeReadableBytes { p in
            var start = range.lowerBound
            var end = range.upperBound
            if start < end && p[start] == UInt8(ascii: "[") {
                start += 1
                end = (start..<end).first { p[$0] == UInt8(ascii: "]") } ?? end
            } else if let colon = (start..<end).last(where: { p[$0] == UInt8(ascii: ":") }) {
                end = colon
            }
            guard (start..<end).contains(where: { p[$0] &- 0x41 < 26 || p[$0] >= 0x80 }) else {
                return String(decoding: UnsafeRawBufferPointer(rebasing: p[start..<end]), as: UTF8.self)
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: p[start..<end]), as: UTF8.self).lowercased()
        }
    }

    /// The first value of the header `name` (any case), like `HTTPHeaders.first(name:)`.
    func value(_ name: String) -> String? {
        guard let field = field(name) else { return nil }
        return string(field.value)
    }

    func contains(_ name: String) -> Bool { field(name) != nil }

    /// Every value of `name`, in order (for lists such as `X-Forwarded-For`).
    func values(_ name: String) -> [String] {
        var name = name
        return name.withUTF8 { wanted in
            bytes.withUnsafeReadableBytes { p in
                head.fields.filter { Self.equal(p, $0.name, wanted) }.map {
                    String(decoding: UnsafeRawBufferPointer(rebasing: p[$0.value]), as: UTF8.self)
                }
            }
        }
    }

    private func field(_ name: String) -> HTTP1RequestHead.Field? {
        var name = name
        return name.withUTF8 { wanted in
            bytes.withUnsafeReadableBytes { p in head.fields.first { Self.equal(p, $0.name, wanted) } }
        }
    }

    /// ASCII case-insensitive comparison of a name in the head with `wanted`.
    static func equal(_ p: UnsafeRawBufferPointer, _ range: Range<Int>, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
        guard range.count == wanted.count else { return false }
        for offset in 0..<wanted.count {
            let a = p[range.lowerBound + offset]
            let b = wanted[offset]
            if a != b && ((a &- 0x41) < 26 ? a | 0x20 : a) != ((b &- 0x41) < 26 ? b | 0x20 : b) { return false }
        }
        return true
    }
}
