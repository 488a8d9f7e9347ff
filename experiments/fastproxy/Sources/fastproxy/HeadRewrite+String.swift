// String-based variant of the head rewrite, for the A/B measurement only: the same decisions as
// HeadRewrite.swift, written the way a first version usually is (decode to String, split lines,
// lowercase names, build the new head as a String).
import NIOCore

func rewriteRequestHeadString(
    _ h: UnsafeRawBufferPointer, forwarding f: ForwardingContext, requestID: UInt64, into out: inout ByteBuffer
) throws(ParseError) -> RequestInfo {
    let text = String(decoding: h, as: UTF8.self)
    var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
    guard !lines.isEmpty else { throw .bad("empty head") }
    let requestLine = lines.removeFirst()
    let parts = requestLine.split(separator: " ")
    guard parts.count == 3 else { throw .bad("bad request line") }
    let version = String(parts[2])
    guard version == "HTTP/1.1" || version == "HTTP/1.0" else { throw .bad("unsupported HTTP version") }
    let method = String(parts[0])
    var target = String(parts[1])
    let prefix = String(decoding: f.stripPrefix, as: UTF8.self)
    if !prefix.isEmpty, target.hasPrefix(prefix) {
        let rest = target.dropFirst(prefix.count)
        if rest.isEmpty || rest.hasPrefix("/") || rest.hasPrefix("?") {
            target = rest.hasPrefix("/") ? String(rest) : "/" + rest
        }
    }
    var head = method + " " + target + " HTTP/1.1\r\n"
    var contentLength: Int? = nil
    var chunked = false, sawTE = false, sawHost = false, close = false, keep = false, sawRequestID = false
    var xff: String? = nil
    for line in lines {
        guard let colon = line.firstIndex(of: ":") else { throw .bad("malformed header line") }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingSpaces()
        switch name {
        case "host":
            guard !sawHost else { throw .bad("more than one Host header") }
            sawHost = true
        case "content-length":
            guard let v = Int(value), v >= 0 else { throw .bad("invalid Content-Length") }
            guard contentLength == nil || contentLength == v else { throw .bad("conflicting Content-Length headers") }
            contentLength = v
        case "transfer-encoding":
            sawTE = true
            chunked = value.lowercased().hasSuffix("chunked")
        case "connection":
            for token in value.lowercased().split(separator: ",") {
                let t = token.trimmingSpaces()
                if t == "close" { close = true }
                if t == "keep-alive" { keep = true }
            }
            continue
        case "keep-alive", "proxy-connection", "te", "trailer", "upgrade":
            continue
        case "x-forwarded-for":
            xff = value
            continue
        case "x-request-id":
            sawRequestID = true
        default: break
        }
        head += line + "\r\n"
    }
    if sawTE && contentLength != nil { throw .bad("both Content-Length and Transfer-Encoding") }
    if sawTE && !chunked { throw .bad("Transfer-Encoding without final chunked coding") }
    if version == "HTTP/1.1" && !sawHost { throw .bad("missing Host header") }
    let client = String(decoding: f.clientAddress, as: UTF8.self)
    head += "X-Forwarded-For: " + (xff.map { $0 + ", " } ?? "") + client + "\r\n"
    head += "X-Forwarded-Proto: http\r\n"
    if !sawRequestID {
        let id = String(requestID, radix: 16)
        head += "X-Request-Id: " + String(repeating: "0", count: 16 - id.count) + id + "\r\n"
    }
    head += "\r\n"
    out.writeString(head)
    let framing: Framing = chunked ? .chunked : (contentLength.map { $0 > 0 ? .length($0) : .none } ?? .none)
    let keepAlive = version == "HTTP/1.1" ? !close : (keep && !close)
    return RequestInfo(framing: framing, keepAlive: keepAlive, isHEAD: method == "HEAD")
}

func rewriteResponseHeadString(
    _ h: UnsafeRawBufferPointer, requestIsHEAD: Bool, clientKeepAlive: Bool, into out: inout ByteBuffer
) throws(ParseError) -> ResponseInfo {
    let text = String(decoding: h, as: UTF8.self)
    var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
    guard !lines.isEmpty else { throw ParseError(status: "502 Bad Gateway", reason: "empty upstream head") }
    let statusLine = lines.removeFirst()
    let parts = statusLine.split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
        throw ParseError(status: "502 Bad Gateway", reason: "bad upstream status line")
    }
    let http10 = parts[0] == "HTTP/1.0"
    var head = String(statusLine) + "\r\n"
    var contentLength: Int? = nil
    var chunked = false, close = false, keep = false
    for line in lines {
        guard let colon = line.firstIndex(of: ":") else {
            throw ParseError(status: "502 Bad Gateway", reason: "bad upstream header")
        }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingSpaces()
        switch name {
        case "content-length": contentLength = Int(value)
        case "transfer-encoding": chunked = value.lowercased().hasSuffix("chunked")
        case "connection":
            for token in value.lowercased().split(separator: ",") {
                let t = token.trimmingSpaces()
                if t == "close" { close = true }
                if t == "keep-alive" { keep = true }
            }
            continue
        case "keep-alive", "proxy-connection", "te", "trailer", "upgrade": continue
        default: break
        }
        head += line + "\r\n"
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
    if !clientKeepAlive || framing == .untilClose { head += "Connection: close\r\n" }
    head += "\r\n"
    out.writeString(head)
    return ResponseInfo(status: status, framing: framing, upstreamClose: close || (http10 && !keep) || framing == .untilClose)
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
