// Unit tests of permessage-deflate on the event-loop path (PerMessageDeflate.swift): which offer is taken
// and how it is answered, messages that survive deflate → inflate with and without context takeover,
// the inflated-size bound, corrupt data, and that a connection holds a zlib stream only while it needs
// one. The robustness suite (Tests/WebSocketRobustness, cases 12–13) checks the same against Python's zlib
// over real connections.
import CompressNIO
import HTTPTypes
import NIOCore
import Testing
@_spi(WSInternal) import WSCore

@testable import WebSocketGateway

@Suite("WebSocket permessage-deflate")
struct WebSocketDeflateTests {
    static func offers(_ header: String) -> [WebSocketExtensionHTTPParameters] {
        DeflateAgreement.offers(in: [.secWebSocketExtensions: header])
    }

    static func agreement(_ header: String, noContextTakeover: Bool = false) -> DeflateAgreement? {
        DeflateAgreement.negotiate(offers(header), noContextTakeover: noContextTakeover)
    }

    @Test func aBrowsersOfferIsAnsweredPlainly() throws {
        let agreed = try #require(Self.agreement("permessage-deflate; client_max_window_bits"))
        #expect(agreed.responseHeader == "permessage-deflate")
        #expect(!agreed.receiveNoContextTakeover && !agreed.sendNoContextTakeover)
        #expect(agreed.sendWindowBits == 15)
    }

