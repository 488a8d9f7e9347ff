// The broadcast floor: the least a WebSocket server can do per delivery, on NIO, with the same load
// generator (`portico-bench broadcast`) as websocket-gateway. Every text message a client sends is a
// subscription (answered `{"type":"subscribed"}`); `POST /channels/<name>/messages` writes its body as
// one text frame to every subscriber: one shared buffer, one task per event loop, one write and flush per
// connection, as the gateway does, but with no channel state, offsets, JSON, policy or metrics. What the
// gateway takes beyond this is its own; what this takes is the machine's (loopback TCP on shared cores).
import ArgumentParser
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

struct FanoutServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout-server",
        abstract: "Minimal WebSocket fan-out (the broadcast floor): subscribe with any text, POST to publish.")

    @OptionGroup var listen: ListenOptions
    @Option(help: "Event loop threads.") var threads = System.coreCount

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let subscribers = FanoutSubscribers()
        let channel = try BenchServer.bind(
            group: group, host: listen.host, port: listen.port, upgrades: { _ in true },
            webSocket: { try $0.pipeline.syncOperations.addHandler(FanoutSubscriber(subscribers)) },
            http: { FanoutPublishHandler(subscribers) }
        ).wait()
        emit(["event": "listening", "port": channel.localAddress?.port ?? listen.port])
        try channel.closeFuture.wait()
    }
}

/// Subscribed channels, by event loop.
final class FanoutSubscribers: Sendable {
    private let byLoop = NIOLockedValueBox<[ObjectIdentifier: (loop: any EventLoop, channels: [any Channel])]>([:])

    func add(_ channel: any Channel) {
        byLoop.withLockedValue {
            $0[ObjectIdentifier(channel.eventLoop), default: (channel.eventLoop, [])].channels.append(channel)
        }
    }

    /// Writes `payload` as a text frame to every subscriber, one task per event loop.
    func publish(_ payload: ByteBuffer) {
        for (_, group) in byLoop.withLockedValue({ $0 }) {
            let channels = group.channels
            group.loop.execute {
                for channel in channels where channel.isActive {
                    channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: payload), promise: nil)
                }
            }
        }
    }
}

final class FanoutSubscriber: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let subscribers: FanoutSubscribers
    private var subscribed = false

    init(_ subscribers: FanoutSubscribers) { self.subscribers = subscribers }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text where !subscribed:
            subscribed = true
            subscribers.add(context.channel)
            let answer = ByteBuffer(string: #"{"type":"subscribed"}"#)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: answer)), promise: nil)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// `POST /channels/<name>/messages`: fans the body out and answers 200; `GET /healthz`: 200 (readiness);
/// anything else is 404.
final class FanoutPublishHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let subscribers: FanoutSubscribers
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(_ subscribers: FanoutSubscribers) { self.subscribers = subscribers }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            self.head = nil
            let publish = head.method == .POST && head.uri.hasPrefix("/channels/")
            if publish { subscribers.publish(body) }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "0")
            // 200 for a publication, as websocket-gateway answers: the load generator expects every
            // subscriber to receive each publication answered 200, and waits for them.
            let status: HTTPResponseStatus =
                publish || (head.method == .GET && head.uri == "/healthz") ? .ok : .notFound
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
