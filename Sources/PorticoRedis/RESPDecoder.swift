// RESPDecoder.swift — an incremental RESP2 parser over ByteBuffer, plus its NIO ByteToMessageDecoder.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
public import NIOCore

/// Incremental RESP2 parser.
///
/// Feed it the bytes received so far; `decode(_:)` consumes and returns one complete top-level
/// value, or returns nil when more bytes are needed. Partially received arrays are kept in the
/// decoder between calls, so a large reply arriving in many small reads is parsed in linear time.
/// After it throws, the decoder (and the connection it serves) must not be used any more.
public struct RESPDecoder: Sendable {
    /// Limits that protect against a misbehaving server.
    public struct Limits: Sendable, Hashable {
        /// Largest bulk string accepted (Redis' own `proto-max-bulk-len` default is 512 MiB).
        public var maxBulkLength: Int = 512 * 1024 * 1024
        /// Deepest nesting of arrays accepted (a top-level array has depth 1).
        public var maxDepth: Int = 32
        /// Longest simple string / error / integer / length line accepted, without its CRLF.
        public var maxLineLength: Int = 64 * 1024
        /// Largest element count accepted in one array.
        public var maxArrayLength: Int = Int(Int32.max)

        public init() {}
    }

    private struct PartialArray: Sendable {
        var remaining: Int
        var elements: [RESPValue]
    }

    private enum Token {
        case value(RESPValue)
        case arrayHeader(Int)
    }

    public let limits: Limits
    private var stack: [PartialArray] = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Consumes one complete value from `buffer`, or returns nil (consuming only whole
    /// sub-elements already stored in the decoder) when the value is not complete yet.
    public mutating func decode(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        while true {
            guard let token = try self.readToken(&buffer) else { return nil }
            var completed: RESPValue
            switch token {
            case .value(let value):
                completed = value
            case .arrayHeader(let count):
                if count > 0 {
                    guard self.stack.count < self.limits.maxDepth else {
                        throw RedisClientError.protocolError("arrays nested deeper than \(self.limits.maxDepth)")
                    }
                    var elements: [RESPValue] = []
                    elements.reserveCapacity(min(count, 1024))
                    self.stack.append(PartialArray(remaining: count, elements: elements))
                    continue
                }
                guard self.stack.count < self.limits.maxDepth else {
                    throw RedisClientError.protocolError("arrays nested deeper than \(self.limits.maxDepth)")
                }
                completed = .array([])
            }
            // Attach the completed value to the innermost open array, closing arrays as they fill.
            while !self.stack.isEmpty {
                let top = self.stack.count - 1
                self.stack[top].elements.append(completed)
                self.stack[top].remaining -= 1
                guard self.stack[top].remaining == 0 else { break }
                completed = .array(self.stack.removeLast().elements)
            }
            if self.stack.isEmpty { return completed }
        }
    }

    /// Reads one scalar value or array header; returns nil (consuming nothing) if incomplete.
    private func readToken(_ buffer: inout ByteBuffer) throws -> Token? {
        guard let typeByte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        var cursor = buffer
        cursor.moveReaderIndex(forwardBy: 1)
        guard let line = try self.readLine(&cursor) else { return nil }
        let token: Token
        switch typeByte {
        case UInt8(ascii: "+"):
            token = .value(.simpleString(String(decoding: line.readableBytesView, as: UTF8.self)))
        case UInt8(ascii: "-"):
            token = .value(.error(String(decoding: line.readableBytesView, as: UTF8.self)))
        case UInt8(ascii: ":"):
            token = .value(.integer(try Self.parseInteger(line)))
        case UInt8(ascii: "$"):
            let declared = try Self.parseInteger(line)
            if declared == -1 {
                token = .value(.bulkString(nil))
                break
            }
            guard declared >= 0 else { throw RedisClientError.protocolError("negative bulk string length \(declared)") }
            guard declared <= self.limits.maxBulkLength else {
                throw RedisClientError.protocolError(
                    "bulk string of \(declared) bytes exceeds the \(self.limits.maxBulkLength)-byte limit")
            }
            let length = Int(declared)
            if cursor.readableBytes > length, cursor.getInteger(at: cursor.readerIndex + length, as: UInt8.self) != 0x0D
            {
                throw RedisClientError.protocolError("bulk string not terminated by CRLF")
            }
            guard cursor.readableBytes >= length + 2 else { return nil }
            let payload = cursor.readSlice(length: length)!
            guard cursor.readInteger(as: UInt16.self) == 0x0D0A else {
                throw RedisClientError.protocolError("bulk string not terminated by CRLF")
            }
            token = .value(.bulkString(payload))
        case UInt8(ascii: "*"):
            let count = try Self.parseInteger(line)
            if count == -1 {
                token = .value(.array(nil))
                break
            }
            guard count >= 0 else { throw RedisClientError.protocolError("negative array length \(count)") }
            guard count <= self.limits.maxArrayLength else {
                throw RedisClientError.protocolError(
                    "array of \(count) elements exceeds the limit of \(self.limits.maxArrayLength)")
            }
            token = .arrayHeader(Int(count))
        default:
            throw RedisClientError.protocolError("unknown RESP2 type byte 0x\(String(typeByte, radix: 16))")
        }
        buffer = cursor
        return token
    }

    /// Reads a line ending in CRLF (returned without it); nil if no full line yet.
    private func readLine(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        let maxLine = self.limits.maxLineLength
        let terminator: Int? = buffer.withUnsafeReadableBytes { bytes in
            let scanLength = min(bytes.count, maxLine + 1)
            for i in 0..<scanLength where bytes[i] == 0x0D || bytes[i] == 0x0A {
                return i
            }
            return nil
        }
        guard let end = terminator else {
            if buffer.readableBytes > maxLine {
                throw RedisClientError.protocolError("line longer than \(maxLine) bytes")
            }
            return nil
        }
        guard buffer.getInteger(at: buffer.readerIndex + end, as: UInt8.self) == 0x0D else {
            throw RedisClientError.protocolError("bare LF in a RESP line")
        }
        guard end <= maxLine else { throw RedisClientError.protocolError("line longer than \(maxLine) bytes") }
        guard let next = buffer.getInteger(at: buffer.readerIndex + end + 1, as: UInt8.self) else { return nil }
        guard next == 0x0A else { throw RedisClientError.protocolError("CR not followed by LF in a RESP line") }
        let line = buffer.readSlice(length: end)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    private static func parseInteger(_ line: ByteBuffer) throws -> Int64 {
        let bytes = line.readableBytesView
        var index = bytes.startIndex
        var negative = false
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index = bytes.index(after: index)
        }
        guard index < bytes.endIndex else { throw RedisClientError.protocolError("empty integer") }
        var value: Int64 = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw RedisClientError.protocolError("invalid integer \"\(String(decoding: bytes, as: UTF8.self))\"")
            }
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) =
                negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            guard !o1, !o2 else { throw RedisClientError.protocolError("integer out of range") }
            value = next
            index = bytes.index(after: index)
        }
        return value
    }
}

/// NIO adapter: turns inbound bytes into `RESPValue`s.
struct RESPMessageDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    var parser: RESPDecoder

    init(limits: RESPDecoder.Limits = .init()) {
        self.parser = RESPDecoder(limits: limits)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try self.parser.decode(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        // A partial reply at EOF is dropped; pending commands are failed by the command handler.
        try self.decode(context: context, buffer: &buffer)
    }
}