    @Test func parametersAreAnsweredAndTheGatewayCanAskForNoContextTakeover() throws {
        let agreed = try #require(
            Self.agreement("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"))
        #expect(agreed.responseHeader == "permessage-deflate;client_max_window_bits=12;server_max_window_bits=10")
        #expect(agreed.sendWindowBits == 10)
        let reset = try #require(Self.agreement("permessage-deflate", noContextTakeover: true))
        #expect(reset.responseHeader == "permessage-deflate;client_no_context_takeover;server_no_context_takeover")
        #expect(reset.receiveNoContextTakeover && reset.sendNoContextTakeover)
    }

    @Test func theFirstAcceptableOfferIsTakenAndBadOnesDeclined() throws {
        let second = try #require(
            Self.agreement("permessage-deflate; foo=1, permessage-deflate; server_no_context_takeover"))
        #expect(second.responseHeader == "permessage-deflate;server_no_context_takeover")
        #expect(Self.agreement("permessage-deflate; server_max_window_bits=10; client_no_context_takeover") != nil)
        // Window bits zlib would assert on (the crash the robustness suite once found), 8 (raw deflate
        // cannot use it), values where none belong or missing where one must be, unknown parameters.
        for bad in [
            "permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=20", "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_max_window_bits", "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; x_custom", "x-webkit-deflate-frame",
        ] {
            #expect(Self.agreement(bad) == nil, "\(bad)")
        }
    }

    static func codec(_ header: String = "permessage-deflate", minSize: Int = 16, maxInflated: Int = 1 << 16)
        throws -> DeflateCodec
    {
        DeflateCodec(agreement: try #require(agreement(header)), minSize: minSize, maxInflated: maxInflated)
    }

    @Test(arguments: [
        "permessage-deflate", "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
    ])
    func messagesSurviveDeflateAndInflate(offer: String) throws {
        // The gateway's sending side, and a receiving side agreed the same way (as a client would be).
        let sender = try Self.codec(offer)
        let receiver = try Self.codec(offer)
        let allocator = ByteBufferAllocator()
        let keeps = !offer.contains("no_context_takeover")
        #expect(!sender.holdsStreams && !receiver.holdsStreams)
        for text in [
            "hello hello hello hello hello", String(repeating: "portico ", count: 500), "hello hello hello hello!",
        ] {
            let compressed = try #require(sender.deflate(ByteBuffer(string: text), allocator: allocator))
            #expect(compressed.readableBytes < text.utf8.count)
            let inflated = try receiver.inflate(compressed, allocator: allocator)
            #expect(String(buffer: inflated) == text)
            // With context takeover both sides keep their stream between messages; without, none.
            #expect(sender.holdsStreams == keeps && receiver.holdsStreams == keeps)
        }
    }

    @Test func smallMessagesGoOutUncompressedAndMakeNoStream() throws {
        let codec = try Self.codec(minSize: 256)
        #expect(codec.deflate(ByteBuffer(string: String(repeating: "a", count: 255)), allocator: .init()) == nil)
        #expect(!codec.holdsStreams)
        #expect(codec.deflate(ByteBuffer(string: String(repeating: "a", count: 256)), allocator: .init()) != nil)
        #expect(codec.holdsStreams)
    }

    @Test func aMessageEndingWithAFinalBlockLeavesTheNextOneReadable() throws {
        // RFC 7692 §7.2.3.4: a sender may end a message with a BFINAL block; zlib's one-shot raw deflate
        // does, and the 00 00 FF FF it is sent without is then left unread.
        let receiver = try Self.codec()
        let allocator = ByteBufferAllocator()
        for text in ["first message, first message", "second message, second message"] {
            var input = ByteBuffer(string: text)
            let final = try input.compress(with: .deflate(), allocator: allocator)
            #expect(String(buffer: try receiver.inflate(final, allocator: allocator)) == text)
        }
    }

    @Test func theCompressorIsDroppedAfterAnIdlePingTickAndEmptyMessagesStayUncompressed() throws {
        let codec = try Self.codec(minSize: 0)
        let allocator = ByteBufferAllocator()
        #expect(codec.deflate(ByteBuffer(), allocator: allocator) == nil)
        #expect(codec.deflate(ByteBuffer(string: "hello hello hello"), allocator: allocator) != nil)
        codec.releaseIdleCompressor()  // something was sent since the last tick: kept
        #expect(codec.holdsStreams)
        codec.releaseIdleCompressor()  // nothing since: dropped
        #expect(!codec.holdsStreams)
        // A fresh stream after the drop still reads on in the client's inflater.
        let client = try Self.codec()
        let before = try #require(codec.deflate(ByteBuffer(string: "one one one one one"), allocator: allocator))
        #expect(String(buffer: try client.inflate(before, allocator: allocator)) == "one one one one one")
        codec.releaseIdleCompressor()
        codec.releaseIdleCompressor()
        let after = try #require(codec.deflate(ByteBuffer(string: "two two two two two"), allocator: allocator))
        #expect(String(buffer: try client.inflate(after, allocator: allocator)) == "two two two two two")
    }

    @Test func inflatingPastTheLimitOrCorruptDataFails() throws {
        let sender = try Self.codec(maxInflated: 1 << 20)
        let receiver = try Self.codec(maxInflated: 70_000)
        // Exactly the limit passes whatever size the allocator rounds buffers to (65,536 is a power of two).
        let limit = try Self.codec(maxInflated: 65_536)
        let full = try #require(sender.deflate(ByteBuffer(repeating: 0x61, count: 65_536), allocator: .init()))
        #expect(try limit.inflate(full, allocator: .init()).readableBytes == 65_536)
        let allocator = ByteBufferAllocator()
        let exactly = try #require(sender.deflate(ByteBuffer(repeating: 0x7A, count: 70_000), allocator: allocator))
        #expect(try receiver.inflate(exactly, allocator: allocator).readableBytes == 70_000)
        let over = try #require(sender.deflate(ByteBuffer(repeating: 0x7A, count: 70_001), allocator: allocator))
        #expect(throws: DeflateCodec.InflateFailure.tooLarge) { try receiver.inflate(over, allocator: allocator) }
        #expect(!receiver.holdsStreams)
        #expect(throws: DeflateCodec.InflateFailure.corrupt) {
            try Self.codec().inflate(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), allocator: allocator)
        }
    }
}

extension DeflateCodec {
    /// A whole message sent in one frame, as DirectConnectionHandler compresses it: nil when it goes out
    /// uncompressed.
    func deflate(_ payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard compresses(firstFrameSize: payload.readableBytes, fin: true) else { return nil }
        return try? deflateFrame(payload, fin: true, allocator: allocator)
    }
}
