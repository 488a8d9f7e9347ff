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
    private let lines = Mutex<[String]>([])
    private let waiters = Mutex<
        [(predicate: @Sendable (String) -> Bool, continuation: CheckedContinuation<String, any Error>)]
    >([])

    init(name: String, executable: String, arguments: [String], environment: [String: String] = [:]) throws {
        self.name = name
        let process = Process()
        process.executableURL = BuildProducts.directory.appendingPathComponent(executable)
        process.arguments = arguments
        process.currentDirectoryURL = BuildProducts.repositoryRoot
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        self.process = process
        let handle = pipe.fileHandleForReading
        let buffer = Mutex<Data>(Data())
        handle.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else { return }
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                self.failWaiters("\(name) exited; output:\n\(self.output)")
                return
            }
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
        }
        guard FileManager.default.isExecutableFile(atPath: process.executableURL!.path) else {
            throw HarnessError(description: "\(process.executableURL!.path) is missing: run `swift build` first")
        }
        try process.run()
    }

    private func append(_ line: String) {
        lines.withLock { $0.append(line) }
        let ready = waiters.withLock { waiters -> [(CheckedContinuation<String, any Error>, String)] in
            var fired: [(CheckedContinuation<String, any Error>, String)] = []
            waiters.removeAll { waiter in
                if waiter.predicate(line) {
                    fired.append((waiter.continuation, line))
                    return true
                }
                return false
            }
            return fired
        }
        for (continuation, line) in ready { continuation.resume(returning: line) }
    }

    private func failWaiters(_ message: String) {
        let all = waiters.withLock { waiters in
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in all { waiter.continuation.resume(throwing: HarnessError(description: message)) }
    }

    /// Everything the process printed so far.
    var output: String { lines.withLock { $0.joined(separator: "\n") } }
    var outputLines: [String] { lines.withLock { $0 } }

    /// Waits for a line matching `predicate` (including lines already printed).
    func waitForLine(timeout: Duration = .seconds(30), _ predicate: @escaping @Sendable (String) -> Bool) async throws
        -> String
    {
        if let line = lines.withLock({ $0.first(where: predicate) }) { return line }
        if !process.isRunning {
            throw HarnessError(
                description: "\(name) is not running (status \(process.terminationStatus)); output:\n\(output)")
        }
        return try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    let existing = self.lines.withLock { $0.first(where: predicate) }
                    if let existing {
                        continuation.resume(returning: existing)
                    } else {
                        self.waiters.withLock { $0.append((predicate, continuation)) }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw HarnessError(
                    description: "timed out waiting for output from \(self.name); output:\n\(self.output)")
            }
            let line = try await group.next()!
            group.cancelAll()
            return line
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

    /// Sends SIGTERM and waits for exit; returns the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(20)) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// Waits for the process to exit by itself.
    func waitForExit(timeout: Duration = .seconds(20)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
