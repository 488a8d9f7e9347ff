// RESPValue.swift — the RESP2 value model used by PorticoRedis (replies and commands).
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
public import NIOCore

/// One RESP2 value, as sent by a Redis server.
///
/// `bulkString(nil)` is the RESP2 null bulk string (`$-1`), `array(nil)` the null array (`*-1`).
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString(ByteBuffer?)
    case array([RESPValue]?)

    /// A bulk string holding the UTF-8 bytes of `string`.
    public static func bulk(_ string: String) -> RESPValue {
        .bulkString(ByteBuffer(string: string))
    }

    /// A bulk string holding `bytes`.
    public static func bulk(_ bytes: [UInt8]) -> RESPValue {
        .bulkString(ByteBuffer(bytes: bytes))
    }

    /// True for the null bulk string and the null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): return true
        default: return false
        }
    }

    /// The value as text: simple strings, errors, integers, and bulk strings that are valid UTF-8.
    public var string: String? {
        switch self {
        case .simpleString(let s), .error(let s): return s
        case .integer(let i): return String(i)
        case .bulkString(let buffer?): return buffer.getString(at: buffer.readerIndex, length: buffer.readableBytes)
        default: return nil
        }
    }

    /// The raw bytes of a bulk or simple string.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let buffer?): return Array(buffer.readableBytesView)
        case .simpleString(let s): return Array(s.utf8)
        default: return nil
        }
    }

    /// The bulk string's buffer (nil for anything else, including the null bulk string).
    public var buffer: ByteBuffer? {
        if case .bulkString(let buffer?) = self { return buffer }
        return nil
    }

    /// The value as an integer: RESP integers, and simple/bulk strings that parse as one.
    public var int: Int? {
        switch self {
        case .integer(let i): return Int(exactly: i)
        case .simpleString, .bulkString: return self.string.flatMap { Int($0) }
        default: return nil
        }
    }

    /// The elements of a non-null array.
    public var array: [RESPValue]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// The message of an error reply.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let s): return "+\(s)"
        case .error(let s): return "-\(s)"
        case .integer(let i): return ":\(i)"
        case .bulkString(nil), .array(nil): return "(nil)"
        case .bulkString(let b?): return "\"\(String(decoding: b.readableBytesView, as: UTF8.self))\""
        case .array(let elements?): return "[" + elements.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// Something that can be sent as one bulk-string argument of a Redis command.
public protocol RESPArgument: Sendable {
    /// Writes the argument's raw bytes (without RESP framing) into `buffer`.
    func writeRESPBytes(into buffer: inout ByteBuffer)
}

extension String: RESPArgument {
    public func writeRESPBytes(into buffer: inout ByteBuffer) { buffer.writeString(self) }
}

extension Substring: RESPArgument {
    public func writeRESPBytes(into buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
}

extension ByteBuffer: RESPArgument {
    public func writeRESPBytes(into buffer: inout ByteBuffer) { buffer.writeImmutableBuffer(self) }
}

extension Array: RESPArgument where Element == UInt8 {
    public func writeRESPBytes(into buffer: inout ByteBuffer) { buffer.writeBytes(self) }
}

extension Int: RESPArgument {
    public func writeRESPBytes(into buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
}

extension Int64: RESPArgument {
    public func writeRESPBytes(into buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
}

extension Double: RESPArgument {
    public func writeRESPBytes(into buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
}
