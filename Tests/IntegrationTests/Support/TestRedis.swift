// A real redis-server (Debian's) on a free loopback port for the tests that need one; it keeps
// nothing on disk and is killed at the end.
import Foundation

final class TestRedis: Sendable {
    let port: Int
    private let process: Process

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    static func start() async throws -> TestRedis {
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: ProcessInfo.processInfo.environment["REDIS_SERVER"] ?? "/usr/bin/redis-server")
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessSpawner.spawn { try process.run() }
        let redis = TestRedis(port: port, process: process)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? RawSocket.exchange(port: port, "PING\r\n"))?.hasPrefix("+PONG") == true { return redis }
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

    /// A port nothing listens on right now (bound and released; redis-server cannot bind port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw HarnessError(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
