// The open connections of this gateway process, by id: what the management API and the shutdown drain
// look connections up in. A Mutex-protected dictionary; nothing here blocks on a client.
import Synchronization

final class ConnectionRegistry: Sendable {
    private struct State {
        var connections: [String: ClientConnection] = [:]
        /// Open connections per authenticated subject (for `maxConnectionsPerIdentity`).
        var perSubject: [String: Int] = [:]
        var draining = false
    }

    private let state = Mutex(State())

    /// A new connection id: 16 random bytes in unpadded base64url (22 URL-safe characters), unique
    /// among the open connections.
    func makeConnectionID() -> String {
        while true {
            let id = Self.randomID()
            if state.withLock({ $0.connections[id] == nil }) { return id }
        }
    }

    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for _ in 0..<2 {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        // Base64url of 16 bytes: five 3-byte groups, then one byte.
        var out: [UInt8] = []
        out.reserveCapacity(22)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in stride(from: 18, through: 0, by: -6) {
                out.append(alphabet[Int((chunk >> UInt32(shift)) & 63)])
            }
            index += 3
        }
        let last = UInt32(bytes[index]) << 16
        out.append(alphabet[Int((last >> 18) & 63)])
        out.append(alphabet[Int((last >> 12) & 63)])
        return String(decoding: out, as: UTF8.self)
    }

    /// Registers `connection`; false when the gateway is draining (the caller closes it with 1001).
    func add(_ connection: ClientConnection) -> Bool {
        state.withLock { state in
            guard !state.draining else { return false }
            state.connections[connection.id] = connection
            if let subject = connection.accepted.identity?.subject { state.perSubject[subject, default: 0] += 1 }
            return true
        }
    }

    func remove(_ id: String) {
        state.withLock { state in
            guard let removed = state.connections.removeValue(forKey: id),
                let subject = removed.accepted.identity?.subject
            else { return }
            let left = (state.perSubject[subject] ?? 1) - 1
            state.perSubject[subject] = left > 0 ? left : nil
        }
    }

    /// Open connections of `subject` on this replica.
    func count(subject: String) -> Int { state.withLock { $0.perSubject[subject] ?? 0 } }

    /// Every open connection (for the sweeper).
    var all: [ClientConnection] { state.withLock { Array($0.connections.values) } }

    func connection(_ id: String) -> ClientConnection? {
        state.withLock { $0.connections[id] }
    }

    var count: Int { state.withLock { $0.connections.count } }

    var isDraining: Bool { state.withLock { $0.draining } }

    /// Stops accepting connections and returns the open ones.
    func startDraining() -> [ClientConnection] {
        state.withLock { state in
            state.draining = true
            return Array(state.connections.values)
        }
    }

    /// Returns once no connection is registered, or when the task is cancelled.
    func waitUntilEmpty() async {
        while count > 0, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(25))
        }
    }
}
