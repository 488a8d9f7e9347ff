// A real redis-server (Debian's) on a free loopback port for the tests that need one; it keeps
// nothing on disk and is killed at the end.
import Foundation

final class TestRedis: Sendable {
    let port: Int
    private let process: Process
    /// Holds the port for the server's life (redis-server listens on it all the same), so no test running in
    /// parallel is handed it.
    private let reservation: ReservedPort

    private init(reservation: ReservedPort, process: Process) {
        self.port = reservation.port
        self.process = process
        self.reservation = reservation
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    static func start() async throws -> TestRedis {
        let reservation = try ReservedPort()
        let port = reservation.port
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: ProcessInfo.processInfo.environment["REDIS_SERVER"] ?? "/usr/bin/redis-server")
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessSpawner.spawn { try process.run() }
        let redis = TestRedis(reservation: reservation, process: process)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? await RawSocket.exchange(port: port, "PING\r\n"))?.hasPrefix("+PONG") == true { return redis }
            try await Task.sleep(for: .milliseconds(50))
        }
        redis.stop()
        throw HarnessError(description: "redis-server did not answer on port \(port)")
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s). Polls: Foundation's `waitUntilExit` can
    /// hang off the main thread on Linux.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
