// The byte-level request-head parser: what it reads, and every smuggling and malformed-head case it
// must refuse (RFC 9112 §2.2, §3, §5, §6).
import NIOCore
import Testing

@testable import RESTGateway

@Suite("HTTP/1.1 request head parser")
struct HTTP1RequestHeadTests {
    func parse(_ text: String) throws(HTTP1ParseError) -> (HTTP1RequestHead, [UInt8]) {
        let bytes = Array(text.utf8)
        let result: Result<HTTP1RequestHead, HTTP1ParseError> = bytes.withUnsafeBytes { p in
            guard let end = HTTP1RequestHeadParser.headEnd(p) else { return .failure(.init("incomplete")) }
            do throws(HTTP1ParseError) {
                return .success(try HTTP1RequestHeadParser.parse(p, end: end))
            } catch {
                return .failure(error)
            }
        }
        return (try result.get(), bytes)
    }

    func text(_ bytes: [UInt8], _ range: Range<Int>?) -> String? {
        range.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    @Test func hostNamesForRoutingAreMadeFromTheBytes() throws {
        for (host, expected) in [
            ("api.example.com", "api.example.com"), ("API.Example.COM:8443", "api.example.com"),
            ("127.0.0.1:8080", "127.0.0.1"), ("[::1]:8080", "::1"), ("[FE80::1]", "fe80::1"), ("x:", "x"),
            ("Bücher.example", "bücher.example"),
        ] {
            let (head, bytes) = try parse("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            let request = FastRequest(bytes: .init(bytes: bytes), head: head)
            let range = try #require(head.host)
            #expect(request.hostName(range) == expected)
            #expect(request.hostName(range) == RESTProxyHandler.hostWithoutPort(host))
        }
    }

    func refused(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func readsWhatRoutingAndFramingNeed() throws {
        let (head, bytes) = try parse(
            "POST /api/users?x=1 HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 12\r\nX-A:  spaced value \t\r\n\r\n"
        )
        #expect(text(bytes, head.method) == "POST")
        #expect(text(bytes, head.target) == "/api/users?x=1")
        #expect(head.minorVersion == 1)
        #expect(text(bytes, head.host) == "api.example.com")
        #expect(head.framing == .length(12))
        #expect(head.keepAlive)
        #expect(head.fields.count == 3)
        #expect(text(bytes, head.fields[2].name) == "X-A")
        #expect(text(bytes, head.fields[2].value) == "spaced value")
        #expect(head.length == bytes.count)
    }

    @Test func framingAndConnection() throws {
        #expect(try parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n").0.framing == .none)
        #expect(
            try parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").0.framing == .chunked)
        #expect(try parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n").0.keepAlive == false)
        #expect(try parse("GET / HTTP/1.0\r\n\r\n").0.keepAlive == false)
        #expect(try parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").0.keepAlive)
        // Repeated identical lengths are one length.
        #expect(
            try parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n").0.framing
                == .length(3))
    }

    @Test func incompleteHeadsWait() {
        let partial = Array("GET / HTTP/1.1\r\nHost: x\r\n\r".utf8)
        #expect(partial.withUnsafeBytes { HTTP1RequestHeadParser.headEnd($0) } == nil)
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", "together"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", "conflicting"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\n", "not a number"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4 5\r\n\r\n", "not a number"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "end with chunked"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", "end with chunked"),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0"),
        ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "folded"),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", "before the colon"),
        ("GET / HTTP/1.1\r\nHo\tst: x\r\n\r\n", "invalid characters"),
        ("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", "bare CR"),
        ("GET / HTTP/1.1\nHost: x\r\n\r\n", "LF alone"),
        ("GET / HTTP/1.1\r\nHost: a\u{1}b\r\n\r\n", "control character"),
        ("GET / HTTP/1.1\r\n\r\n", "need a Host"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"),
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", "request target"),
        ("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.0 and HTTP/1.1"),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.0 and HTTP/1.1"),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", "method"),
        ("GET /\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n", "request target"),
    ])
    func refusesWhatSmugglingRelieson(_ head: String, _ reason: String) {
        let error = refused(head)
        #expect(error?.contains(reason) == true, "\(error ?? "accepted")")
    }

    @Test func tooManyFields() {
        let fields = (0...HTTP1RequestHeadParser.maxFields).map { "X-\($0): v\r\n" }.joined()
        #expect(refused("GET / HTTP/1.1\r\nHost: x\r\n\(fields)\r\n")?.contains("more than") == true)
    }
}
