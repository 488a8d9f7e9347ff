// Byte-level rewrite of request and response heads: parse the request line, framing and Connection
// headers, drop hop-by-hop headers, add forwarding headers, copy every other header line as-is.
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// What the client handler needs to know about a request.
struct RequestInfo {
    var framing: Framing
    var keepAlive: Bool
    var isHEAD: Bool
}

/// What the upstream handler needs to know about a response.
struct ResponseInfo {
    var status: Int
    var framing: Framing
    /// The upstream connection cannot be reused after this response.
    var upstreamClose: Bool
}

/// Per-connection values written into every forwarded request head.
struct ForwardingContext {
    /// Path prefix stripped from the request target (bytes, e.g. `/api`).
    var stripPrefix: [UInt8]
    /// Client address as text bytes, for X-Forwarded-For.
    var clientAddress: [UInt8]
}

private let hex: StaticString = "0123456789abcdef"

@inline(__always)
private func writeHex(_ v: UInt64, into out: inout ByteBuffer) {
    let h = hex.utf8Start
    var x = v
    var tmp: (UInt64, UInt64) = (0, 0)
    withUnsafeMutableBytes(of: &tmp) { t in
        for k in stride(from: 15, through: 0, by: -1) {
            t[k] = h[Int(x & 15)]
            x >>= 4
        }
        out.writeBytes(UnsafeRawBufferPointer(t))
    }
}

/// Rewrites the request head `h` (ending in CRLFCRLF) into `out`.
func rewriteRequestHead(
    _ h: UnsafeRawBufferPointer, forwarding f: ForwardingContext, requestID: UInt64, into out: inout ByteBuffer
) throws(ParseError) -> RequestInfo {
    // Request line: METHOD SP target SP HTTP/1.x
    let lineEnd = nextLF(h, from: 0)
    guard lineEnd > 0, h[lineEnd - 1] == 0x0D else { throw .bad("request line not CRLF-terminated") }
    let le = lineEnd - 1
    var sp1 = 0
    while sp1 < le && h[sp1] != 0x20 { sp1 += 1 }
    guard sp1 > 0, sp1 < le else { throw .bad("no method in request line") }
    var sp2 = sp1 + 1
    while sp2 < le && h[sp2] != 0x20 { sp2 += 1 }
    guard sp2 > sp1 + 1, le - sp2 == 9, equalsLower(h, sp2 + 1, 7, "http/1.") else {
        throw .bad("bad request target or version")
    }
    let minor = h[le - 1]
    guard minor == 0x30 || minor == 0x31 else { throw .bad("unsupported HTTP version") }
    let isHEAD = sp1 == 4 && equalsLower(h, 0, 4, "head")

    out.writeBytes(UnsafeRawBufferPointer(rebasing: h[0...sp1]))
    var ts = sp1 + 1
    let pl = f.stripPrefix.count
    if pl > 0, sp2 - ts >= pl, f.stripPrefix.withUnsafeBytes({ memcmp($0.baseAddress!, h.baseAddress! + ts, pl) == 0 }) {
        let after = ts + pl
        if after == sp2 || h[after] == 0x2F || h[after] == 0x3F {
            ts = after
            if after == sp2 || h[after] == 0x3F { out.writeInteger(UInt8(0x2F)) }
        }
    }
    out.writeBytes(UnsafeRawBufferPointer(rebasing: h[ts..<sp2]))
    out.writeStaticString(" HTTP/1.1\r\n")

    var contentLength: Int? = nil
    var chunked = false
    var sawTE = false
    var sawHost = false
    var close = false
    var keep = false
    var xffStart = -1, xffEnd = -1
    var sawRequestID = false
    var pos = lineEnd + 1
    let end = h.count - 2
    while pos < end {
        let lf = nextLF(h, from: pos)
        guard lf < h.count, h[lf - 1] == 0x0D else { throw .bad("header line not CRLF-terminated") }
        let c = h[pos]
        guard c != 0x20 && c != 0x09 else { throw .bad("obsolete header line folding") }
        var colon = pos
        while colon < lf && h[colon] != 0x3A { colon += 1 }
        guard colon < lf, colon > pos, h[colon - 1] != 0x20, h[colon - 1] != 0x09 else {
            throw .bad("malformed header line")
        }
        var vs = colon + 1
        while vs < lf && (h[vs] == 0x20 || h[vs] == 0x09) { vs += 1 }
        var ve = lf - 1
        while ve > vs && (h[ve - 1] == 0x20 || h[ve - 1] == 0x09) { ve -= 1 }
        var keepLine = true
        switch headerKind(h, pos, colon - pos) {
        case .other: break
        case .host:
            guard !sawHost else { throw .bad("more than one Host header") }
            sawHost = true
        case .contentLength:
            guard let v = parseLength(h, vs, ve) else { throw .bad("invalid Content-Length") }
            guard contentLength == nil || contentLength == v else { throw .bad("conflicting Content-Length headers") }
            contentLength = v
        case .transferEncoding:
            sawTE = true
            chunked = endsWithChunked(h, vs, ve)
        case .connection:
            let t = connectionTokens(h, vs, ve)
            close = close || t.close
            keep = keep || t.keepAlive
            keepLine = false
        case .hopByHop:
            keepLine = false
        case .xForwardedFor:
            xffStart = vs
            xffEnd = ve
            keepLine = false
        case .xRequestID:
            sawRequestID = true
        }
        if keepLine { out.writeBytes(UnsafeRawBufferPointer(rebasing: h[pos...lf])) }
        pos = lf + 1
    }
    if sawTE && contentLength != nil { throw .bad("both Content-Length and Transfer-Encoding") }
    if sawTE && !chunked { throw .bad("Transfer-Encoding without final chunked coding") }
    if minor == 0x31 && !sawHost { throw .bad("missing Host header") }

    out.writeStaticString("X-Forwarded-For: ")
    if xffStart >= 0 {
        out.writeBytes(UnsafeRawBufferPointer(rebasing: h[xffStart..<xffEnd]))
        out.writeStaticString(", ")
    }
    out.writeBytes(f.clientAddress)
    out.writeStaticString("\r\nX-Forwarded-Proto: http\r\n")
    if !sawRequestID {
        out.writeStaticString("X-Request-Id: ")
        writeHex(requestID, into: &out)
        out.writeStaticString("\r\n")
    }
    out.writeStaticString("\r\n")

    let framing: Framing = chunked ? .chunked : (contentLength.map { $0 > 0 ? .length($0) : .none } ?? .none)
    let keepAlive = minor == 0x31 ? !close : (keep && !close)
    return RequestInfo(framing: framing, keepAlive: keepAlive, isHEAD: isHEAD)
}

