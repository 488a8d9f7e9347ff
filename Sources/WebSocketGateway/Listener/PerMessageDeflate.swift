// permessage-deflate (RFC 7692) on the event loop, for DirectConnectionHandler: the answer to a client's
// offers, and inflating and deflating whole messages on compress-nio's zlib streams.
//
// Written by hand because swift-websocket's extension is asynchronous (an actor per direction, for its
// task-based handler) and creates both zlib streams at the handshake, so every connection a browser
// opens (browsers always offer the extension) cost about 127 KiB while idle, against about 8 without
// compression (`portico-bench idle --offer-deflate`, docs/benchmarks.md). Here a zlib stream is made by
// the first message that needs it, and with no context takeover in a direction it is dropped after
// each message, so an idle connection holds none.
import CompressNIO
import HTTPTypes
import NIOCore
@_spi(WSInternal) import WSCore

/// What was agreed for one connection, and the `Sec-WebSocket-Extensions` answer that says so.
struct DeflateAgreement: Sendable, Equatable {
    /// The client starts each message with a fresh compression context.
    var receiveNoContextTakeover: Bool
    /// The window (9–15 bits) the gateway's compressor may use.
    var sendWindowBits: Int
    /// The gateway starts each message it compresses with a fresh context.
    var sendNoContextTakeover: Bool
    var responseHeader: String

    /// The answer to the first acceptable permessage-deflate offer in `offers`; nil when there is none.
    /// With `noContextTakeover` the gateway asks for (and uses) no context takeover in both directions.
    static func negotiate(_ offers: [WebSocketExtensionHTTPParameters], noContextTakeover: Bool) -> DeflateAgreement? {
        guard let offer = offers.first(where: { $0.name == "permessage-deflate" && acceptable($0) }) else {
            return nil
        }
        let clientWindow = offer.parameters["client_max_window_bits"]?.integer
        let serverWindow = offer.parameters["server_max_window_bits"]?.integer
        let receiveReset = offer.parameters["client_no_context_takeover"] != nil || noContextTakeover
        let sendReset = offer.parameters["server_no_context_takeover"] != nil || noContextTakeover
        var header = "permessage-deflate"
        if let clientWindow { header += ";client_max_window_bits=\(clientWindow)" }
        if receiveReset { header += ";client_no_context_takeover" }
        if let serverWindow { header += ";server_max_window_bits=\(serverWindow)" }
        if sendReset { header += ";server_no_context_takeover" }
        return DeflateAgreement(
            receiveNoContextTakeover: receiveReset, sendWindowBits: serverWindow ?? 15,
            sendNoContextTakeover: sendReset, responseHeader: header)
    }

    /// The extension offers of a request, one per comma-separated element of each
    /// `Sec-WebSocket-Extensions` field (RFC 6455 §9.1: a client may list several in one field; the
    /// library's parser reads a field as one offer).
    static func offers(in headers: HTTPFields) -> [WebSocketExtensionHTTPParameters] {
        headers[values: .secWebSocketExtensions].flatMap { value in
            value.split(separator: ",").flatMap { element in
                WebSocketExtensionHTTPParameters.parseHeaders([.secWebSocketExtensions: String(element)])
            }
        }
    }

    /// Whether an offer is one the gateway takes (RFC 7692 §7): only the four parameters, each with a
    /// value where one belongs, window bits 9–15 (zlib's raw deflate cannot use 8).
    static func acceptable(_ offer: WebSocketExtensionHTTPParameters) -> Bool {
        func windowBits(_ value: WebSocketExtensionHTTPParameters.Parameter) -> Bool {
            guard let bits = value.integer else { return false }
            return (9...15).contains(bits)
        }
        for (name, value) in offer.parameters {
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard value == .null else { return false }
            case "server_max_window_bits":
                guard windowBits(value) else { return false }
            case "client_max_window_bits":
                guard value == .null || windowBits(value) else { return false }
            default:
                return false
            }
        }
        return true
    }
}

