// portico-bench: the load generator and the echo backend of `make bench-websocket`
// (scripts/bench-websocket.py runs it; docs/benchmarks.md has the method and the results).
//
// Hand-written on SwiftNIO directly: no library in the package (or on the machine) is a WebSocket
// load generator, and wrk only speaks HTTP. Every connection is a plain NIO channel with one small
// handler, so the client spends a few microseconds per message and is not what the benchmark
// measures. Subcommands:
//   echo-server  the shared echo backend: HTTP `POST /echo` for websocket-gateway's integration
//                calls, and a WebSocket echo on `/ws` for nginx as a WebSocket proxy.
//   echo         round trips per second and latency: each connection sends, waits, repeats.
//   idle         opens many connections and holds them (the script reads the server's RSS).
//   broadcast    subscribes many connections to a channel, publishes, measures publish → receive.
//   fanout-server  the broadcast floor: a minimal WebSocket fan-out for the same broadcast load.
//   relay-server the echo and REST floor: a byte relay to one upstream port that parses nothing.
// Each prints one JSON object per line on stdout; progress and errors go to stderr.
import ArgumentParser
import Foundation
import NIOCore

@main
struct PorticoBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portico-bench",
        abstract: "WebSocket load generator and echo backend for `make bench-websocket`.",
        subcommands: [
            EchoServerCommand.self, EchoCommand.self, IdleCommand.self, BroadcastCommand.self, FanoutServerCommand.self,
            RelayServerCommand.self,
        ])
}

/// Prints one JSON object on a line of stdout (keys sorted) and flushes, so the orchestrating script can
/// react to it while the process keeps running.
func emit(_ object: [String: Any]) {
    guard
        let data = try? JSONSerialization.data(
            withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
        let line = String(data: data, encoding: .utf8)
    else { return }
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A progress or error line on stderr.
func log(_ message: String) {
    FileHandle.standardError.write(Data("portico-bench: \(message)\n".utf8))
}

/// Options shared by the client subcommands.
struct ClientOptions: ParsableArguments {
    @Option(help: "WebSocket URL, ws://HOST:PORT/PATH.") var url: String
    @Option(help: "Event loop threads of the client.") var threads = System.coreCount
    @Option(help: "Connection attempts in flight at once while connecting.") var connectConcurrency = 200
    @Option(help: "Seconds to wait for one connection's TCP connect and upgrade.") var connectTimeout = 30
}
