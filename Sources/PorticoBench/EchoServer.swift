// The echo backend shared by both paths of the benchmark, on NIO:
//   - `POST /echo`: websocket-gateway's integration call. The body is the gateway's JSON envelope; the
//     answer is its `body` member (the client's message text), so the client gets back exactly what it
//     sent. A body that is not such an envelope is answered as it came.
//   - `GET /ws` with an upgrade: a WebSocket that echoes every data frame as it came (what nginx proxies).
//   - `GET /healthz`: 200, for readiness checks.
import ArgumentParser
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

struct EchoServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-server",
        abstract: "The echo backend: POST /echo (gateway integration), WebSocket echo on /ws, GET /healthz.")

    @OptionGroup var listen: ListenOptions
    @Option(help: "Event loop threads.") var threads = 1

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let channel = try EchoServer.bind(group: group, host: listen.host, port: listen.port).wait()
        emit(["event": "listening", "port": channel.localAddress?.port ?? listen.port])
        try channel.closeFuture.wait()
    }
}

enum EchoServer {
    static func bind(group: any EventLoopGroup, host: String, port: Int) -> EventLoopFuture<any Channel> {
        BenchServer.bind(
            group: group, host: host, port: port, upgrades: { $0.hasPrefix("/ws") },
            webSocket: { try $0.pipeline.syncOperations.addHandler(WebSocketEchoHandler()) },
            http: { HTTPEchoHandler() })
    }

    /// The unescaped `body` string of a gateway envelope, or nil when `buffer` holds no such member. The
    /// gateway writes envelopes compact with sorted keys, so `"body":"` is the first member.
    static func envelopeBody(_ buffer: ByteBuffer) -> ByteBuffer? {
        buffer.withUnsafeReadableBytes { bytes -> ByteBuffer? in
            let key = Array(#""body":""#.utf8)
            guard bytes.count > key.count else { return nil }
            var start = -1
            search: for i in 0...(bytes.count - key.count) {
                for j in 0..<key.count where bytes[i + j] != key[j] { continue search }
                start = i + key.count
                break
            }
            guard start >= 0 else { return nil }
            // Fast path: no escape before the closing quote.
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\") { end += 1 }
            guard end < bytes.count else { return nil }
            if bytes[end] == UInt8(ascii: "\"") {
                return ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            }
            var out = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            var i = end
            func hex4(_ at: Int) -> UInt32? {
                guard at + 4 <= bytes.count else { return nil }
                var value: UInt32 = 0
                for k in at..<(at + 4) {
                    let c = bytes[k]
                    let digit: UInt8
                    switch c {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
                    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
                    default: return nil
                    }
                    value = value << 4 | UInt32(digit)
                }
                return value
            }
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { return out }
                guard c == UInt8(ascii: "\\") else {
                    out.writeInteger(c)
                    i += 1
                    continue
                }
                guard i + 1 < bytes.count else { return nil }
                let escaped = bytes[i + 1]
                i += 2
                switch escaped {
                case UInt8(ascii: "b"): out.writeInteger(UInt8(0x08))
                case UInt8(ascii: "f"): out.writeInteger(UInt8(0x0C))
                case UInt8(ascii: "n"): out.writeInteger(UInt8(0x0A))
                case UInt8(ascii: "r"): out.writeInteger(UInt8(0x0D))
                case UInt8(ascii: "t"): out.writeInteger(UInt8(0x09))
                case UInt8(ascii: "u"):
                    guard var scalar = hex4(i) else { return nil }
                    i += 4
                    if (0xD800...0xDBFF).contains(scalar), i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"),
                        bytes[i + 1] == UInt8(ascii: "u"), let low = hex4(i + 2), (0xDC00...0xDFFF).contains(low)
                    {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    out.writeString(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}"))
                default: out.writeInteger(escaped)  // \" \\ \/
                }
            }
            return nil
        }
    }
}

/// HTTP/1.1 side of the echo backend (keep-alive; NIO's pipelining handler orders the answers).
final class HTTPEchoHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?
    private var body: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
        case .body(var chunk):
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            respond(context: context)
        }
    }

    private func respond(context: ChannelHandlerContext) {
        guard let head else { return }
        self.head = nil
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        let payload: ByteBuffer
        switch (head.method, path) {
        case (.POST, "/echo"):
            let received = body ?? ByteBuffer()
            status = .ok
            payload = EchoServer.envelopeBody(received) ?? received
        case (.GET, "/healthz"):
            status = .ok
            payload = ByteBuffer(string: "ok")
        default:
            status = .notFound
            payload = ByteBuffer(string: "not found")
        }
        body = nil
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(payload.readableBytes))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(payload))), promise: nil)
        if keepAlive {
            context.write(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

/// WebSocket side of the echo backend: every data frame goes back as it came; writes are flushed once per
/// read burst.
final class WebSocketEchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            let reply = WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)
            context.write(wrapOutboundOut(reply), promise: nil)
        case .ping:
            context.write(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            if closing {
                context.close(promise: nil)
            } else {
                closing = true
                var code = frame.unmaskedData
                let reply = WebSocketFrame(
                    fin: true, opcode: .connectionClose,
                    data: code.readSlice(length: min(2, code.readableBytes)) ?? ByteBuffer())
                context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            }
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
