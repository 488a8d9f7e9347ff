// RESPEncoder.swift — encodes Redis commands (arrays of bulk strings) and RESP2 values.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
public import NIOCore

/// Writes RESP2. Commands are always sent as an array of bulk strings.
public enum RESPEncoder {
    /// Appends `*N\r\n$len\r\narg\r\n...` for `command` to `buffer`.
    public static func encodeCommand(_ command: [any RESPArgument], into buffer: inout ByteBuffer) {
        precondition(!command.isEmpty, "a Redis command needs at least one argument")
        buffer.writeStaticString("*")
        buffer.writeString(String(command.count))
        buffer.writeStaticString("\r\n")
        var scratch = ByteBuffer()
        for argument in command {
            scratch.clear()
            argument.writeRESPBytes(into: &scratch)
            buffer.writeStaticString("$")
            buffer.writeString(String(scratch.readableBytes))
            buffer.writeStaticString("\r\n")
            buffer.writeBuffer(&scratch)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Returns the encoding of `command` in a new buffer.
    public static func encodeCommand(_ command: [any RESPArgument]) -> ByteBuffer {
        var buffer = ByteBuffer()
        encodeCommand(command, into: &buffer)
        return buffer
    }

    /// Appends the RESP2 encoding of any value (used by tests and for completeness).
    /// Simple strings and errors must not contain CR or LF.
    public static func encode(_ value: RESPValue, into buffer: inout ByteBuffer) {
        switch value {
        case .simpleString(let s):
            buffer.writeStaticString("+")
            buffer.writeString(s)
            buffer.writeStaticString("\r\n")
        case .error(let s):
            buffer.writeStaticString("-")
            buffer.writeString(s)
            buffer.writeStaticString("\r\n")
        case .integer(let i):
            buffer.writeStaticString(":")
            buffer.writeString(String(i))
            buffer.writeStaticString("\r\n")
        case .bulkString(nil):
            buffer.writeStaticString("$-1\r\n")
        case .bulkString(let bytes?):
            buffer.writeStaticString("$")
            buffer.writeString(String(bytes.readableBytes))
            buffer.writeStaticString("\r\n")
            buffer.writeImmutableBuffer(bytes)
            buffer.writeStaticString("\r\n")
        case .array(nil):
            buffer.writeStaticString("*-1\r\n")
        case .array(let elements?):
            buffer.writeStaticString("*")
            buffer.writeString(String(elements.count))
            buffer.writeStaticString("\r\n")
            for element in elements { encode(element, into: &buffer) }
        }
    }
}
