// RESPCodingTests.swift — unit tests for RESPEncoder and the incremental RESPDecoder.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
import NIOCore
import Testing

@testable import PorticoRedis

@Suite("RESP encoding and decoding")
struct RESPCodingTests {
    /// A reply with nesting, nulls, empty values, binary data and every scalar type.
    static let nestedReply =
        "*6\r\n+OK\r\n:-42\r\n$-1\r\n*3\r\n$5\r\nhe\r\nl\r\n*-1\r\n*2\r\n*0\r\n$0\r\n\r\n-ERR boom\r\n$3\r\n\u{0}\u{1}\u{2}\r\n"
    static let nestedValue: RESPValue = .array([
        .simpleString("OK"),
        .integer(-42),
        .bulkString(nil),
        .array([.bulk("he\r\nl"), .array(nil), .array([.array([]), .bulk("")])]),
        .error("ERR boom"),
        .bulk([0, 1, 2]),
    ])

    private func decodeAll(_ bytes: [UInt8], limits: RESPDecoder.Limits = .init()) throws -> [RESPValue] {
        var decoder = RESPDecoder(limits: limits)
        var buffer = ByteBuffer(bytes: bytes)
        var values: [RESPValue] = []
        while let value = try decoder.decode(&buffer) { values.append(value) }
        #expect(buffer.readableBytes == 0, "undecoded bytes left")
        return values
    }

    @Test func encodesCommandAsArrayOfBulkStrings() {
        let buffer = RESPEncoder.encodeCommand(["SET", "key", ByteBuffer(bytes: [0, 255]), 42, [UInt8]([1])])
        let expected =
            Array("*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$2\r\n".utf8) + [0, 255] + Array("\r\n$2\r\n42\r\n$1\r\n".utf8) + [1]
            + Array("\r\n".utf8)
        #expect(Array(buffer.readableBytesView) == expected)
        #expect(String(buffer: RESPEncoder.encodeCommand(["PING"])) == "*1\r\n$4\r\nPING\r\n")
        #expect(String(buffer: RESPEncoder.encodeCommand(["ECHO", "héllo"])) == "*2\r\n$4\r\nECHO\r\n$6\r\nhéllo\r\n")
    }

