// `portico-bench broadcast`: N connections subscribe to one channel with `$subscribe`; once all are
// subscribed, publications go to the gateway's `POST /channels/{channel}/messages` one at a time. Each
// carries its send time on this process's monotonic clock, and every subscriber records receive − send,
// so one clock measures both ends.
import ArgumentParser
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

struct BroadcastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broadcast", abstract: "Publish → deliver latency to many channel subscribers.")

    @OptionGroup var client: ClientOptions
    @Option(help: "The service API's publish URL, http://HOST:PORT/channels/CHANNEL/messages.") var publishUrl: String
    @Option(help: "API key for the publish call (X-API-Key).") var apiKey: String
    @Option(help: "Subscribing connections.") var subscribers = 5000
    @Option(help: "Publications, one at a time.") var publications = 20
    @Option(help: "Seconds between publications.") var interval = 0.2
    @Option(help: "Seconds to wait for the last deliveries.") var deliveryTimeout = 10.0

    func run() throws {
        let target = try URLTarget(url: client.url, scheme: "ws")
        let publish = try URLTarget(url: publishUrl, scheme: "http")
        guard let channelName = publish.path.split(separator: "/").dropFirst().first.map(String.init),
            publish.path.hasPrefix("/channels/")
        else { throw BenchError.badURL(publishUrl) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: client.threads)
        defer { try? group.syncShutdownGracefully() }
        let timeout = TimeAmount.seconds(Int64(client.connectTimeout))
        let epoch = monotonicNanoseconds()
        let delivered = NIOLockedValueBox(0)
        let subscribeMessage = #"{"action":"$subscribe","channel":"\#(channelName)"}"#

        let started = monotonicNanoseconds()
        let opened = openMany(
            count: subscribers, concurrency: client.connectConcurrency, group: group,
            progressEvery: max(1, subscribers / 5)
        ) { loop in
            let subscribed = loop.makePromise(of: Void.self)
            let timer = loop.scheduleTask(in: timeout * 2) { subscribed.fail(BenchError.timedOut("subscribe")) }
            subscribed.futureResult.whenComplete { _ in timer.cancel() }
            return openWebSocket(on: loop, target: target, timeout: timeout) {
                SubscriberHandler(
                    subscribeMessage: subscribeMessage, subscribed: subscribed, epoch: epoch, delivered: delivered)
            }.flatMap { channel in
                subscribed.futureResult.map { channel }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
        }
        for (error, count) in opened.failures { log("\(count) subscribers failed: \(error)") }
        let subscribeSeconds = Double(monotonicNanoseconds() - started) / 1e9
        emit([
            "event": "subscribed", "subscribers": opened.channels.count, "failed": opened.failureCount,
            "seconds": (subscribeSeconds * 100).rounded() / 100,
        ])

        let publisher = try HTTPPublisher.connect(on: group.next(), target: publish).wait()
        let cpuBefore = processCPUSeconds()
        var statuses: [Int: Int] = [:]
        var publishCalls: [UInt64] = []
        let firstAt = monotonicNanoseconds() + 100_000_000
        for seq in 1...max(1, publications) {
            let due = firstAt + UInt64(Double(seq - 1) * interval * 1e9)
            let now = monotonicNanoseconds()
            if due > now { usleep(useconds_t((due - now) / 1000)) }
            do {
                let answer = try publisher.post(path: publish.path, apiKey: apiKey, timeout: timeout) {
                    let sentMicroseconds = (monotonicNanoseconds() - epoch) / 1000
                    return #"{"seq":\#(seq),"sentUs":\#(sentMicroseconds)}"#
                }.wait()
                statuses[answer.status, default: 0] += 1
                publishCalls.append(answer.duration)
                if answer.status != 200 { log("publication \(seq): HTTP \(answer.status) \(answer.body)") }
            } catch {
                statuses[0, default: 0] += 1
                log("publication \(seq) failed: \(error)")
            }
        }
        let published = statuses[200] ?? 0
        let expected = opened.channels.count * published
        let deadline = monotonicNanoseconds() + UInt64(deliveryTimeout * 1e9)
        while delivered.withLockedValue({ $0 }) < expected, monotonicNanoseconds() < deadline { usleep(10_000) }
        // Before the connections close: the script reads the gateway's CPU time here.
        let received = delivered.withLockedValue { $0 }
        let clientCPU = processCPUSeconds() - cpuBefore
        emit([
            "event": "delivered", "deliveries": received, "expected": expected,
            "client_cpu_us_per_delivery": received > 0 ? (clientCPU * 1e6 / Double(received)).rounded() : 0,
        ])

        var bySeq: [Int: [UInt64]] = [:]
        var deliveries = 0
        var duplicates = 0
        var closedByServer: [String: Int] = [:]
        for channel in opened.channels {
            let result = try? channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: SubscriberHandler.self).result
            }.wait()
            guard let result else {
                closedByServer["closed", default: 0] += 1
                continue
            }
            var seen = Set<Int>()
            for (seq, latency) in result.deliveries {
                deliveries += 1
                if !seen.insert(seq).inserted { duplicates += 1 }
                bySeq[seq, default: []].append(latency)
            }
            if let code = result.serverCloseCode { closedByServer[String(code), default: 0] += 1 }
        }
        try? publisher.channel.close().wait()
        closeAll(opened.channels)

        let all = bySeq.values.flatMap { $0 }
        // Per publication: the time until its last subscriber had it (the whole fan-out).
        let fanOut = LatencySummary(nanoseconds: bySeq.values.map { $0.max() ?? 0 })
        emit([
            "mode": "broadcast", "url": client.url, "subscribers": opened.channels.count,
            "failed": opened.failureCount, "subscribe_seconds": (subscribeSeconds * 100).rounded() / 100,
            "publications": publications, "published": published,
            "publish_statuses": Dictionary(uniqueKeysWithValues: statuses.map { (String($0.key), $0.value) }),
            "expected_deliveries": expected, "deliveries": deliveries, "duplicates": duplicates,
            "missing": max(0, expected - (deliveries - duplicates)), "closed_by_server": closedByServer,
            "latency": LatencySummary(nanoseconds: all).json, "fan_out_complete": fanOut.json,
            "publish_call": LatencySummary(nanoseconds: publishCalls).json,
            "client_cpu_us_per_delivery": received > 0 ? (clientCPU * 1e6 / Double(received)).rounded() : 0,
        ])
    }
}

