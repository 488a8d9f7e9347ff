// Opening client WebSocket connections on NIO: TCP connect, the HTTP/1.1 upgrade with NIO's
// NIOWebSocketClientUpgrader, then the caller's handler on a frame pipeline. `openMany` opens
// thousands with a bound on the attempts in flight, the way a fleet of clients reconnects.
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// `SCHEME://host:port/path` split up (no TLS: the benchmark is loopback only).
struct URLTarget: Sendable {
    var host: String
    var port: Int
    var path: String

    init(url: String, scheme: String) throws {
        let prefix = scheme + "://"
        guard url.hasPrefix(prefix) else { throw BenchError.badURL(url) }
        let rest = url.dropFirst(prefix.count)
        let authority = rest.prefix { $0 != "/" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...])
        else { throw BenchError.badURL(url) }
        host = String(authority[..<colon])
        self.port = port
    }
}

enum BenchError: Error, CustomStringConvertible {
    case badURL(String)
    case notUpgraded(String)
    case timedOut(String)
    case closed(String)

    var description: String {
        switch self {
        case .badURL(let url): "not a ws:// or http://host:port/path URL: \(url)"
        case .notUpgraded(let detail): "upgrade refused: \(detail)"
        case .timedOut(let what): "timed out: \(what)"
        case .closed(let what): "connection closed: \(what)"
        }
    }
}

/// Opens one WebSocket connection on `loop`. The future succeeds once the upgrade is done and the handler
/// from `makeHandler` (created on the loop) is in the pipeline, after a frame aggregator. `headers` go
/// with the upgrade request.
func openWebSocket(
    on loop: any EventLoop, target: URLTarget, timeout: TimeAmount, headers: [(String, String)] = [],
    makeHandler: @escaping @Sendable () -> any ChannelHandler
) -> EventLoopFuture<any Channel> {
    let upgraded = loop.makePromise(of: Void.self)
    let connected = ClientBootstrap(group: loop)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connectTimeout(timeout)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 20, automaticErrorHandling: true) {
                    channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        // The watcher sits after the HTTP handlers; frames must not reach it.
                        pipeline.removeHandler(name: UpgradeWatcher.name, promise: nil)
                        try pipeline.addHandler(
                            NIOWebSocketFrameAggregator(
                                minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024,
                                maxAccumulatedFrameSize: 1 << 20))
                        try pipeline.addHandler(makeHandler())
                        upgraded.succeed(())
                    }
                }
                let pipeline = channel.pipeline.syncOperations
                try pipeline.addHTTPClientHandlers(
                    withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                try pipeline.addHandler(UpgradeWatcher(upgraded: upgraded), name: UpgradeWatcher.name)
            }
        }
        .connect(host: target.host, port: target.port)
    connected.whenFailure { upgraded.fail($0) }
    return connected.flatMap { channel in
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path)
        head.headers.add(name: "Host", value: "\(target.host):\(target.port)")
        head.headers.add(name: "Content-Length", value: "0")
        head.headers.add(contentsOf: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let timer = loop.scheduleTask(in: timeout) {
            upgraded.fail(BenchError.timedOut("upgrade"))
            channel.close(promise: nil)
        }
        return upgraded.futureResult.map {
            timer.cancel()
            return channel
        }
    }
}

/// Fails the upgrade promise when the server answers without upgrading, errors, or closes first.
/// Removed from the pipeline once the upgrade has succeeded.
final class UpgradeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    static let name = "portico-bench-upgrade-watcher"

    private let upgraded: EventLoopPromise<Void>

    init(upgraded: EventLoopPromise<Void>) {
        self.upgraded = upgraded
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            upgraded.fail(BenchError.notUpgraded("HTTP \(head.status.code)"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        upgraded.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        upgraded.fail(BenchError.closed("before the upgrade"))
        context.fireChannelInactive()
    }
}

/// The open connections and the failed attempts of `openMany`.
struct OpenedConnections {
    var channels: [any Channel]
    var failures: [String: Int]

    var failureCount: Int { failures.values.reduce(0, +) }
}

/// Opens `count` connections over the loops of `group`, at most `concurrency` attempts at once. `open`
/// starts one attempt on a loop; its future completes when that connection is ready (for example
/// upgraded and subscribed). Blocks the calling thread (never an event loop) until every attempt ended.
func openMany(
    count: Int, concurrency: Int, group: any EventLoopGroup, progressEvery: Int = 0,
    open: @escaping @Sendable (any EventLoop) -> EventLoopFuture<any Channel>
) -> OpenedConnections {
    let slots = DispatchSemaphore(value: max(1, concurrency))
    let finished = DispatchGroup()
    let result = NIOLockedValueBox(OpenedConnections(channels: [], failures: [:]))
    let started = monotonicNanoseconds()
    for index in 0..<count {
        slots.wait()
        finished.enter()
        open(group.next()).whenComplete { outcome in
            result.withLockedValue { result in
                switch outcome {
                case .success(let channel): result.channels.append(channel)
                case .failure(let error): result.failures["\(error)", default: 0] += 1
                }
            }
            slots.signal()
            finished.leave()
        }
        if progressEvery > 0, (index + 1) % progressEvery == 0 {
            let seconds = Double(monotonicNanoseconds() - started) / 1e9
            log("\(index + 1)/\(count) connection attempts started (\(String(format: "%.1f", seconds)) s)")
        }
    }
    finished.wait()
    return result.withLockedValue { $0 }
}

/// Closes every channel politely (a close frame with 1000, then the TCP connection) and waits, bounded.
func closeAll(_ channels: [any Channel], timeout: TimeAmount = .seconds(20)) {
    let finished = DispatchGroup()
    for channel in channels {
        finished.enter()
        let close = WebSocketFrame(
            fin: true, opcode: .connectionClose, maskKey: .random(), data: ByteBuffer(bytes: [0x03, 0xE8]))
        channel.writeAndFlush(close).whenComplete { _ in
            channel.close().whenComplete { _ in finished.leave() }
        }
    }
    _ = finished.wait(timeout: .now() + .nanoseconds(Int(timeout.nanoseconds)))
}

/// What every client handler does with control frames: answer pings, and on a close frame from the server
/// note its code and close the connection.
protocol BenchClientHandler: ChannelInboundHandler where InboundIn == WebSocketFrame, OutboundOut == WebSocketFrame {
    var serverCloseCode: Int? { get set }
}

extension BenchClientHandler {
    /// Handles ping, pong and close; true when the frame was one of them.
    func handleControl(context: ChannelHandlerContext, frame: WebSocketFrame) -> Bool {
        switch frame.opcode {
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            return true
        case .pong:
            return true
        case .connectionClose:
            var data = frame.unmaskedData
            serverCloseCode = data.readInteger(as: UInt16.self).map(Int.init) ?? 1005
            context.close(promise: nil)
            return true
        default:
            return false
        }
    }

    func sendText(context: ChannelHandlerContext, _ payload: ByteBuffer) {
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: payload)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
