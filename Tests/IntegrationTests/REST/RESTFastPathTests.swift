// The REST gateway's byte-level HTTP/1.1 data path as a client and a service see it: a connection
// that moves to the codec path for a route that needs it and goes on serving, bodies and framings
// passed through, upstream responses with unusual framing (until close, interim 1xx, chunked with
// extensions and trailers, Connection-listed headers, invalid status lines) and the pool reusing
// upstream connections. Real gateway processes, a raw-socket client and a scripted upstream.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@Suite("REST byte-level data path", .serialized)
struct RESTFastPathTests {
    @Test func aConnectionMovesToTheCodecPathForARouteThatNeedsItAndGoesOn() async throws {
        let upstream = try await TestUpstream.start()
        defer { upstream.stop() }
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  echo: { endpoints: ["http://127.0.0.1:\(upstream.port)"] }
                gateways:
                  rest:
                    routes:
                      - { name: echo, match: { prefix: /echo }, service: echo }
                      - name: shaped
                        match: { prefix: /shaped }
                        service: echo
                        rewrite: { stripPrefix: /shaped, addPrefix: /echo }
                        transform: { response: { allow: [method, path], nest: data } }
                """)
        defer { Task { await gateway.stop() } }
        // Three requests in one write: byte level, then a transformed one (the codec path takes the
        // connection over from its first byte), then byte level again on the codec path.
        let text = try await RawSocket.exchange(
            port: gateway.port,
            "GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\nGET /shaped/two HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /echo/three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", untilClosed: true)
        #expect(text.components(separatedBy: "HTTP/1.1 200").count == 4)
        let one = try #require(text.range(of: #""path":"\/echo\/one""#))
        let two = try #require(text.range(of: #"{"data":{"#))
        let three = try #require(text.range(of: #""path":"\/echo\/three""#))
        #expect(one.lowerBound < two.lowerBound && two.lowerBound < three.lowerBound)
        #expect(text.contains(#""path":"/echo/two""#))
    }

    @Test func requestBodiesAndOddRequestsOnRawConnections() async throws {
        let upstream = try await TestUpstream.start()
        defer { upstream.stop() }
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  echo: { endpoints: ["http://127.0.0.1:\(upstream.port)"] }
                gateways:
                  rest:
                    routes:
                      - { name: echo, match: { prefix: /echo }, service: echo }
                """)
        defer { Task { await gateway.stop() } }
        // A chunked body with an extension, passed through and de-chunked only by the service.
        let chunked = try await RawSocket.exchange(
            port: gateway.port,
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "5;note=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", untilClosed: true)
        #expect(chunked.hasPrefix("HTTP/1.1 200"))
        #expect(chunked.contains(#""bodyBytes":11"#))
        #expect(chunked.contains(#""bodySHA":"\#(fnv1a(Array("hello world".utf8)))""#))
        // `Connection: content-length` must not strip the length from a body passed on as it came:
        // the service sees one request with its whole body, never the GET inside it.
        let smuggle = "GET /echo/hidden HTTP/1.1\r\nHost: x\r\n\r\n"
        let listed = try await RawSocket.exchange(
            port: gateway.port,
            "POST /echo/outer HTTP/1.1\r\nHost: x\r\nConnection: content-length, close\r\n"
                + "Content-Length: \(smuggle.utf8.count)\r\n\r\n\(smuggle)", untilClosed: true)
        #expect(listed.hasPrefix("HTTP/1.1 200"))
        #expect(listed.contains(#""bodyBytes":\#(smuggle.utf8.count)"#))
        #expect(!listed.contains("hidden"))
        // A length-framed body split across the head's packet, then a second request on the connection.
        let twoRequests = try await RawSocket.exchange(
            port: gateway.port,
            "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /echo/b HTTP/1.1\r\nHost: x\r\n"
                + "Connection: close\r\n\r\n", untilClosed: true)
        #expect(twoRequests.components(separatedBy: "HTTP/1.1 200").count == 3)
        #expect(twoRequests.contains(#""bodyBytes":3"#))
        // HEAD: a length but no body, and the connection carries on.
        let head = try await RawSocket.exchange(
            port: gateway.port,
            "HEAD /echo/h HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/after-head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            untilClosed: true)
        // Two answers, the second well framed after the first's body-less response.
        #expect(head.components(separatedBy: "HTTP/1.1 ").count == 3)
        #expect(head.contains(#""path":"\/echo\/after-head""#))
        // HTTP/1.0 goes to the codec path and is answered in HTTP/1.0.
        let old = try await RawSocket.exchange(port: gateway.port, "GET /echo/old HTTP/1.0\r\n\r\n", untilClosed: true)
        #expect(old.hasPrefix("HTTP/1.0 200"))
        // A head larger than limits.maxHeaderSize (16 KiB by default): 431. A bare LF, an obs-fold: 400.
        // The connection is closed after each.
        let huge = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 70_000))\r\n\r\n"
        #expect(try await RawSocket.exchange(port: gateway.port, huge, untilClosed: true).hasPrefix("HTTP/1.1 431"))
        let bareLF = try await RawSocket.exchange(
            port: gateway.port, "GET /echo HTTP/1.1\nHost: x\r\n\r\n", untilClosed: true)
        #expect(bareLF.hasPrefix("HTTP/1.1 400"))
        let folded = try await RawSocket.exchange(
            port: gateway.port, "GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  2\r\n\r\n", untilClosed: true)
        #expect(folded.hasPrefix("HTTP/1.1 400"))
        #expect(folded.contains("application/problem+json"))
        // A malformed chunked body after a good start: 400, closed.
        let badChunk = try await RawSocket.exchange(
            port: gateway.port,
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            untilClosed: true)
        #expect(badChunk.hasPrefix("HTTP/1.1 400"))
        #expect(try await RESTGatewayTests.get("\(gateway.baseURL)/echo").status == 200)
    }

    @Test func aShorterDeadlineAfterALongerOneOnTheSameConnectionStillFires() async throws {
        // One timer per connection: armed for the first request's 20 s (the echo service's
        // requestTimeout), it must move earlier for the second request's 500 ms route timeout. The bound
        // below only tells "moved" from "20 s", with room for a loaded machine.
        try await RESTGatewayTests.withGateway { gateway, _ in
            let start = ContinuousClock.now
            let text = try await RawSocket.exchange(
                port: gateway.port,
                "GET /echo/first HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                untilClosed: true)
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(text.contains("HTTP/1.1 504 Gateway Timeout"))
            #expect(text.contains("upstream_timeout"))
            #expect(ContinuousClock.now - start < .seconds(12))
        }
    }

    @Test func upstreamFramingsAreRelayed() async throws {
        let upstream = try await ScriptedUpstream.start([
            "/until-close": ("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", true),
            "/interim": ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false),
            "/chunked": (
                "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nConnection: X-Secret\r\nX-Secret: 1\r\n"
                    + "Keep-Alive: timeout=5\r\nX-Kept: yes\r\nX-Request-Id: from-service\r\n\r\n"
                    + "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n", false
            ),
            "/bad-status": ("HTTP/1.1 2x0 Nope\r\nContent-Length: 0\r\n\r\n", false),
            "/closing": ("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbyes", true),
            "/no-content-and-more": ("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", false),
            "/length-and-chunked": (
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false
            ),
            "/no-reason": ("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", false),
        ])
        defer { upstream.stop() }
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  scripted: { endpoints: ["http://127.0.0.1:\(upstream.port)"], retry: { attempts: 1 } }
                gateways:
                  rest:
                    routes:
                      - { name: scripted, match: { prefix: / }, service: scripted }
                """)
        defer { Task { await gateway.stop() } }
        // The client connection closes after a body that ended with the upstream's close (the
        // socket's 15 s receive timeout would end the read otherwise).
        let started = ContinuousClock.now
        let untilClose = try await RawSocket.exchange(
            port: gateway.port, "GET /until-close HTTP/1.1\r\nHost: x\r\n\r\n", untilClosed: true)
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(untilClose.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(untilClose.lowercased().contains("connection: close\r\n"))
        #expect(untilClose.hasSuffix("\r\n\r\nuntil the end"))

        let interim = try await RESTGatewayTests.get("\(gateway.baseURL)/interim")
        #expect(interim.status == 200)
        #expect(interim.body == Array("ok".utf8))

        let chunked = try await RESTGatewayTests.get("\(gateway.baseURL)/chunked")
        #expect(chunked.status == 201)
        #expect(chunked.body == Array("abcde".utf8))
        #expect(chunked.headers.first(name: "x-secret") == nil)
        #expect(chunked.headers.first(name: "keep-alive") == nil)
        #expect(chunked.headers.first(name: "x-kept") == "yes")
        #expect(chunked.headers["x-request-id"].count == 1)
        #expect(chunked.headers.first(name: "x-request-id") != "from-service")

        // Bytes after a body-less response: the upstream is out of step, its connection is not
        // reused (the next answer is the right one, from a new connection).
        let beforeExtra = upstream.connections
        #expect(try await RESTGatewayTests.get("\(gateway.baseURL)/no-content-and-more").status == 204)
        let afterExtra = try await RawSocket.exchange(
            port: gateway.port, "GET /interim HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", untilClosed: true)
        #expect(afterExtra.hasPrefix("HTTP/1.1 200 OK\r\n") && afterExtra.hasSuffix("\r\n\r\nok"))
        #expect(upstream.connections > beforeExtra)
        // Transfer-Encoding wins and the Content-Length beside it is not passed on (RFC 9112 §6.3).
        let both = try await RawSocket.exchange(
            port: gateway.port, "GET /length-and-chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            untilClosed: true)
        #expect(!both.lowercased().contains("content-length"))
        #expect(both.hasSuffix("3\r\nabc\r\n0\r\n\r\n"))
        // A status line without a reason phrase keeps the space after the code.
        let noReason = try await RawSocket.exchange(
            port: gateway.port, "GET /no-reason HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", untilClosed: true)
        #expect(noReason.hasPrefix("HTTP/1.1 200 \r\n"))

        let bad = try await RESTGatewayTests.get("\(gateway.baseURL)/bad-status")
        #expect(bad.status == 502)
        #expect(RESTGatewayTests.json(bad.body)["code"] as? String == "upstream_error")

        // Keep-alive to the service: sequential requests share pooled connections (one per event
        // loop at most), while a response that says close is not reused.
        let before = upstream.connections
        for _ in 0..<6 { #expect(try await RESTGatewayTests.get("\(gateway.baseURL)/interim").status == 200) }
        #expect(upstream.connections - before <= 2)
        let beforeClosing = upstream.connections
        for _ in 0..<3 {
            #expect(try await RESTGatewayTests.get("\(gateway.baseURL)/closing").body == Array("byes".utf8))
        }
        // The first may reuse an idle connection; each one after needs a new one.
        #expect(upstream.connections - beforeClosing >= 2)
    }
}

/// A service that answers each request (by path, whatever the method) with fixed bytes, and closes
/// the connection afterwards when told to. Counts accepted connections.
final class ScriptedUpstream: Sendable {
    let port: Int
    private let channel: any Channel
    private let accepted: Counter

    var connections: Int { accepted.value.withLock { $0 } }

    private init(port: Int, channel: any Channel, accepted: Counter) {
        self.port = port
        self.channel = channel
        self.accepted = accepted
    }

    static func start(_ script: [String: (String, Bool)]) async throws -> ScriptedUpstream {
        let accepted = Counter()
        let answers = script.mapValues { ScriptedHandler.Answer(bytes: Array($0.0.utf8), close: $0.1) }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.value.withLock { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptedHandler(answers: answers))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedUpstream(port: channel.localAddress?.port ?? 0, channel: channel, accepted: accepted)
    }

    func stop() { channel.close(promise: nil) }

    private final class Counter: Sendable {
        let value = Mutex(0)
    }
}

final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Answer: Sendable {
        var bytes: [UInt8]
        var close: Bool
    }
    let answers: [String: Answer]
    private var received: [UInt8] = []

    init(answers: [String: Answer]) { self.answers = answers }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytesView
        while let end = headEnd() {
            let head = String(decoding: received[..<end], as: UTF8.self)
            received.removeFirst(end)
            let path = head.split(separator: " ").dropFirst().first.map { String($0.prefix { $0 != "?" }) } ?? "/"
            let answer =
                answers[path]
                ?? Answer(bytes: Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8), close: false)
            let write = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: answer.bytes)))
            if answer.close {
                write.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
        }
    }

    private func headEnd() -> Int? {
        guard received.count >= 4 else { return nil }
        for index in 3..<received.count
        where received[index] == 10 && received[index - 1] == 13 && received[index - 2] == 10
            && received[index - 3] == 13
        {
            return index + 1
        }
        return nil
    }
}
