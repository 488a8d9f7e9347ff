// Byte-level helpers for HTTP/1.1 heads: find the end of a head, classify header names, parse the few
// values a forwarder needs. Hand-written (not NIOHTTP1) on purpose: the prototype measures a forwarder
// that parses only framing and routing fields and copies everything else through as bytes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a head was refused; `status` is the status line + headers of the canned reply.
struct ParseError: Error {
    let status: StaticString
    let reason: StaticString
    static func bad(_ reason: StaticString) -> ParseError { ParseError(status: "400 Bad Request", reason: reason) }
}

/// How a message body is delimited.
enum Framing: Equatable {
    case none
    case length(Int)
    case chunked
    case untilClose
}

/// Index just past the first CRLFCRLF in `p`, starting the search at `from`, or nil.
@inline(__always)
func findHeadEnd(_ p: UnsafeRawBufferPointer, from: Int) -> Int? {
    guard let base = p.baseAddress else { return nil }
    var i = max(from, 3)
    let n = p.count
    while i < n {
        guard let hit = memchr(base + i, 0x0A, n - i) else { return nil }
        let at = base.distance(to: UnsafeRawPointer(hit))
        if p[at - 1] == 0x0D && p[at - 2] == 0x0A && p[at - 3] == 0x0D { return at + 1 }
        i = at + 1
    }
    return nil
}

/// Index of the next LF at or after `from` (heads are known to end in CRLFCRLF, so one exists).
@inline(__always)
func nextLF(_ p: UnsafeRawBufferPointer, from: Int) -> Int {
    guard let base = p.baseAddress, from < p.count, let hit = memchr(base + from, 0x0A, p.count - from) else {
        return p.count
    }
    return base.distance(to: UnsafeRawPointer(hit))
}

@inline(__always)
func lower(_ b: UInt8) -> UInt8 { (b &- 65) < 26 ? b | 0x20 : b }

/// Case-insensitive compare of `p[start..<start+len]` with a lowercase ASCII literal.
@inline(__always)
func equalsLower(_ p: UnsafeRawBufferPointer, _ start: Int, _ len: Int, _ lit: StaticString) -> Bool {
    guard lit.utf8CodeUnitCount == len else { return false }
    let l = lit.utf8Start
    for k in 0..<len where lower(p[start + k]) != l[k] { return false }
    return true
}

/// The header names the forwarder acts on.
enum HeaderKind {
    case other, host, contentLength, transferEncoding, connection, hopByHop, xForwardedFor, xRequestID
}

@inline(__always)
func headerKind(_ p: UnsafeRawBufferPointer, _ s: Int, _ n: Int) -> HeaderKind {
    switch n {
    case 2: return equalsLower(p, s, n, "te") ? .hopByHop : .other
    case 4: return equalsLower(p, s, n, "host") ? .host : .other
    case 7: return equalsLower(p, s, n, "upgrade") || equalsLower(p, s, n, "trailer") ? .hopByHop : .other
    case 10:
        if equalsLower(p, s, n, "connection") { return .connection }
        return equalsLower(p, s, n, "keep-alive") ? .hopByHop : .other
    case 12: return equalsLower(p, s, n, "x-request-id") ? .xRequestID : .other
    case 14: return equalsLower(p, s, n, "content-length") ? .contentLength : .other
    case 15: return equalsLower(p, s, n, "x-forwarded-for") ? .xForwardedFor : .other
    case 16: return equalsLower(p, s, n, "proxy-connection") ? .hopByHop : .other
    case 17: return equalsLower(p, s, n, "transfer-encoding") ? .transferEncoding : .other
    default: return .other
    }
}

/// Decimal Content-Length value of `p[s..<e]`, or nil if not a plain non-negative integer.
@inline(__always)
func parseLength(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Int? {
    guard e > s, e - s <= 18 else { return nil }
    var v = 0
    for k in s..<e {
        let d = p[k] &- 48
        guard d < 10 else { return nil }
        v = v * 10 + Int(d)
    }
    return v
}

/// Scans a comma-separated token list (Connection) for `close` and `keep-alive`.
@inline(__always)
func connectionTokens(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> (close: Bool, keepAlive: Bool) {
    var close = false, keep = false
    var i = s
    while i < e {
        while i < e && (p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x2C) { i += 1 }
        var j = i
        while j < e && p[j] != 0x2C { j += 1 }
        var t = j
        while t > i && (p[t - 1] == 0x20 || p[t - 1] == 0x09) { t -= 1 }
        if equalsLower(p, i, t - i, "close") { close = true }
        if equalsLower(p, i, t - i, "keep-alive") { keep = true }
        i = j
    }
    return (close, keep)
}

/// True if the last coding in a Transfer-Encoding value is `chunked`.
@inline(__always)
func endsWithChunked(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Bool {
    guard e - s >= 7 else { return false }
    guard equalsLower(p, e - 7, 7, "chunked") else { return false }
    return e - s == 7 || p[e - 8] == 0x2C || p[e - 8] == 0x20 || p[e - 8] == 0x09
}
