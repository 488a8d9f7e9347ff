// RedisError.swift — error types thrown by PorticoRedis.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.

/// An error reply sent by the Redis server (`-ERR ...`, `-WRONGTYPE ...`, ...).
/// The connection stays usable after one of these.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The full error line without the leading `-`, e.g. `"ERR unknown command 'FOO'..."`.
    public let message: String

    public init(message: String) { self.message = message }

    /// The first word of the message (`ERR`, `WRONGTYPE`, `NOSCRIPT`, `WRONGPASS`, ...).
    public var code: String { String(message.prefix { $0 != " " }) }

    public var description: String { "Redis error: \(message)" }
}

/// Errors raised by the client itself rather than by the server.
public enum RedisClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URL could not be parsed.
    case invalidURL(String)
    /// `rediss://` was given; TLS is not supported by this client yet.
    case tlsNotSupported
    /// The connection was closed (by us, by the server, or by a network failure)
    /// while the command was pending or before it was sent.
    case connectionClosed
    /// Connecting (TCP connect plus AUTH/SELECT) took longer than the timeout.
    case connectTimeout
    /// AUTH was refused by the server; the message is the server's error reply.
    case authenticationFailed(String)
    /// SELECT was refused by the server.
    case selectFailed(db: Int, message: String)
    /// The server sent bytes that are not valid RESP2, or exceeded a decoder limit.
    case protocolError(String)
    /// The reply had an unexpected shape for the convenience command that was called.
    case unexpectedReply(RESPValue)
    /// The subscriber was closed.
    case subscriberClosed

    public var description: String {
        switch self {
        case .invalidURL(let why): return "invalid Redis URL: \(why)"
        case .tlsNotSupported:
            return "rediss:// (TLS) is not supported by PorticoRedis yet; use redis:// over a trusted network"
        case .connectionClosed: return "the Redis connection was closed before a reply arrived"
        case .connectTimeout: return "timed out connecting to Redis"
        case .authenticationFailed(let message): return "Redis authentication failed: \(message)"
        case .selectFailed(let db, let message): return "Redis SELECT \(db) failed: \(message)"
        case .protocolError(let why): return "Redis protocol error: \(why)"
        case .unexpectedReply(let value): return "unexpected Redis reply: \(value)"
        case .subscriberClosed: return "the Redis subscriber was closed"
        }
    }
}
