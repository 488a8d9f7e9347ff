// A strict HTTP/1.1 request-head parser over raw bytes, for the byte-level data path that
// experiments/fastproxy measured at nginx's CPU per request. It reads what routing and framing need
// and records where every header line is, so the head can be rewritten by copying byte ranges.
// Hand-written: NIO's llhttp wrapper yields a full `HTTPRequestHead` of Strings, the cost this path
// avoids. Strict on purpose (RFC 9112): anything a smuggling attack relies on is an error.

/// A parsed request head: byte ranges into the buffer it was parsed from.
struct HTTP1RequestHead {
    struct Field {
        /// The whole line without its CRLF.
        var line: Range<Int>
        var name: Range<Int>
        var value: Range<Int>
    }

    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
    }

    var method: Range<Int>
    var target: Range<Int>
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    var fields: [Field]
    var framing: Framing
    var keepAlive: Bool
    var host: Range<Int>?
    /// Bytes of the head including the final CRLFCRLF.
    var length: Int
}

struct HTTP1ParseError: Error, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum HTTP1RequestHeadParser {
    static let maxFields = 100

    /// The end of the head (index just past CRLFCRLF) in `bytes`, or nil when it has not all arrived.
    static func headEnd(_ bytes: UnsafeRawBufferPointer, searchFrom: Int = 0) -> Int? {
        var index = max(searchFrom, 3)
        while index < bytes.count {
            if bytes[index] == 0x0A && bytes[index - 1] == 0x0D && bytes[index - 2] == 0x0A
                && bytes[index - 3] == 0x0D
            {
                return index + 1
            }
            index += 1
        }
        return nil
    }

    /// Parses the head that ends at `end` (from `headEnd`).
    static func parse(_ p: UnsafeRawBufferPointer, end: Int) throws(HTTP1ParseError) -> HTTP1RequestHead {
        // Request line: method SP request-target SP HTTP/1.x CRLF
        let lineEnd = try lineEnd(p, from: 0, limit: end)
        var cursor = 0
        while cursor < lineEnd && isTokenChar(p[cursor]) { cursor += 1 }
        guard cursor > 0, cursor < lineEnd, p[cursor] == 0x20 else {
            throw .init("the request line has no valid method")
        }
        let method = 0..<cursor
        let targetStart = cursor + 1
        cursor = targetStart
        while cursor < lineEnd && p[cursor] > 0x20 && p[cursor] < 0x7F { cursor += 1 }
        guard cursor > targetStart, cursor < lineEnd, p[cursor] == 0x20 else {
            throw .init("the request target is missing or has invalid characters")
        }
        let target = targetStart..<cursor
        let version = cursor + 1
        guard lineEnd - version == 8, matches(p, version, "HTTP/1."), p[version + 7] == 0x30 || p[version + 7] == 0x31
        else { throw .init("only HTTP/1.0 and HTTP/1.1 are served here") }
        let minor = Int(p[version + 7] - 0x30)

        var fields: [HTTP1RequestHead.Field] = []
        fields.reserveCapacity(16)  // One allocation for a typical head (growing from empty takes three).
        var contentLength: Int?
        var chunked = false
        var transferEncoding = false
        var close = false
        var keepAliveToken = false
        var host: Range<Int>?
        var start = lineEnd + 2
        while start < end - 2 {
            let stop = try self.lineEnd(p, from: start, limit: end)
            guard p[start] != 0x20 && p[start] != 0x09 else { throw .init("folded header lines are not allowed") }
            var colon = start
            while colon < stop && isTokenChar(p[colon]) { colon += 1 }
            guard colon > start, colon < stop, p[colon] == 0x3A else {
                throw .init("a header name is empty, has invalid characters or space before the colon")
            }
            var valueStart = colon + 1
            while valueStart < stop && (p[valueStart] == 0x20 || p[valueStart] == 0x09) { valueStart += 1 }
            var valueEnd = stop
            while valueEnd > valueStart && (p[valueEnd - 1] == 0x20 || p[valueEnd - 1] == 0x09) { valueEnd -= 1 }
            for index in valueStart..<valueEnd where p[index] == 0 || (p[index] < 0x20 && p[index] != 0x09) {
                throw .init("a header value contains a control character")
            }
            let name = start..<colon
            let value = valueStart..<valueEnd
            fields.append(.init(line: start..<stop, name: name, value: value))
            guard fields.count <= maxFields else { throw .init("more than \(maxFields) header fields") }
            if equalsLowercase(p, name, "content-length") {
                guard let length = decimal(p, value) else { throw .init("Content-Length is not a number") }
                if let contentLength, contentLength != length { throw .init("conflicting Content-Length values") }
                contentLength = length
            } else if equalsLowercase(p, name, "transfer-encoding") {
                transferEncoding = true
                chunked = lastCodingIsChunked(p, value)
            } else if equalsLowercase(p, name, "connection") {
                let tokens = connectionTokens(p, value)
                close = close || tokens.close
                keepAliveToken = keepAliveToken || tokens.keepAlive
            } else if equalsLowercase(p, name, "host") {
                guard host == nil else { throw .init("more than one Host header") }
                host = value
            }
            start = stop + 2
        }
        guard minor == 0 || host != nil else { throw .init("HTTP/1.1 requests need a Host header") }
        let framing: HTTP1RequestHead.Framing
        if transferEncoding {
            guard contentLength == nil else {
                throw .init("Content-Length and Transfer-Encoding together are not allowed")
            }
            guard chunked else { throw .init("a Transfer-Encoding must end with chunked") }
            guard minor == 1 else { throw .init("Transfer-Encoding is not allowed in HTTP/1.0") }
            framing = .chunked
        } else if let contentLength, contentLength > 0 {
            framing = .length(contentLength)
        } else {
            framing = .none
        }
        return HTTP1RequestHead(
            method: method, target: target, minorVersion: minor, fields: fields, framing: framing,
            keepAlive: minor == 1 ? !close : keepAliveToken && !close, host: host, length: end)
    }

