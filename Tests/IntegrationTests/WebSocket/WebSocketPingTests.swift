// Server pings on a connection served on the event loop (no extension negotiated): the gateway pings every
// `pingInterval`; a client that answers stays open, one that does not is closed with 1001 "ping timeout"
// by the next ping, and the close is counted under its code. Raw sockets, so the test decides what the
// client answers (WebSocket libraries answer pings on their own).
import Dispatch
import Foundation
import Synchronization
import Testing

@Suite("WebSocket liveness: server pings and half-closed connections", .serialized)
struct WebSocketPingTests {
    /// One frame from the server (never masked; control frames only here, so short).
    struct Frame {
        var opcode: UInt8
        var payload: [UInt8]
    }

    final class Received: Sendable {
        let frames = Mutex<[Frame]>([])
    }

    /// A raw client on a blocking socket; reads run on a dispatch thread, not the test's pool.
    final class RawClient: Sendable {
        let fd: Int32

        init(port: Int) throws {
            fd = try RawSocket.connect(port: port)
            let request =
                "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            _ = request.withCString { Glibc.send(fd, $0, strlen($0), 0) }
            let head = try readHead()
            guard head.hasPrefix("HTTP/1.1 101") else {
                close(fd)
                throw HarnessError(description: "no 101: \(head)")
            }
        }

        deinit { close(fd) }

        private func readHead() throws -> String {
            var bytes: [UInt8] = []
            var byte: UInt8 = 0
            while !bytes.suffix(4).elementsEqual([13, 10, 13, 10]) {
                guard recv(fd, &byte, 1, 0) == 1 else { throw HarnessError(description: "handshake cut short") }
                bytes.append(byte)
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        private func readExactly(_ count: Int) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: count)
            var read = 0
            while read < count {
                let got = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + read, count - read, 0) }
                guard got > 0 else { return nil }
                read += got
            }
            return bytes
        }

        /// The next frame, or nil when the connection ends (or nothing comes within 15 s).
        func next() async -> Frame? {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: self.readFrame()) }
            }
        }

        private func readFrame() -> Frame? {
            guard let header = readExactly(2) else { return nil }
            let length = Int(header[1] & 0x7f)
            guard length < 126, let payload = readExactly(length) else { return nil }
            return Frame(opcode: header[0] & 0x0f, payload: payload)
        }

        /// Reads every frame on a thread of its own until the connection ends, answering each ping at once
        /// (the suite's load can keep a test's task from running for longer than a ping interval).
        func answerPings() -> Received {
            let received = Received()
            Thread.detachNewThread {
                while let frame = self.readFrame() {
                    if frame.opcode == 0x9 { self.send(opcode: 0xA, payload: frame.payload) }
                    received.frames.withLock { $0.append(frame) }
                }
            }
            return received
        }

        /// Closes the client's sending side (a FIN, no close frame).
        func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

        /// Whether the server ends the connection (the client reads its end) before the socket's read timeout.
        func readsTheEnd() async -> Bool {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    var byte: UInt8 = 0
                    while true {
                        let got = recv(self.fd, &byte, 1, 0)
                        if got > 0 { continue }  // frames before the end do not matter here
                        return continuation.resume(returning: got == 0)
                    }
                }
            }
        }

        /// Sends a masked control frame.
        func send(opcode: UInt8, payload: [UInt8]) {
            let mask: [UInt8] = [1, 2, 3, 4]
            var frame: [UInt8] = [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask
            frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
            _ = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        }
    }

    @Test func answeredPingsKeepAConnectionAndAMissingPongClosesIt() async throws {
        let edit = WebSocketGatewayTests.websocketKeys("    pingInterval: 1s\n")
        try await WebSocketGatewayTests.withGateway(edit: edit) { gateway, _ in
            let answering = try RawClient(port: gateway.port)
            let silent = try RawClient(port: gateway.port)

            let answered = answering.answerPings()

            // The silent one: a ping, then (unanswered) a close 1001 "ping timeout", then the end.
            var frames: [Frame] = []
            while let frame = await silent.next() { frames.append(frame) }
            let close = try #require(frames.last)
            #expect(frames.first?.opcode == 0x9)
            #expect(close.opcode == 0x8)
            #expect(Array(close.payload.prefix(2)) == [0x03, 0xE9])  // 1001
            #expect(String(decoding: close.payload.dropFirst(2), as: UTF8.self) == "ping timeout")

            // The answering one gets a ping each interval and stays open through three of them.
            #expect(try await WebSocketGatewayTests.eventually { answered.frames.withLock { $0.count >= 3 } })
            let seen = answered.frames.withLock { $0 }
            #expect(seen.allSatisfy { $0.opcode == 0x9 }, "\(seen.map(\.opcode))")

            let metrics = try await WebSocketGatewayTests.http("\(gateway.adminURL)/metrics").body
            #expect(metrics.contains(#"code="1001""#))
        }
    }

    /// A client whose TCP connection ends without a close frame (here: it shuts down its sending side) is
    /// gone at once, as 1006, not at the next missing pong.
    @Test func aClientThatEndsItsSideWithoutACloseFrameIsDisconnectedAtOnce() async throws {
        try await WebSocketGatewayTests.withGateway { gateway, _ in
            let client = try RawClient(port: gateway.port)
            client.shutdownWrite()
            // The gateway closes the socket: the client reads the end, not its 15 s read timeout (the default
            // ping interval is 30 s, so no ping closed it).
            #expect(await client.readsTheEnd())
            #expect(
                try await WebSocketGatewayTests.eventually {
                    let metrics = try await WebSocketGatewayTests.http("\(gateway.adminURL)/metrics").body
                    return metrics.contains(#"code="1006""#)
                        && metrics.contains(#"portico_websocket_connections_open{gateway="websocket"} 0"#)
                })
        }
    }
}
