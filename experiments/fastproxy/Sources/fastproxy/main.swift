// fastproxy: measurement prototype of a byte-level HTTP/1.1 forwarder (no NIOHTTP1 codecs).
// Usage: fastproxy --listen PORT --upstream PORT [--strip-prefix /api] [--string-parse] [--flush-each]
//        [--copy-limit BYTES] [--threads N] [--extra-handlers N]
import NIOCore
import NIOPosix

/// Run-time switches; the A/B flags select design variants for measurement.
struct Options: Sendable {
    var listenPort = 18910
    var upstreamPort = 18901
    var stripPrefix: [UInt8] = Array("/api".utf8)
    /// Parse and rebuild heads through String instead of bytes.
    var stringParse = false
    /// Write and flush each piece (head, body slice) on its own instead of one buffer per read batch.
    var flushEach = false
    /// Body slices up to this size are copied into the batch buffer; larger ones are written as slices.
    var copyLimit = 16384
    var maxHead = 65536
    var threads = System.coreCount
    /// Pass-through handlers added in front of each side's handler (prices pipeline hops).
    var extraHandlers = 0
}

var options = Options()
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--listen": options.listenPort = args.popFirst().flatMap { Int($0) } ?? options.listenPort
    case "--upstream": options.upstreamPort = args.popFirst().flatMap { Int($0) } ?? options.upstreamPort
    case "--strip-prefix": options.stripPrefix = Array((args.popFirst() ?? "").utf8)
    case "--string-parse": options.stringParse = true
    case "--flush-each": options.flushEach = true
    case "--copy-limit": options.copyLimit = args.popFirst().flatMap { Int($0) } ?? options.copyLimit
    case "--extra-handlers": options.extraHandlers = args.popFirst().flatMap { Int($0) } ?? 0
    case "--threads": options.threads = args.popFirst().flatMap { Int($0) } ?? options.threads
    default:
        print("unknown argument: \(a)")
        exit(2)
    }
}

let opts = options
let group = MultiThreadedEventLoopGroup(numberOfThreads: opts.threads)
let upstreamAddress = try SocketAddress(ipAddress: "127.0.0.1", port: opts.upstreamPort)
var poolsByLoop: [ObjectIdentifier: NIOLoopBound<UpstreamPool>] = [:]
for (i, loop) in group.makeIterator().enumerated() {
    let seed = UInt64(i) << 56 | UInt64.random(in: 0..<(1 << 40)) << 16
    poolsByLoop[ObjectIdentifier(loop)] = try await loop.submit {
        NIOLoopBound(UpstreamPool(eventLoop: loop, address: upstreamAddress, options: opts, seed: seed), eventLoop: loop)
    }.get()
}
let pools = poolsByLoop

let server = try await ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            guard let pool = pools[ObjectIdentifier(channel.eventLoop)]?.value else {
                throw ChannelError.ioOnClosedChannel
            }
            for _ in 0..<opts.extraHandlers { try channel.pipeline.syncOperations.addHandler(PassThroughHandler()) }
            try channel.pipeline.syncOperations.addHandler(ClientHandler(pool: pool, options: opts))
        }
    }
    .bind(host: "127.0.0.1", port: opts.listenPort).get()
print("fastproxy listening on 127.0.0.1:\(opts.listenPort) -> 127.0.0.1:\(opts.upstreamPort)"
    + (opts.stringParse ? " [string-parse]" : "") + (opts.flushEach ? " [flush-each]" : ""))
try await server.closeFuture.get()
