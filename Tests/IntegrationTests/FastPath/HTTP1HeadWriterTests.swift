// The byte-level head writer: target replaced, header lines copied as they came (case and spacing),
// hop-by-hop, Connection-listed and gateway-owned headers left out, the gateway's own added.
import NIOCore
import Testing

@testable import RESTGateway

@Suite("HTTP/1.1 head writer")
struct HTTP1HeadWriterTests {
    func rewrite(
        _ text: String, target: String, drop: [String] = [], extra: [(String, String)] = []
    ) throws -> String {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { p in
            let end = try #require(HTTP1RequestHeadParser.headEnd(p))
            let head = try HTTP1RequestHeadParser.parse(p, end: end)
            var out = ByteBuffer()
            HTTP1HeadWriter.writeRequest(
                p, head: head, target: target, drop: HTTP1HeaderNameSet(drop), extra: extra, into: &out)
            return String(buffer: out)
        }
    }

    @Test func copiesLinesAndReplacesTheGatewaysOwn() throws {
        let written = try rewrite(
            "GET /api/users?x=1 HTTP/1.1\r\nHost: gw.example\r\nX-Custom:  Keep  Me\r\nConnection: keep-alive, X-Secret\r\n"
                + "X-Secret: s\r\nKeep-Alive: timeout=5\r\nX-Forwarded-For: 6.6.6.6\r\nAccept: */*\r\n\r\n",
            target: "/users?x=1", drop: ["host", "x-forwarded-for"],
            extra: [("host", "users:8080"), ("x-forwarded-for", "127.0.0.1")])
        #expect(
            written
                == "GET /users?x=1 HTTP/1.1\r\nX-Custom:  Keep  Me\r\nAccept: */*\r\nhost: users:8080\r\n"
                + "x-forwarded-for: 127.0.0.1\r\n\r\n")
    }

    @Test func chunkedFramingIsKept() throws {
        let written = try rewrite(
            "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n", target: "/y",
            drop: ["host"])
        #expect(written == "POST /y HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n")
    }

    @Test func nameSetMatchesCaseInsensitively() {
        let set = HTTP1HeaderNameSet(["X-Portico-Subject", "forwarded"])
        let bytes = Array("x-PORTICO-subject Forwarded forwarde".utf8)
        bytes.withUnsafeBytes { p in
            #expect(set.contains(p, 0..<17))
            #expect(set.contains(p, 18..<27))
            #expect(!set.contains(p, 28..<36))
        }
    }
}