struct SubscriberResult: Sendable {
    var deliveries: [(seq: Int, latency: UInt64)]
    var serverCloseCode: Int?
}

/// One subscriber: sends `$subscribe` as soon as the connection is up, completes `subscribed` on the answer,
/// then records each publication's latency from the `sentUs` in its data.
final class SubscriberHandler: BenchClientHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    var serverCloseCode: Int?
    private let subscribeMessage: String
    private let subscribed: EventLoopPromise<Void>
    private let epoch: UInt64
    private let delivered: NIOLockedValueBox<Int>
    private var deliveries: [(seq: Int, latency: UInt64)] = []

    private static let sentKey = Array(#""sentUs":"#.utf8)
    private static let seqKey = Array(#""seq":"#.utf8)

    init(subscribeMessage: String, subscribed: EventLoopPromise<Void>, epoch: UInt64, delivered: NIOLockedValueBox<Int>)
    {
        self.subscribeMessage = subscribeMessage
        self.subscribed = subscribed
        self.epoch = epoch
        self.delivered = delivered
    }

    var result: SubscriberResult {
        SubscriberResult(deliveries: deliveries, serverCloseCode: serverCloseCode)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        sendText(context: context, ByteBuffer(string: subscribeMessage))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if handleControl(context: context, frame: frame) { return }
        let now = monotonicNanoseconds()
        let text = frame.unmaskedData
        if let sent = Self.integer(after: Self.sentKey, in: text) {
            let seq = Self.integer(after: Self.seqKey, in: text).map(Int.init) ?? 0
            let sentAt = epoch + sent * 1000
            deliveries.append((seq, now > sentAt ? now - sentAt : 0))
            delivered.withLockedValue { $0 += 1 }
        } else {
            let string = String(buffer: text)
            if string.contains(#""subscribed""#) {
                subscribed.succeed(())
            } else if string.contains(#""error""#) {
                subscribed.fail(BenchError.notUpgraded("subscribe answered \(string)"))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        subscribed.fail(BenchError.closed("before the subscription was confirmed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The unsigned integer right after `key` in `buffer`.
    static func integer(after key: [UInt8], in buffer: ByteBuffer) -> UInt64? {
        buffer.withUnsafeReadableBytes { bytes -> UInt64? in
            guard bytes.count >= key.count else { return nil }
            search: for i in 0...(bytes.count - key.count) {
                for j in 0..<key.count where bytes[i + j] != key[j] { continue search }
                var value: UInt64 = 0
                var k = i + key.count
                var digits = 0
                while k < bytes.count, bytes[k] >= UInt8(ascii: "0"), bytes[k] <= UInt8(ascii: "9") {
                    value = value * 10 + UInt64(bytes[k] - UInt8(ascii: "0"))
                    k += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            return nil
        }
    }
}

struct HTTPAnswer: Sendable {
    var status: Int
    var body: String
    /// From just before the request was written to the end of the response.
    var duration: UInt64 = 0
}

/// One keep-alive HTTP/1.1 connection for the publish calls, one request at a time.
struct HTTPPublisher: Sendable {
    let channel: any Channel
    let target: URLTarget

    static func connect(on loop: any EventLoop, target: URLTarget) -> EventLoopFuture<HTTPPublisher> {
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HTTPAnswerCollector())
                }
            }
            .connect(host: target.host, port: target.port)
            .map { HTTPPublisher(channel: $0, target: target) }
    }

    /// POSTs the body `makeBody` builds on the event loop, right before the write.
    func post(path: String, apiKey: String, timeout: TimeAmount, makeBody: @escaping @Sendable () -> String)
        -> EventLoopFuture<HTTPAnswer>
    {
        let channel = channel
        let target = target
        return channel.eventLoop.flatSubmit {
            let promise = channel.eventLoop.makePromise(of: HTTPAnswer.self)
            do {
                try channel.pipeline.syncOperations.handler(type: HTTPAnswerCollector.self).expect(promise)
            } catch {
                promise.fail(error)
                return promise.futureResult
            }
            let timer = channel.eventLoop.scheduleTask(in: timeout) { promise.fail(BenchError.timedOut("publish")) }
            let body = ByteBuffer(string: makeBody())
            let sentAt = monotonicNanoseconds()
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
            head.headers.add(name: "Host", value: "\(target.host):\(target.port)")
            head.headers.add(name: "X-API-Key", value: apiKey)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.readableBytes))
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            return promise.futureResult.map { answer in
                timer.cancel()
                var answer = answer
                answer.duration = monotonicNanoseconds() - sentAt
                return answer
            }
        }
    }
}

/// Completes the oldest waiting promise with each response.
final class HTTPAnswerCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var waiting = CircularBuffer<EventLoopPromise<HTTPAnswer>>()
    private var status = 0
    private var body = ByteBuffer()

    func expect(_ promise: EventLoopPromise<HTTPAnswer>) {
        waiting.append(promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            waiting.popFirst()?.succeed(HTTPAnswer(status: status, body: String(buffer: body)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        while let promise = waiting.popFirst() { promise.fail(BenchError.closed("publish connection")) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        while let promise = waiting.popFirst() { promise.fail(error) }
        context.close(promise: nil)
    }
}