/// One connection's compression: messages in are inflated whole, messages out of at least `minSize`
/// bytes are deflated. Used on the connection's event loop only.
final class DeflateCodec {
    enum InflateFailure: Error {
        /// The message inflates past the limit (close 1009).
        case tooLarge
        /// The data does not inflate (close 1002).
        case corrupt
    }

    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    let agreement: DeflateAgreement
    private let minSize: Int
    private let maxInflated: Int
    private var inflater: ZlibDecompressor?
    private var deflater: ZlibCompressor?
    private var compressedSinceCheck = false

    init(agreement: DeflateAgreement, minSize: Int, maxInflated: Int) {
        self.agreement = agreement
        self.minSize = minSize
        self.maxInflated = maxInflated
    }

    /// Whether a zlib stream is held now (for tests: an idle connection holds none).
    var holdsStreams: Bool { inflater != nil || deflater != nil }

    /// The message a client sent compressed (its frames' payloads, joined).
    func inflate(_ compressed: ByteBuffer, allocator: ByteBufferAllocator) throws(InflateFailure) -> ByteBuffer {
        var input = compressed
        input.writeBytes(Self.tail)  // RFC 7692 §7.2.2: the sender removed it.
        do {
            // The client may use any window up to 15 bits; a 15-bit inflater reads them all.
            let inflater = try self.inflater ?? ZlibDecompressor(algorithm: .deflate, windowSize: 15)
            self.inflater = agreement.receiveNoContextTakeover ? nil : inflater
            // One byte of room over the limit: compress-nio takes a buffer it filled exactly for an
            // overflow, and its buffers can come bigger than asked for, so the limit is checked here.
            let output = try input.decompressStream(with: inflater, maxSize: maxInflated + 1, allocator: allocator)
            guard output.readableBytes <= maxInflated else {
                self.inflater = nil
                throw CompressNIOError.bufferOverflow
            }
            // Input left over: the message ended its DEFLATE stream with a final block (RFC 7692
            // §7.2.3.4 allows it), after which this inflater reads nothing more; the next message
            // starts a new one.
            if input.readableBytes > 0 { self.inflater = nil }
            return output
        } catch let error as CompressNIOError where error == .bufferOverflow {
            inflater = nil
            throw .tooLarge
        } catch {
            inflater = nil
            throw .corrupt
        }
    }

    /// Whether a message to send goes out compressed, decided on its first frame: a fragmented one
    /// (large) always, a single frame from `minSize` bytes on. RFC 7692 lets a sender leave any message
    /// uncompressed.
    func compresses(firstFrameSize size: Int, fin: Bool) -> Bool { !fin || (size > 0 && size >= minSize) }

    /// Drops the compressor when nothing was compressed since the last call (the connection's ping
    /// tick): with context takeover it holds about 256 KiB (15-bit window, zlib's memLevel 8) for as
    /// long as it lives. Starting a new DEFLATE stream is always allowed to the sender (it only uses
    /// less context); the client's inflater reads it on.
    func releaseIdleCompressor() {
        if !compressedSinceCheck { deflater = nil }
        compressedSinceCheck = false
    }

    /// One frame of a message being sent compressed, compressed; the message's last frame (`fin`) ends
    /// without the sync flush's 00 00 FF FF (RFC 7692 §7.2.1), which the receiver adds back.
    func deflateFrame(_ payload: ByteBuffer, fin: Bool, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var input = payload
        compressedSinceCheck = true
        do {
            let deflater =
                try self.deflater
                ?? ZlibCompressor(
                    algorithm: .deflate, configuration: .init(windowSize: Int32(agreement.sendWindowBits)))
            self.deflater = fin && agreement.sendNoContextTakeover ? nil : deflater
            var output = try input.compressStream(with: deflater, flush: .sync, allocator: allocator)
            if fin {
                guard output.readableBytes >= 4 else { throw CompressNIOError.internalError }
                output.moveWriterIndex(to: output.writerIndex - 4)
            }
            return output
        } catch {
            // The stream's state is unknown now: the next message starts a fresh one.
            self.deflater = nil
            throw error
        }
    }
}