/// Rewrites the response head `h` into `out`: status line and end-to-end headers as-is, hop-by-hop dropped,
/// `Connection: close` added when the client connection will close after this response.
func rewriteResponseHead(
    _ h: UnsafeRawBufferPointer, requestIsHEAD: Bool, clientKeepAlive: Bool, into out: inout ByteBuffer
) throws(ParseError) -> ResponseInfo {
    let lineEnd = nextLF(h, from: 0)
    guard lineEnd >= 13, h[lineEnd - 1] == 0x0D, equalsLower(h, 0, 7, "http/1."), h[8] == 0x20 else {
        throw ParseError(status: "502 Bad Gateway", reason: "bad upstream status line")
    }
    let d0 = h[9] &- 48, d1 = h[10] &- 48, d2 = h[11] &- 48
    guard d0 < 10, d1 < 10, d2 < 10 else { throw ParseError(status: "502 Bad Gateway", reason: "bad upstream status") }
    let status = Int(d0) * 100 + Int(d1) * 10 + Int(d2)
    let http10 = h[7] == 0x30
    out.writeBytes(UnsafeRawBufferPointer(rebasing: h[0...lineEnd]))

    var contentLength: Int? = nil
    var chunked = false
    var close = false
    var keep = false
    var pos = lineEnd + 1
    let end = h.count - 2
    while pos < end {
        let lf = nextLF(h, from: pos)
        var colon = pos
        while colon < lf && h[colon] != 0x3A { colon += 1 }
        guard colon < lf, lf < h.count else { throw ParseError(status: "502 Bad Gateway", reason: "bad upstream header") }
        var vs = colon + 1
        while vs < lf && (h[vs] == 0x20 || h[vs] == 0x09) { vs += 1 }
        var ve = lf - 1
        while ve > vs && (h[ve - 1] == 0x20 || h[ve - 1] == 0x09) { ve -= 1 }
        var keepLine = true
        switch headerKind(h, pos, colon - pos) {
        case .contentLength: contentLength = parseLength(h, vs, ve)
        case .transferEncoding: chunked = endsWithChunked(h, vs, ve)
        case .connection:
            let t = connectionTokens(h, vs, ve)
            close = close || t.close
            keep = keep || t.keepAlive
            keepLine = false
        case .hopByHop: keepLine = false
        default: break
        }
        if keepLine { out.writeBytes(UnsafeRawBufferPointer(rebasing: h[pos...lf])) }
        pos = lf + 1
    }
    let framing: Framing
    if status < 200 || status == 204 || status == 304 || requestIsHEAD {
        framing = .none
    } else if chunked {
        framing = .chunked
    } else if let contentLength {
        framing = contentLength > 0 ? .length(contentLength) : .none
    } else {
        framing = .untilClose
    }
    if !clientKeepAlive || framing == .untilClose {
        out.writeStaticString("Connection: close\r\n")
    }
    out.writeStaticString("\r\n")
    return ResponseInfo(status: status, framing: framing, upstreamClose: close || (http10 && !keep) || framing == .untilClose)
}
