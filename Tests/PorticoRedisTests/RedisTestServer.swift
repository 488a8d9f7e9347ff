// RedisTestServer.swift — test support: runs a private redis-server on a free loopback port, plus timeouts.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
import Foundation
import NIOConcurrencyHelpers
import PorticoRedis

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How long a test's connect (with AUTH, SELECT, SUBSCRIBE) may take: generous, because `make test` runs
/// every suite at once on two cores and a connect can wait seconds for a thread. Tests check behaviour,
/// never timing.
let testConnectTimeout: Duration = .seconds(30)

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out: \(what)" }
}

/// Runs `body`, throwing `TestTimeout` if it takes longer than `seconds`.
func withTimeout<T: Sendable>(
    _ seconds: Double, _ what: String = "operation", _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TestTimeout(what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Polls `probe` every 10 ms for at most `seconds` until it returns a value.
func waitFor<T>(_ seconds: Double, _ what: String, _ probe: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if let value = try await probe() { return value }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw TestTimeout(what: what)
}

/// Polls `condition` every 10 ms for at most `seconds`.
func waitUntil(_ seconds: Double, _ what: String, _ condition: () async throws -> Bool) async throws {
    _ = try await waitFor(seconds, what) { try await condition() ? true : nil }
}

/// Drains an AsyncStream from one background task so tests can wait for items with timeouts
/// (cancelling a task that iterates an AsyncStream would terminate the stream).
final class Collector<Element: Sendable>: Sendable {
    private let items = NIOLockedValueBox<[Element]>([])
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)

    init(_ stream: AsyncStream<Element>) {
        let items = self.items
        self.task.withLockedValue {
            $0 = Task { for await item in stream { items.withLockedValue { $0.append(item) } } }
        }
    }

    var all: [Element] { items.withLockedValue { $0 } }

    /// Waits until an item matching `predicate` has arrived and returns it.
    func first(within seconds: Double, _ what: String, where predicate: @Sendable (Element) -> Bool) async throws
        -> Element
    {
        try await waitFor(seconds, what) { self.all.first(where: predicate) }
    }

    /// Waits for the draining task to end (the stream finished), bounded.
    func waitForEnd(within seconds: Double) async throws {
        let task = self.task.withLockedValue { $0 }!
        try await withTimeout(seconds, "stream end") { await task.value }
    }
}

/// A redis-server child process bound to 127.0.0.1 on a port picked by binding port 0.
final class RedisTestServer: @unchecked Sendable {
    let port: Int
    let password: String?
    private let directory: String
    private let lock = NIOLock()
    private var process: Process?
    /// Keeps the port this server's for as long as the object lives.
    private let reservation: PortReservation

    var url: RedisURL { RedisURL(host: "127.0.0.1", port: port, password: password) }

    private init(reservation: PortReservation, password: String?) {
        self.reservation = reservation
        self.port = reservation.port
        self.password = password
        self.directory = NSTemporaryDirectory() + "portico-redis-test-\(port)-\(UUID().uuidString)"
    }

    /// Starts a server on a fresh free port (retrying with another port if the first is taken).
    static func start(password: String? = nil) async throws -> RedisTestServer {
        var lastError: (any Error)?
        for _ in 0..<5 {
            let server = RedisTestServer(reservation: try PortReservation(), password: password)
            do {
                try await server.launch()
                return server
            } catch {
                server.stop()
                lastError = error
            }
        }
        throw lastError!
    }

    /// Starts a new redis-server process on the same port (after `stop()`).
    func restart() async throws {
        var lastError: (any Error)?
        for _ in 0..<20 {
            do { return try await self.launch() } catch {
                self.stop()
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError!
    }

    private func launch() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.redisServerPath())
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", directory, "--logfile", directory + "/redis.log",
        ]
        if let password { arguments += ["--requirepass", password] }
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        lock.withLock { self.process = process }
        let url = RedisURL(host: "127.0.0.1", port: port)
        try await waitUntil(30, "redis-server on port \(port) to answer PING") {
            guard process.isRunning else {
                throw TestTimeout(what: "redis-server exited early (port \(self.port) taken?)")
            }
            guard let connection = try? await RedisConnection.connect(to: url, timeout: testConnectTimeout) else {
                return false
            }
            // With --requirepass an unauthenticated PING gets -NOAUTH: the server is up all the same.
            let reply = try? await connection.sendRaw(["PING"])
            await connection.close()
            return reply != nil
        }
    }

    /// Kills the process (SIGKILL) and waits for it to exit. Idempotent.
    func stop() {
        let process: Process? = lock.withLock {
            defer { self.process = nil }
            return self.process
        }
        guard let process else { return }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        // Polled, not waitUntilExit: that can hang off the main thread on Linux.
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
    }

    /// Stops the server and removes its directory.
    func shutdown() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func redisServerPath() -> String {
        if let path = ProcessInfo.processInfo.environment["REDIS_SERVER"] { return path }
        for candidate in ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return "redis-server"
    }
}

/// A loopback port held by a socket that is bound (with SO_REUSEADDR) but never listens: connects to it are
/// refused, the kernel hands it to no other `bind(port 0)`, and a redis-server (which sets SO_REUSEADDR too)
/// can still listen on it. Held for a server's whole life, restarts included, no test running in parallel
/// can take the port in between.
final class PortReservation: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw TestTimeout(what: "socket() failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw TestTimeout(what: "bind() failed")
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

/// Starts a redis-server for the duration of `body` and always kills it afterwards.
func withRedisServer<T>(password: String? = nil, _ body: (RedisTestServer) async throws -> T) async throws -> T {
    let server = try await RedisTestServer.start(password: password)
    do {
        let result = try await body(server)
        server.shutdown()
        return result
    } catch {
        server.shutdown()
        throw error
    }
}
