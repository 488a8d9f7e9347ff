// Running helper programs (openssl, gzip, curl, python) from async tests without blocking a thread of the
// small concurrency pool, and without leaking pipes into other tests' children.
//
// Foundation's pipes are not close-on-exec on Linux: a pipe made while another test starts a process is
// inherited by that child, and whoever reads the pipe to its end then waits for that child to exit. So
// every test spawns under one lock, and output is read as it comes, never "to the end".
import Foundation
import Synchronization

enum ProcessSpawner {
    private static let lock = Mutex(())

    /// Runs `body` (make the pipes, `process.run()`) while no other test process is being spawned.
    static func spawn<T>(_ body: () throws -> T) rethrows -> T {
        try lock.withLock { _ in try body() }
    }
}

/// The result of a finished (or killed) helper program.
struct ToolResult: Sendable {
    var status: Int32
    var output: Data
    var errors: Data
    var timedOut: Bool

    var text: String { String(decoding: output, as: UTF8.self) }
    var errorText: String { String(decoding: errors, as: UTF8.self) }
}

/// Runs `executable` to its end, or kills it after `timeout`; polls instead of blocking in `waitUntilExit`.
func runTool(
    _ executable: String, _ arguments: [String], in directory: URL? = nil, timeout: Duration = .seconds(60)
) async throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let output = OutputSink()
    let errors = OutputSink()
    try ProcessSpawner.spawn {
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        output.attach(out)
        errors.attach(err)
        try process.run()
    }
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(10))
    }
    let timedOut = process.isRunning
    if timedOut {
        kill(process.processIdentifier, SIGKILL)
        for _ in 0..<200 where process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
    }
    // The last chunks: until both pipes end, for at most a second (a leaked pipe may never end).
    for _ in 0..<100 where !(output.ended && errors.ended) { try await Task.sleep(for: .milliseconds(10)) }
    return ToolResult(
        status: process.isRunning ? -1 : process.terminationStatus, output: output.data, errors: errors.data,
        timedOut: timedOut)
}

/// Collects what a pipe delivers, as it comes.
final class OutputSink: Sendable {
    private let state = Mutex((data: Data(), ended: false))

    var data: Data { state.withLock { $0.data } }
    var ended: Bool { state.withLock { $0.ended } }

    func attach(_ pipe: Pipe) {
        readPipe(pipe) { chunk in
            self.state.withLock { $0.data.append(chunk) }
        } end: {
            self.state.withLock { $0.ended = true }
        }
    }
}

/// Reads `pipe` to its end with blocking reads on a thread of its own, handing over each chunk.
///
/// Not `FileHandle.readabilityHandler`: its dispatch read source races the descriptor's close when it
/// is torn down and now and then crashed the whole test process in libdispatch's
/// `_dispatch_event_loop_drain` (swift-corelibs-foundation#5507; one run in six of a single gateway
/// test here). A blocking read registers nothing with libdispatch, and the handle stays open until
/// the read has seen the end.
func readPipe(_ pipe: Pipe, chunk: @escaping @Sendable (Data) -> Void, end: @escaping @Sendable () -> Void) {
    let handle = pipe.fileHandleForReading
    let thread = Thread {
        withExtendedLifetime(handle) {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    chunk(Data(buffer[0..<count]))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
        }
        end()
    }
    thread.name = "pipe-reader"
    thread.start()
}