    /// The index of the CR of the line starting at `from`; bare CR or LF is an error.
    private static func lineEnd(_ p: UnsafeRawBufferPointer, from: Int, limit: Int) throws(HTTP1ParseError) -> Int {
        var index = from
        while index < limit {
            switch p[index] {
            case 0x0D:
                guard index + 1 < limit, p[index + 1] == 0x0A else { throw .init("a bare CR in the head") }
                return index
            case 0x0A:
                throw .init("a line ends with LF alone")
            default:
                index += 1
            }
        }
        throw .init("the head ends in the middle of a line")
    }

    /// RFC 9110 tchar.
    static func isTokenChar(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    static func matches(_ p: UnsafeRawBufferPointer, _ at: Int, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard at + count <= p.count else { return false }
        let bytes = literal.utf8Start
        for offset in 0..<count where p[at + offset] != bytes[offset] { return false }
        return true
    }

    /// Case-insensitive comparison with a lower-case ASCII literal.
    static func equalsLowercase(_ p: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let bytes = literal.utf8Start
        for offset in 0..<range.count {
            let byte = p[range.lowerBound + offset]
            let lowered = (byte &- 0x41) < 26 ? byte | 0x20 : byte
            if lowered != bytes[offset] { return false }
        }
        return true
    }

    static func decimal(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for index in range {
            let digit = p[index] &- 0x30
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    static func lastCodingIsChunked(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var end = range.upperBound
        while end > range.lowerBound && (p[end - 1] == 0x20 || p[end - 1] == 0x09) { end -= 1 }
        guard end - range.lowerBound >= 7, equalsLowercase(p, (end - 7)..<end, "chunked") else { return false }
        if end - 7 == range.lowerBound { return true }
        let before = p[end - 8]
        return before == 0x2C || before == 0x20 || before == 0x09
    }

    static func connectionTokens(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> (close: Bool, keepAlive: Bool) {
        var close = false
        var keepAlive = false
        var index = range.lowerBound
        while index < range.upperBound {
            while index < range.upperBound && (p[index] == 0x20 || p[index] == 0x09 || p[index] == 0x2C) { index += 1 }
            var stop = index
            while stop < range.upperBound && p[stop] != 0x2C { stop += 1 }
            var trimmed = stop
            while trimmed > index && (p[trimmed - 1] == 0x20 || p[trimmed - 1] == 0x09) { trimmed -= 1 }
            if equalsLowercase(p, index..<trimmed, "close") { close = true }
            if equalsLowercase(p, index..<trimmed, "keep-alive") { keepAlive = true }
            index = stop
        }
        return (close, keepAlive)
    }
}
