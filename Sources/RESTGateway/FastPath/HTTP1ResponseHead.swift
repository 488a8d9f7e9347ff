// The response side of the byte-level data path: the status line and the framing of an upstream's
// response head (RFC 9112 §4, §6.3), read from raw bytes. Header lines stay byte ranges, so the head
// is forwarded by copying them (hop-by-hop ones left out).

struct HTTP1ResponseHead {
    enum Framing: Equatable {
        /// No body: HEAD, 1xx, 204, 304, or a zero length.
        case none
        case length(Int)
        case chunked
        /// The body ends when the upstream closes the connection.
        case untilClose
    }

    var status: Int
    var minorVersion: Int
    var fields: [HTTP1RequestHead.Field]
    var framing: Framing
    /// Whether the upstream connection can carry another request after this response.
    var reusable: Bool
    var length: Int
}

enum HTTP1ResponseHeadParser {
    /// Parses the head that ends at `end`; `requestWasHEAD` decides framing for HEAD responses.
    static func parse(_ p: UnsafeRawBufferPointer, end: Int, requestWasHEAD: Bool) throws(HTTP1ParseError)
        -> HTTP1ResponseHead
    {
        guard end >= 16, HTTP1RequestHeadParser.matches(p, 0, "HTTP/1."), p[7] == 0x30 || p[7] == 0x31,
            p[8] == 0x20
        else { throw .init("the upstream's status line is not HTTP/1.x") }
        let d0 = p[9] &- 0x30
        let d1 = p[10] &- 0x30
        let d2 = p[11] &- 0x30
        guard d0 < 10, d1 < 10, d2 < 10, d0 >= 1, p[12] == 0x20 || p[12] == 0x0D else {
            throw .init("the upstream's status code is not three digits")
        }
        let status = Int(d0) * 100 + Int(d1) * 10 + Int(d2)
        let minor = Int(p[7] - 0x30)
        var start = 12
        while start < end && p[start] != 0x0D {
            guard p[start] == 0x09 || (p[start] >= 0x20 && p[start] != 0x7F) || p[start] >= 0x80 else {
                throw .init("the upstream's reason phrase has a control character")
            }
            start += 1
        }
        guard start + 1 < end, p[start + 1] == 0x0A else {
            throw .init("the upstream's status line is not CRLF-terminated")
        }
        start += 2

        var fields: [HTTP1RequestHead.Field] = []
        fields.reserveCapacity(16)  // One allocation for a typical head (growing from empty takes three).
        var contentLength: Int?
        var transferEncoding = false
        var chunked = false
        var close = false
        var keepAliveToken = false
        while start < end - 2 {
            var stop = start
            while stop < end && p[stop] != 0x0D && p[stop] != 0x0A { stop += 1 }
            guard stop + 1 < end, p[stop] == 0x0D, p[stop + 1] == 0x0A else {
                throw .init("an upstream header line does not end in CRLF")
            }
            guard p[start] != 0x20 && p[start] != 0x09 else { throw .init("the upstream folded a header line") }
            var colon = start
            while colon < stop && HTTP1RequestHeadParser.isTokenChar(p[colon]) { colon += 1 }
            guard colon > start, colon < stop, p[colon] == 0x3A else {
                throw .init("an upstream header name is invalid")
            }
            var valueStart = colon + 1
            while valueStart < stop && (p[valueStart] == 0x20 || p[valueStart] == 0x09) { valueStart += 1 }
            var valueEnd = stop
            while valueEnd > valueStart && (p[valueEnd - 1] == 0x20 || p[valueEnd - 1] == 0x09) { valueEnd -= 1 }
            let name = start..<colon
            let value = valueStart..<valueEnd
            fields.append(.init(line: start..<stop, name: name, value: value))
            guard fields.count <= HTTP1RequestHeadParser.maxFields else {
                throw .init("too many upstream header fields")
            }
            if HTTP1RequestHeadParser.equalsLowercase(p, name, "content-length") {
                guard let length = HTTP1RequestHeadParser.decimal(p, value) else {
                    throw .init("the upstream's Content-Length is not a number")
                }
                if let contentLength, contentLength != length { throw .init("the upstream sent conflicting lengths") }
                contentLength = length
            } else if HTTP1RequestHeadParser.equalsLowercase(p, name, "transfer-encoding") {
                transferEncoding = true
                chunked = HTTP1RequestHeadParser.lastCodingIsChunked(p, value)
            } else if HTTP1RequestHeadParser.equalsLowercase(p, name, "connection") {
                let tokens = HTTP1RequestHeadParser.connectionTokens(p, value)
                close = close || tokens.close
                keepAliveToken = keepAliveToken || tokens.keepAlive
            }
            start = stop + 2
        }
        let framing: HTTP1ResponseHead.Framing
        if requestWasHEAD || status < 200 || status == 204 || status == 304 {
            framing = .none
        } else if transferEncoding {
            // RFC 9112 §6.3: with Transfer-Encoding the length is ignored; a final coding other than
            // chunked means the body runs to the close.
            framing = chunked ? .chunked : .untilClose
        } else if let contentLength {
            framing = contentLength > 0 ? .length(contentLength) : .none
        } else {
            framing = .untilClose
        }
        let persistent = minor == 1 ? !close : keepAliveToken && !close
        return HTTP1ResponseHead(
            status: status, minorVersion: minor, fields: fields, framing: framing,
            reusable: persistent && framing != .untilClose, length: end)
    }
}
