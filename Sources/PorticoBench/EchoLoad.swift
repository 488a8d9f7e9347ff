// `portico-bench echo`: closed-loop echo load. Each connection sends one text message, waits for the
// reply, checks it is the same bytes, and sends the next; round trips per second and latency over the
// measured window.
import ArgumentParser
import Dispatch
import NIOCore
import NIOPosix
import NIOWebSocket

struct EchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo", abstract: "Closed-loop echo round trips: throughput and latency.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Connections, each with one message in flight.") var connections = 64
    @Option(help: "Seconds measured.") var duration = 10.0
    @Option(help: "Seconds of load before the measured window (same connections).") var warmup = 0.0
    @Option(help: "Message size in bytes: {\"action\":ACTION,\"data\":\"xxx…\"} padded to it.") var size = 64
    @Option(help: "The message's action (the gateway's route key).") var action = "echo"

    func run() throws {
        let target = try URLTarget(url: client.url, scheme: "ws")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: client.threads)
        defer { try? group.syncShutdownGracefully() }
        let message = Self.message(size: size, action: action)
        let timeout = TimeAmount.seconds(Int64(client.connectTimeout))
        let opened = openMany(count: connections, concurrency: client.connectConcurrency, group: group) { loop in
            openWebSocket(on: loop, target: target, timeout: timeout) {
                EchoClientHandler(payload: ByteBuffer(string: message))
            }
        }
        for (error, count) in opened.failures { log("\(count) connections failed: \(error)") }

        let start = monotonicNanoseconds() + 1_000_000
        let measureFrom = start + UInt64(warmup * 1e9)
        let end = measureFrom + UInt64(duration * 1e9)
        for channel in opened.channels {
            channel.eventLoop.execute {
                try? channel.pipeline.syncOperations.handler(type: EchoClientHandler.self)
                    .start(measureFrom: measureFrom, end: end)
            }
        }
        // The replies in flight at the end are not counted; give them a moment, then collect.
        let waitUntil = end + 200_000_000
        while monotonicNanoseconds() < waitUntil {
            usleep(useconds_t(min(100_000, (waitUntil - monotonicNanoseconds()) / 1000 + 1)))
        }
        var samples: [UInt64] = []
        var mismatches = 0
        var closedByServer = 0
        for channel in opened.channels {
            let result = try? channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: EchoClientHandler.self).result
            }.wait()
            guard let result else {
                closedByServer += 1
                continue
            }
            samples.append(contentsOf: result.samples)
            mismatches += result.mismatches
            if result.serverCloseCode != nil || !channel.isActive { closedByServer += 1 }
        }
        closeAll(opened.channels)
        let summary = LatencySummary(nanoseconds: samples)
        emit([
            "mode": "echo", "url": client.url, "connections": opened.channels.count, "failed": opened.failureCount,
            "duration_s": duration, "size": message.utf8.count, "round_trips": samples.count,
            "rps": (Double(samples.count) / duration).rounded(), "mismatches": mismatches,
            "closed_by_server": closedByServer, "latency": summary.json,
        ])
    }

    /// `{"action":"echo","data":"xxx…"}`, padded with `x` to `size` bytes when it is shorter.
    static func message(size: Int, action: String) -> String {
        let empty = #"{"action":"\#(action)","data":""}"#
        let padding = String(repeating: "x", count: max(0, size - empty.utf8.count))
        return #"{"action":"\#(action)","data":"\#(padding)"}"#
    }
}

struct EchoConnectionResult: Sendable {
    var samples: [UInt64]
    var mismatches: Int
    var serverCloseCode: Int?
}

/// One connection of the echo load: one message in flight, the next sent from the reply's read.
final class EchoClientHandler: BenchClientHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    var serverCloseCode: Int?
    private let payload: ByteBuffer
    private var context: ChannelHandlerContext?
    private var measureFrom: UInt64 = 0
    private var end: UInt64 = 0
    private var sentAt: UInt64 = 0
    private var running = false
    private var samples: [UInt64] = []
    private var mismatches = 0

    init(payload: ByteBuffer) {
        self.payload = payload
    }

    var result: EchoConnectionResult {
        EchoConnectionResult(samples: samples, mismatches: mismatches, serverCloseCode: serverCloseCode)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func start(measureFrom: UInt64, end: UInt64) {
        self.measureFrom = measureFrom
        self.end = end
        samples.reserveCapacity(1 << 14)
        running = true
        send()
    }

    private func send() {
        guard let context else { return }
        sentAt = monotonicNanoseconds()
        sendText(context: context, payload)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if handleControl(context: context, frame: frame) { return }
        guard running else { return }
        let now = monotonicNanoseconds()
        if frame.unmaskedData != payload {
            mismatches += 1
        } else if sentAt >= measureFrom, now <= end {
            samples.append(now - sentAt)
        }
        if now < end { send() } else { running = false }
    }

    func channelInactive(context: ChannelHandlerContext) {
        running = false
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
