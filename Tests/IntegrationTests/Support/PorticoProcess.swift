// Starts real Portico processes (gateways, demo-services) from the debug build for integration tests.
// Processes bind port 0; the harness learns their ports from the JSON `listening` log lines.
import Foundation
import Synchronization

/// Where the built executables are: `PORTICO_BIN_DIR`, else `.build/debug` of this checkout.
enum BuildProducts {
    static var directory: URL {
        if let dir = ProcessInfo.processInfo.environment["PORTICO_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        return repositoryRoot.appendingPathComponent(".build/debug")
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
}

/// A child process whose stderr/stdout are captured line by line.
final class RunningProcess: Sendable {
    let name: String
    let process: Process
    private struct Waiter {
        var predicate: @Sendable (String) -> Bool
        var continuation: CheckedContinuation<String, any Error>
    }

    /// Lines and the waiters for them, under one lock: a line cannot slip between a waiter's look and its wait.
    private struct Output {
        var lines: [String] = []
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
        /// Why no more lines will come (the output ended).
        var ended: String?
    }

    private let state = Mutex(Output())

    init(name: String, executable: String, arguments: [String], environment: [String: String] = [:]) throws {
        self.name = name
        let process = Process()
        process.executableURL = BuildProducts.directory.appendingPathComponent(executable)
        process.arguments = arguments
        process.currentDirectoryURL = BuildProducts.repositoryRoot
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        self.process = process
        guard FileManager.default.isExecutableFile(atPath: process.executableURL!.path) else {
            throw HarnessError(description: "\(process.executableURL!.path) is missing: run `swift build` first")
        }
        let buffer = Mutex<Data>(Data())
        // The pipe is made under the spawn lock too, so no other test's child inherits it.
        try ProcessSpawner.spawn {
            let pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = pipe
            readPipe(pipe) { [weak self] chunk in
                guard let self else { return }
                let complete: [String] = buffer.withLock { data in
                    data.append(chunk)
                    var found: [String] = []
                    while let newline = data.firstIndex(of: 0x0A) {
                        found.append(String(decoding: data[data.startIndex..<newline], as: UTF8.self))
                        data.removeSubrange(data.startIndex...newline)
                    }
                    return found
                }
                for line in complete { self.append(line) }
            } end: { [weak self] in
                guard let self else { return }
                self.ended("\(name) exited; output:\n\(self.output)")
            }
            try process.run()
        }
    }

    private func append(_ line: String) {
        let ready = state.withLock { state -> [CheckedContinuation<String, any Error>] in
            state.lines.append(line)
            var fired: [CheckedContinuation<String, any Error>] = []
            for (id, waiter) in state.waiters where waiter.predicate(line) {
                fired.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return fired
        }
        for continuation in ready { continuation.resume(returning: line) }
    }

    private func ended(_ message: String) {
        let all = state.withLock { state in
            state.ended = message
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in all { waiter.continuation.resume(throwing: HarnessError(description: message)) }
    }

    /// Resumes waiter `id` with `error`, unless a line or the end resumed it first.
    private func abandon(_ id: Int, _ error: any Error) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(throwing: error)
    }

    /// Everything the process printed so far.
    var output: String { state.withLock { $0.lines.joined(separator: "\n") } }
    var outputLines: [String] { state.withLock { $0.lines } }

    /// Waits for a line matching `predicate` (including lines already printed), at most `timeout`.
    func waitForLine(timeout: Duration = .seconds(30), _ predicate: @escaping @Sendable (String) -> Bool) async throws
        -> String
    {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.abandon(
                id, HarnessError(description: "timed out waiting for output from \(self.name); output:\n\(self.output)")
            )
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate: Result<String, any Error>? = state.withLock { state in
                    if let line = state.lines.first(where: predicate) { return .success(line) }
                    if let ended = state.ended { return .failure(HarnessError(description: ended)) }
                    state.waiters[id] = Waiter(predicate: predicate, continuation: continuation)
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            self.abandon(id, CancellationError())
        }
    }

    /// The port of a JSON `listening` log line whose fields match `fields`.
    func listeningPort(_ fields: [String: String], timeout: Duration = .seconds(60)) async throws -> Int {
        let line = try await waitForLine(timeout: timeout) { line in
            guard let object = Self.json(line), object["msg"] as? String == "listening" else { return false }
            return fields.allSatisfy { object[$0.key] as? String == $0.value }
        }
        guard let object = Self.json(line), let port = (object["port"] as? String).flatMap(Int.init) else {
            throw HarnessError(description: "no port in \(line)")
        }
        return port
    }

    static func json(_ line: String) -> [String: Any]? {
        guard line.hasPrefix("{") else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    /// Sends SIGTERM and waits for exit (and the end of its output, as `waitForExit`); returns the exit
    /// status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(20)) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            for _ in 0..<250 where process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
        if process.isRunning { return -1 }
        await outputEnded(within: .seconds(2))
        return process.terminationStatus
    }

    /// Waits for the process to exit by itself.
    /// Once it has exited, what it printed last has been read too (its output ended), for at most 2 s
    /// more (a grandchild holding the pipe keeps it open).
    func waitForExit(timeout: Duration = .seconds(20)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { return nil }
        await outputEnded(within: .seconds(2))
        return process.terminationStatus
    }

    /// Waits until the output pipe has ended (the reader thread saw its end), at most `limit`.
    func outputEnded(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while state.withLock({ $0.ended == nil }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
