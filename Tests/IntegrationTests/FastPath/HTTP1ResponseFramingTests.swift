// The byte-level data path's response side: status and framing of upstream heads, and chunked
// bodies followed byte by byte to find where a message ends.
import Testing

@testable import RESTGateway

@Suite("HTTP/1.1 response head and chunked framing")
struct HTTP1ResponseFramingTests {
    func parse(_ text: String, head: Bool = false) -> Result<HTTP1ResponseHead, HTTP1ParseError> {
        Array(text.utf8).withUnsafeBytes { p in
            guard let end = HTTP1RequestHeadParser.headEnd(p) else { return .failure(.init("incomplete")) }
            do throws(HTTP1ParseError) {
                return .success(try HTTP1ResponseHeadParser.parse(p, end: end, requestWasHEAD: head))
            } catch {
                return .failure(error)
            }
        }
    }

    @Test func statusAndFraming() throws {
        let ok = try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n").get()
        #expect(ok.status == 200 && ok.framing == .length(5) && ok.reusable && ok.fields.count == 2)
        #expect(try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").get().framing == .chunked)
        #expect(try parse("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n").get().framing == .none)
        #expect(try parse("HTTP/1.1 304 Not Modified\r\n\r\n").get().framing == .none)
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head: true).get().framing == .none)
        let untilClose = try parse("HTTP/1.1 200 OK\r\n\r\n").get()
        #expect(untilClose.framing == .untilClose && !untilClose.reusable)
        #expect(try parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n").get().reusable == false)
        #expect(try parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").get().reusable == false)
        #expect(try parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n").get().reusable)
        #expect(try parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").get().framing == .none)
    }

    @Test(arguments: [
        "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n",
    ])
    func refusesMalformedUpstreamHeads(_ text: String) {
        #expect((try? parse(text).get()) == nil)
    }

    /// Feeds `text` one byte at a time; returns the bytes consumed when the message ended, or -1.
    func track(_ text: String, byteByByte: Bool) -> Int {
        var tracker = HTTP1ChunkedTracker()
        let bytes = Array(text.utf8)
        if !byteByByte {
            return bytes.withUnsafeBytes { tracker.isDone ? 0 : tracker.consume($0) }
        }
        var consumed = 0
        for byte in bytes {
            let used = [byte].withUnsafeBytes { tracker.consume($0) }
            if used < 0 { return -1 }
            consumed += used
            if tracker.isDone { return consumed }
        }
        return tracker.isDone ? consumed : -2
    }

    @Test func chunkedBodiesEndWhereTheyEnd() {
        let body = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
        for byteByByte in [false, true] {
            #expect(track(body + "NEXT", byteByByte: byteByByte) == body.utf8.count)
        }
        #expect(track("0\r\n\r\n", byteByByte: true) == 5)
        #expect(track("5\r\nhel", byteByByte: true) == -2)  // not finished yet
    }

    // The last three end the body at a bare LF for a lenient reader, which would then read what
    // follows as a request of its own (smuggling).
    @Test(arguments: [
        "x\r\n", "5\r\nhelloX\r\n", "\r\n", "1000000000000000\r\n", "0\r\nX: t\n\r\n", "5\nhello\r\n",
        "0\r\n\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", "0;\n\nGET /admin HTTP/1.1\r\n\r\n", "0\r\nX: t\rY\r\n\r\n",
    ])
    func refusesMalformedChunks(_ text: String) {
        #expect(track(text, byteByByte: true) == -1)
    }
}
