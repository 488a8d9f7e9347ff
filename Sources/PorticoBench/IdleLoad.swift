// `portico-bench idle`: opens many WebSocket connections, says when they are all open, holds them
// (answering pings), then reports how many the server kept. The orchestrating script reads the
// server's RSS while they are held.
import ArgumentParser
import Dispatch
import NIOCore
import NIOPosix
import NIOWebSocket

struct IdleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle", abstract: "Open N connections, hold them idle, report how many stayed open.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Connections to open.") var connections = 10_000
    @Option(help: "Seconds to hold them once all are open.") var hold = 10.0
    @Flag(help: "Offer permessage-deflate, as browsers do (idle connections never send a data frame).")
    var offerDeflate = false

    func run() throws {
        let target = try URLTarget(url: client.url, scheme: "ws")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: client.threads)
        defer { try? group.syncShutdownGracefully() }
        let timeout = TimeAmount.seconds(Int64(client.connectTimeout))
        let headers = offerDeflate ? [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")] : []
        let started = monotonicNanoseconds()
        let opened = openMany(
            count: connections, concurrency: client.connectConcurrency, group: group,
            progressEvery: max(1, connections / 5)
        ) { loop in
            openWebSocket(on: loop, target: target, timeout: timeout, headers: headers) { IdleClientHandler() }
        }
        for (error, count) in opened.failures { log("\(count) connections failed: \(error)") }
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        emit([
            "event": "open", "connections": opened.channels.count, "failed": opened.failureCount,
            "seconds": (seconds * 100).rounded() / 100,
        ])
        usleep(useconds_t(hold * 1e6))
        let stillOpen = opened.channels.filter { $0.isActive }.count
        closeAll(opened.channels)
        emit([
            "mode": "idle", "url": client.url, "offered_deflate": offerDeflate, "requested": connections,
            "connections": opened.channels.count,
            "failed": opened.failureCount, "still_open_after_hold": stillOpen, "hold_s": hold,
            "connect_seconds": (seconds * 100).rounded() / 100,
        ])
    }
}

/// Does nothing but answer pings and notice a close.
final class IdleClientHandler: BenchClientHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    var serverCloseCode: Int?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        _ = handleControl(context: context, frame: unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
