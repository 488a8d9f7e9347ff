// RedisURL.swift — parses redis://[user:password@]host[:port][/db] connection URLs.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.

/// Where and how to connect: `redis://[[user]:password@]host[:port][/db]`.
///
/// - `redis://localhost` → 127.0.0.1-style host, port 6379, no auth, db 0 (no SELECT sent).
/// - `redis://:secret@host:6380/2` → `AUTH secret`, then `SELECT 2`.
/// - `redis://alice:secret@host` → `AUTH alice secret` (Redis 6+ ACL user).
/// - IPv6 hosts go in brackets: `redis://[::1]:6379`.
/// - User and password are percent-decoded. `rediss://` is refused: TLS is not supported yet.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    /// The database to SELECT after connecting, or nil to stay on the server's default (0).
    public var database: Int?

    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int? = nil)
    {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a `redis://` URL; throws `RedisClientError.invalidURL` or `.tlsNotSupported`.
    public init(_ string: String) throws {
        let lower = string.lowercased()
        if lower.hasPrefix("rediss://") { throw RedisClientError.tlsNotSupported }
        guard lower.hasPrefix("redis://") else {
            throw RedisClientError.invalidURL("expected a redis:// URL")
        }
        var rest = Substring(string.dropFirst("redis://".count))
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            rest = rest[..<query]
        }

        // Path: optional /db.
        var database: Int?
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else {
                    throw RedisClientError.invalidURL("database must be a non-negative integer, got \"\(path)\"")
                }
                database = db
            }
        }

        // Userinfo: the last "@" separates it from the host (passwords may contain "@").
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = try Self.percentDecode(userinfo[..<colon])
                username = user.isEmpty ? nil : user
                password = try Self.percentDecode(userinfo[userinfo.index(after: colon)...])
            } else if !userinfo.isEmpty {
                // redis://secret@host — treat a lone userinfo as the password, like redis-cli.
                password = try Self.percentDecode(userinfo)
            }
        }

        // Host and port.
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw RedisClientError.invalidURL("unterminated IPv6 address")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw RedisClientError.invalidURL("junk after IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw RedisClientError.invalidURL("missing host") }
        var port = 6379
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else {
                throw RedisClientError.invalidURL("invalid port \"\(portText)\"")
            }
            port = parsed
        }
        self.init(host: String(host), port: port, username: username, password: password, database: database)
    }

    /// The URL with the password masked, safe to log.
    public var description: String {
        var auth = ""
        if username != nil || password != nil {
            auth = (username ?? "") + (password != nil ? ":***" : "") + "@"
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "redis://\(auth)\(hostPart):\(port)" + (database.map { "/\($0)" } ?? "")
    }

    private static func percentDecode(_ text: Substring) throws -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue)
            else {
                throw RedisClientError.invalidURL("bad percent-escape in user info")
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
