// limits.clientIdleTimeout, clientHeaderTimeout and clientBodyTimeout as a slow client sees them, on
// every listener: real gateway processes, raw sockets that send part of a request (or nothing) and
// then wait. A socket read gives up after 15 s, so a listener that never closes fails the test.
import Foundation
import Testing

@Suite("Client timeouts", .serialized)
struct ClientTimeoutTests {
    static let limits = """
        limits:
          clientIdleTimeout: 1s
          clientHeaderTimeout: 1s
          clientBodyTimeout: 1s

        """

    static func restGateway(upstream: Int, http2: Bool = false, limits: String = limits) async throws -> GatewayProcess
    {
        try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  echo: { endpoints: ["http://127.0.0.1:\(upstream)"] }
                \(limits)
                gateways:
                  rest:
                    http2: \(http2)
                    routes:
                      - { name: echo, match: { prefix: /echo }, service: echo }
                      - { name: delay, match: { prefix: /delay }, service: echo }
                      - name: shaped
                        match: { prefix: /shaped }
                        service: echo
                        rewrite: { stripPrefix: /shaped, addPrefix: /echo }
                        transform: { response: { allow: [method, path], nest: data } }
                """)
    }

    /// Runs `body` against a REST gateway in front of a test service, and stops both after it.
    static func withREST(
        http2: Bool = false, limits: String = limits, _ body: (GatewayProcess, TestUpstream) async throws -> Void
    ) async throws {
        let upstream = try await TestUpstream.start()
        defer { upstream.stop() }
        let gateway = try await restGateway(upstream: upstream.port, http2: http2, limits: limits)
        defer { Task { await gateway.stop() } }
        try await body(gateway, upstream)
    }

    /// The demo configuration with one-second client timeouts.
    static func demoYAML(_ demo: DemoServicesProcess) -> String {
        TestConfig.yaml(demo: demo).replacingOccurrences(of: "limits:\n", with: limits)
    }

    @Test func restClosesAKeepAliveConnectionThatStaysIdle() async throws {
        try await Self.withREST { gateway, _ in
            let fd = try RawSocket.connect(port: gateway.port)
            defer { close(fd) }
            RawSocket.write(fd, "GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\n")
            let (text, closed) = await RawSocket.readUntilClosed(fd)
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(closed, "the idle keep-alive connection was not closed")
            #expect(!text.contains("HTTP/1.1 408"))
        }
    }

    @Test func restAnswers408ToAHeadThatDripsInTooSlowly() async throws {
        try await Self.withREST { gateway, _ in
            let fd = try RawSocket.connect(port: gateway.port)
            defer { close(fd) }
            // A header line every 200 ms: each byte is progress, but the head never ends. Bytes that
            // arrive must not restart the header timeout.
            RawSocket.write(fd, "GET /echo/slow HTTP/1.1\r\nHost: x\r\n")
            let dripping = Task.detached {
                for index in 0..<75 {
                    try await Task.sleep(for: .milliseconds(200))
                    if RawSocket.write(fd, "X-Slow-\(index): 1\r\n") <= 0 { return }
                }
            }
            let (text, closed) = await RawSocket.readUntilClosed(fd)
            dripping.cancel()
            #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout"))
            #expect(text.contains(#""code":"request_timeout""#))
            #expect(text.lowercased().contains("connection: close"))
            #expect(closed)
        }
    }

    @Test func restAnswers408WhenARequestBodyStalls() async throws {
        try await Self.withREST { gateway, _ in
            let fd = try RawSocket.connect(port: gateway.port)
            defer { close(fd) }
            RawSocket.write(fd, "POST /echo/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            let (text, closed) = await RawSocket.readUntilClosed(fd)
            #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout"))
            #expect(text.contains("no request body byte arrived"))
            #expect(closed)
            // The gateway is still serving.
            let after = try await RawSocket.exchange(
                port: gateway.port, "GET /echo/after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                untilClosed: true)
            #expect(after.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func aSlowButSteadyBodyIsNotCutOff() async throws {
        try await Self.withREST(limits: "limits:\n  clientBodyTimeout: 2s\n") { gateway, _ in
            let fd = try RawSocket.connect(port: gateway.port)
            defer { close(fd) }
            // Sixteen bytes over about 4 s, one every 250 ms (from a thread of its own, so a loaded test
            // process cannot stretch the gaps): longer than the body timeout in all, never a gap as long.
            RawSocket.write(
                fd, "POST /echo/steady HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\nConnection: close\r\n\r\n")
            let text = await RawSocket.offPool { () -> String in
                for _ in 0..<16 {
                    usleep(250_000)
                    RawSocket.write(fd, "x")
                }
                return String(decoding: RawSocket.readBytesUntilClosed(fd).0, as: UTF8.self)
            }
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(text.contains(#""bodyBytes":16"#))
        }
    }

    @Test func anEarlyAnswerReachesAClientStillSendingItsBody() async throws {
        try await Self.withREST { gateway, _ in
            // 8 MiB announced against the 1 MiB limit: the gateway answers 413 at once, while the client is
            // still sending. The gateway closes with the body unread (a reset, no lingering close); a
            // Linux client still reads the answer that arrived first, which is what this checks.
            let fd = try RawSocket.connect(port: gateway.port)
            defer { close(fd) }
            let text = await RawSocket.offPool { () -> String in
                RawSocket.write(fd, "POST /echo/upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(8 << 20)\r\n\r\n")
                let chunk = [UInt8](repeating: 0x61, count: 64 << 10)
                for _ in 0..<(8 << 4) {
                    let sent = chunk.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if sent <= 0 { break }
                }
                return String(decoding: RawSocket.readBytesUntilClosed(fd).0, as: UTF8.self)
            }
            #expect(text.hasPrefix("HTTP/1.1 413"), "the client did not get the 413: \(text.prefix(80))")
        }
    }

    @Test func restRefusesAHeadOverMaxHeaderSizeWith431() async throws {
        try await Self.withREST(limits: "limits:\n  maxHeaderSize: 4KiB\n") { gateway, _ in
            let big = String(repeating: "a", count: 5000)
            let refused = try await RawSocket.exchange(
                port: gateway.port, "GET /echo/big HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n", untilClosed: true)
            #expect(refused.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large"))
            #expect(refused.contains(#""code":"headers_too_large""#))
            #expect(refused.contains("larger than 4KiB (limits.maxHeaderSize)"))
            // Refused as soon as the limit is passed, without waiting for the end of the head.
            let endless = try await RawSocket.exchange(
                port: gateway.port, "GET /echo/big HTTP/1.1\r\nHost: x\r\nX-Big: \(big)", untilClosed: true)
            #expect(endless.hasPrefix("HTTP/1.1 431"))
            let small = String(repeating: "a", count: 3000)
            let fits = try await RawSocket.exchange(
                port: gateway.port,
                "GET /echo/fits HTTP/1.1\r\nHost: x\r\nX-Big: \(small)\r\nConnection: close\r\n\r\n",
                untilClosed: true)
            #expect(fits.hasPrefix("HTTP/1.1 200"))
            // On the codec path (after a transformed route) NIO's parser refuses it, with a plain 400.
            let fd = try RawSocket.connect(port: gateway.port)
            defer { close(fd) }
            let (first, second) = await RawSocket.offPool { () -> (String, String) in
                RawSocket.write(fd, "GET /shaped/one HTTP/1.1\r\nHost: x\r\n\r\n")
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(fd, &buffer, buffer.count, 0)
                let first = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
                RawSocket.write(fd, "GET /shaped/two HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n")
                return (first, String(decoding: RawSocket.readBytesUntilClosed(fd).0, as: UTF8.self))
            }
            #expect(first.hasPrefix("HTTP/1.1 200"))
            #expect(second.hasPrefix("HTTP/1.1 400"))
        }
    }

    @Test func graphqlRefusesAHeadOverMaxHeaderSize() async throws {
        let demo = try await DemoServicesProcess.start()
        defer { Task { await demo.stop() } }
        let gateway = try await GatewayProcess.start(
            "graphql",
            configYAML: Self.demoYAML(demo).replacingOccurrences(
                of: "limits:\n", with: "limits:\n  maxHeaderSize: 4KiB\n"))
        defer { Task { await gateway.stop() } }
        let big = String(repeating: "a", count: 5000)
        let refused = try await RawSocket.exchange(
            port: gateway.port, "GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n",
            untilClosed: true)
        // SwiftNIO's parser refuses it under Hummingbird, with a plain 400.
        #expect(refused.hasPrefix("HTTP/1.1 400"), "a 5,000-byte header passed a 4 KiB limit")
        let fits = try await RawSocket.exchange(
            port: gateway.port, "GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            untilClosed: true)
        #expect(fits.hasPrefix("HTTP/1.1 200"))
    }

    @Test func restCodecPathClosesAnIdleConnection() async throws {
        try await Self.withREST { gateway, _ in
            let fd = try RawSocket.connect(port: gateway.port)
            defer { close(fd) }
            // A transformed route moves the connection to the codec path.
            RawSocket.write(fd, "GET /shaped/one HTTP/1.1\r\nHost: x\r\n\r\n")
            let (text, closed) = await RawSocket.readUntilClosed(fd)
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(text.contains(#"{"data":{"#))
            #expect(closed, "the idle connection on the codec path was not closed")
        }
    }

    @Test func restHTTP2ClosesAConnectionWithNoStream() async throws {
        try await Self.withREST(http2: true) { gateway, _ in
            let (received, closed) = try await RawSocket.offPool { try Self.openHTTP2AndWait(port: gateway.port) }
            #expect(received.count >= 9, "the server's SETTINGS frame came")
            #expect(closed, "the idle HTTP/2 connection was not closed")
            #expect(Self.frameTypes(received).contains(7), "no GOAWAY before the close")
        }
    }

    @Test func graphqlCloudEventsAndWebSocketListenersCloseIdleAndSlowClients() async throws {
        let demo = try await DemoServicesProcess.start()
        defer { Task { await demo.stop() } }
        for name in ["graphql", "cloudevents", "websocket"] {
            let gateway = try await GatewayProcess.start(name, configYAML: Self.demoYAML(demo))
            defer { Task { await gateway.stop() } }
            // Connected, nothing sent.
            let silent = try RawSocket.connect(port: gateway.port)
            defer { close(silent) }
            // Half a head (for the WebSocket gateway: half a handshake).
            let partial = try RawSocket.connect(port: gateway.port)
            defer { close(partial) }
            RawSocket.write(partial, "GET / HTTP/1.1\r\nHost: x\r\n")
            let (_, silentClosed) = await RawSocket.readUntilClosed(silent)
            let (_, partialClosed) = await RawSocket.readUntilClosed(partial)
            #expect(silentClosed, "\(name): a connection that sent nothing was not closed")
            #expect(partialClosed, "\(name): a connection with half a head was not closed")
        }
    }

    @Test func slowServicesAreNotCutOffByClientTimeouts() async throws {
        try await Self.withREST(http2: true) { gateway, _ in
            // The service takes 2.5 s, longer than every 1 s client timeout: the client is not the one
            // being waited for. The byte-level path, the codec path (HTTP/1.0) and an HTTP/2 stream.
            let fast = try await RawSocket.exchange(
                port: gateway.port, "GET /delay/2500 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                untilClosed: true)
            #expect(fast.hasPrefix("HTTP/1.1 200"))
            let codec = try await RawSocket.exchange(
                port: gateway.port, "GET /delay/2500 HTTP/1.0\r\n\r\n", untilClosed: true)
            #expect(codec.hasPrefix("HTTP/1.0 200"))
            let curl = try await runTool(
                "/usr/bin/curl",
                [
                    "-s", "--max-time", "10", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                    "%{http_version} %{http_code}", "\(gateway.baseURL)/delay/2500",
                ])
            #expect(curl.text == "2 200")
        }
    }

    @Test func restClosesASilentConnectionWithHTTP2AndTLSOn() async throws {
        // With `http2: true` (the default) the listener first waits to see which version the client
        // speaks; a client that never says is closed after clientHeaderTimeout.
        try await Self.withREST(http2: true) { gateway, upstream in
            let silent = try RawSocket.connect(port: gateway.port)
            defer { close(silent) }
            let partialPreface = try RawSocket.connect(port: gateway.port)
            defer { close(partialPreface) }
            RawSocket.write(partialPreface, "PRI * HTTP/2.0\r\n")
            let (_, silentClosed) = await RawSocket.readUntilClosed(silent)
            let (_, partialClosed) = await RawSocket.readUntilClosed(partialPreface)
            #expect(silentClosed)
            #expect(partialClosed)
            // TLS: a client that starts no handshake.
            let certs = try await TestCertificates.make()
            let tls = try await GatewayProcess.start(
                "rest",
                configYAML: RESTListenerTLSTests.config(upstream: upstream.port, certs: certs) + "\n" + Self.limits)
            defer { Task { await tls.stop() } }
            let noHandshake = try RawSocket.connect(port: tls.port)
            defer { close(noHandshake) }
            let (_, tlsClosed) = await RawSocket.readUntilClosed(noHandshake)
            #expect(tlsClosed, "a TLS connection with no handshake was not closed")
        }
    }

    /// Header 1 s, idle 60 s: a close within the 15 s read timeout can only come from the header timer.
    static let headerOnly = """
        limits:
          clientIdleTimeout: 60s
          clientHeaderTimeout: 1s

        """

    @Test func aTLSHandshakeThatNeverStartsIsClosedAfterTheHeaderTimeout() async throws {
        let upstream = try await TestUpstream.start()
        defer { upstream.stop() }
        let certs = try await TestCertificates.make()
        let tls = try await GatewayProcess.start(
            "rest",
            configYAML: RESTListenerTLSTests.config(upstream: upstream.port, certs: certs, http2: false) + "\n"
                + Self.headerOnly)
        defer { Task { await tls.stop() } }
        let noHandshake = try RawSocket.connect(port: tls.port)
        defer { close(noHandshake) }
        let (_, closed) = await RawSocket.readUntilClosed(noHandshake)
        #expect(closed, "a TLS connection (http2 off) with no handshake was not closed by clientHeaderTimeout")
    }

    @Test func aWebSocketHandshakeAnnouncingABodyIsStillTimedOut() async throws {
        let demo = try await DemoServicesProcess.start()
        defer { Task { await demo.stop() } }
        let yaml = TestConfig.yaml(demo: demo).replacingOccurrences(of: "limits:\n", with: Self.headerOnly)
        let gateway = try await GatewayProcess.start("websocket", configYAML: yaml)
        defer { Task { await gateway.stop() } }
        // An acceptable handshake that announces one body byte and never sends it: NIO waits for the
        // body before upgrading, so only the header timer can end it.
        let fd = try RawSocket.connect(port: gateway.port)
        defer { close(fd) }
        RawSocket.write(
            fd,
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 1\r\n\r\n"
        )
        let (_, closed) = await RawSocket.readUntilClosed(fd)
        #expect(closed, "a handshake waiting for an announced body was never closed")
    }

    @Test func grpcSendsGoAwayToAConnectionWithNoStream() async throws {
        let demo = try await DemoServicesProcess.start()
        defer { Task { await demo.stop() } }
        // A grace period of 1 s, so the backstop for clients that answer no PING closes within the test.
        let yaml = Self.demoYAML(demo).replacingOccurrences(of: "  grpc:\n", with: "  grpc:\n    gracePeriod: 1s\n")
        let gateway = try await GatewayProcess.start("grpc", configYAML: yaml)
        defer { Task { await gateway.stop() } }
        let silent = try RawSocket.connect(port: gateway.port)
        defer { close(silent) }
        let (received, closed) = try await RawSocket.offPool { try Self.openHTTP2AndWait(port: gateway.port) }
        let (_, silentClosed) = await RawSocket.readUntilClosed(silent)
        #expect(silentClosed, "a gRPC connection that sent nothing (and answers no PING) was not closed")
        // A GOAWAY frame (type 7) among what the server sent before closing.
        #expect(Self.frameTypes(received).contains(7), "no GOAWAY")
        #expect(closed, "the idle gRPC connection was not closed")
    }

    /// Opens a prior-knowledge HTTP/2 connection (preface and an empty SETTINGS frame) as a well-behaved
    /// client that opens no stream: it acknowledges SETTINGS and answers PINGs (a graceful GOAWAY
    /// waits for a PING's answer), and reads until the server closes or a read waits 15 s.
    static func openHTTP2AndWait(port: Int) throws -> ([UInt8], Bool) {
        let fd = try RawSocket.connect(port: port)
        defer { close(fd) }
        RawSocket.write(fd, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        sendFrame(fd, type: 4, flags: 0, payload: [])
        var received: [UInt8] = []
        var answered = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return (received, count == 0 || errno == ECONNRESET) }
            received += buffer[0..<count]
            // Answer the complete frames not answered yet.
            var index = 0
            var frame = 0
            while index + 9 <= received.count {
                let length = Int(received[index]) << 16 | Int(received[index + 1]) << 8 | Int(received[index + 2])
                guard index + 9 + length <= received.count else { break }
                if frame >= answered {
                    let type = received[index + 3]
                    let flags = received[index + 4]
                    if type == 4 && flags & 1 == 0 { sendFrame(fd, type: 4, flags: 1, payload: []) }
                    if type == 6 && flags & 1 == 0 {
                        sendFrame(fd, type: 6, flags: 1, payload: Array(received[(index + 9)..<(index + 9 + length)]))
                    }
                    answered = frame + 1
                }
                frame += 1
                index += 9 + length
            }
        }
    }

    static func sendFrame(_ fd: Int32, type: UInt8, flags: UInt8, payload: [UInt8]) {
        let bytes =
            [UInt8(payload.count >> 16 & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count & 0xff)]
            + [type, flags, 0, 0, 0, 0] + payload
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The frame types in a run of HTTP/2 frames.
    static func frameTypes(_ bytes: [UInt8]) -> [UInt8] {
        var types: [UInt8] = []
        var index = 0
        while index + 9 <= bytes.count {
            let length = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            types.append(bytes[index + 3])
            index += 9 + length
        }
        return types
    }
}

extension RawSocket {
    @discardableResult
    static func write(_ fd: Int32, _ text: String) -> Int {
        text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the peer closes (true) or a read times out (false).
    static func readBytesUntilClosed(_ fd: Int32) -> ([UInt8], Bool) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var received: [UInt8] = []
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return (received, true) }
            if count < 0 { return (received, errno == ECONNRESET) }
            received += buffer[0..<count]
        }
    }

    /// Reads until the peer closes, on a thread of its own: the blocking reads wait for seconds, and
    /// the cooperative pool (2 threads here) also runs the in-process services other tests call.
    static func readUntilClosed(_ fd: Int32) async -> (String, Bool) {
        let (bytes, closed) = await offPool { readBytesUntilClosed(fd) }
        return (String(decoding: bytes, as: UTF8.self), closed)
    }

    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}