    @Test func decodesScalars() throws {
        let values = try decodeAll(
            Array("+PONG\r\n-ERR x y\r\n:0\r\n:-9223372036854775808\r\n$-1\r\n$0\r\n\r\n*-1\r\n*0\r\n".utf8))
        #expect(
            values == [
                .simpleString("PONG"), .error("ERR x y"), .integer(0), .integer(Int64.min),
                .bulkString(nil), .bulk(""), .array(nil), .array([]),
            ])
        #expect(values[1].errorMessage == "ERR x y")
        #expect(values[2].int == 0)
        #expect(values[4].isNull && values[6].isNull)
    }

    @Test func decodesNestedReplyInOneRead() throws {
        #expect(try decodeAll(Array(Self.nestedReply.utf8)) == [Self.nestedValue])
    }

    @Test func decodesNestedReplySplitAtEveryByteBoundary() throws {
        let bytes = Array(Self.nestedReply.utf8)
        for split in 0...bytes.count {
            var decoder = RESPDecoder()
            var buffer = ByteBuffer(bytes: bytes[..<split])
            var decoded = try decoder.decode(&buffer)
            if split < bytes.count { #expect(decoded == nil, "complete value after only \(split) bytes") }
            buffer.writeBytes(bytes[split...])
            if decoded == nil { decoded = try decoder.decode(&buffer) }
            #expect(decoded == Self.nestedValue, "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func decodesByteByByteWithSeveralRepliesBackToBack() throws {
        let bytes = Array((Self.nestedReply + ":7\r\n" + Self.nestedReply + "$-1\r\n").utf8)
        var decoder = RESPDecoder()
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for byte in bytes {
            buffer.writeInteger(byte)
            while let value = try decoder.decode(&buffer) { values.append(value) }
        }
        #expect(values == [Self.nestedValue, .integer(7), Self.nestedValue, .bulkString(nil)])
    }

    @Test func encoderAndDecoderRoundTrip() throws {
        let samples: [RESPValue] = [
            Self.nestedValue, .simpleString(""), .integer(Int64.max), .bulk(Array(0...255)),
            .array([.array([.array([.integer(1)])])]),
        ]
        var buffer = ByteBuffer()
        for value in samples { RESPEncoder.encode(value, into: &buffer) }
        #expect(try decodeAll(Array(buffer.readableBytesView)) == samples)
    }

    @Test(arguments: [
        "?what\r\n",  // unknown type byte
        "_\r\n",  // RESP3 null is not RESP2
        ":12a\r\n",  // bad integer
        ":\r\n",  // empty integer
        ":-\r\n",  // sign only
        ":99999999999999999999\r\n",  // overflow
        "$3\r\nabcX\r\n",  // bulk not followed by CRLF
        "$3\r\nabc\rX",  // bulk followed by CR then junk
        "$-2\r\n",  // negative bulk length
        "$x\r\n",  // non-numeric length
        "*-3\r\n",  // negative array length
        "*2\r\n:1\r\n?\r\n",  // bad element inside an array
        "+OK\nmore",  // bare LF
        "+OK\rX\r\n",  // CR not followed by LF
    ])
    func rejectsMalformedInput(_ input: String) {
        #expect(throws: RedisClientError.self, "\(input.debugDescription)") {
            _ = try decodeAll(Array(input.utf8))
        }
    }

    @Test func detectsMalformedBulkTerminatorBeforeTheWholeValueArrives() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "$3\r\nabcQ")
        #expect(throws: RedisClientError.self) { _ = try decoder.decode(&buffer) }
    }

    @Test func enforcesLimits() throws {
        var limits = RESPDecoder.Limits()
        limits.maxBulkLength = 10
        // The size is refused from the header alone, before any payload arrives.
        #expect(throws: RedisClientError.protocolError("bulk string of 11 bytes exceeds the 10-byte limit")) {
            _ = try decodeAll(Array("$11\r\n".utf8), limits: limits)
        }
        #expect(try decodeAll(Array("$10\r\n0123456789\r\n".utf8), limits: limits) == [.bulk("0123456789")])
        // The default cap is 512 MiB.
        #expect(throws: RedisClientError.self) { _ = try decodeAll(Array("$536870913\r\n".utf8)) }

        limits = RESPDecoder.Limits()
        limits.maxDepth = 3
        #expect(try decodeAll(Array("*1\r\n*1\r\n*1\r\n:1\r\n".utf8), limits: limits).count == 1)
        #expect(throws: RedisClientError.self) {
            _ = try decodeAll(Array("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n".utf8), limits: limits)
        }
        #expect(throws: RedisClientError.self) {
            _ = try decodeAll(Array("*1\r\n*1\r\n*1\r\n*0\r\n".utf8), limits: limits)
        }

        limits = RESPDecoder.Limits()
        limits.maxLineLength = 8
        #expect(try decodeAll(Array("+12345678\r\n".utf8), limits: limits) == [.simpleString("12345678")])
        // An over-long line is refused even before its CRLF arrives.
        #expect(throws: RedisClientError.self) { _ = try decodeAll(Array("+123456789".utf8), limits: limits) }
    }

    @Test func valueHelpers() {
        #expect(RESPValue.bulk("12").int == 12)
        #expect(RESPValue.simpleString("OK").string == "OK")
        #expect(RESPValue.integer(5).string == "5")
        #expect(RESPValue.array([.integer(1)]).array == [.integer(1)])
        #expect(RESPValue.array(nil).array == nil)
        #expect(RESPValue.bulkString(nil).string == nil)
        #expect(RESPValue.bulk([1, 2]).bytes == [1, 2])
        #expect(RESPValue.array([.bulk("a"), .bulkString(nil)]).description == "[\"a\", (nil)]")
    }

    @Test func sha1MatchesKnownVectors() {
        #expect(RedisConnection.sha1Hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisConnection.sha1Hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(
            RedisConnection.sha1Hex(String(repeating: "a", count: 1000)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }
}
