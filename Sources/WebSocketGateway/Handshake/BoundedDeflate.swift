// permessage-deflate (swift-websocket's extension) made safe for offers from anyone: offers RFC 7692
// says must be declined (unknown parameters, values where none belong, window bits outside 9–15) are
// declined before the library sees them (it passed window bits straight to zlib, which asserts: one
// unauthenticated handshake could crash a debug build; 8 is declined too, zlib's raw deflate cannot
// use it), and a frame that inflates past the limit closes the connection with 1009 (message too
// big), not 1011: the library throws compress-nio's buffer-overflow error, which its close-code
// mapping does not know; it becomes the frame-length error that maps to 1009.
import CompressNIO
import HummingbirdWSCompression
import HummingbirdWebSocket
import NIOWebSocket

struct BoundedDeflateBuilder: WebSocketExtensionBuilder {
    static var name: String { "permessage-deflate" }
    let inner: any WebSocketExtensionBuilder

    /// The extension factory: deflate as configured, inflated frames at most `maxInflated` bytes.
    static func factory(noContextTakeover: Bool, maxInflated: Int, minSize: Int) -> WebSocketExtensionFactory {
        let deflate = WebSocketExtensionFactory.perMessageDeflate(
            noContextTakeover: noContextTakeover, maxDecompressedFrameSize: maxInflated,
            minFrameSizeToCompress: minSize)
        return WebSocketExtensionFactory { BoundedDeflateBuilder(inner: deflate.build()) }
    }

    func clientRequestHeader() -> String { inner.clientRequestHeader() }

    func serverReponseHeader(to request: WebSocketExtensionHTTPParameters) -> String? {
        Self.acceptable(request) ? inner.serverReponseHeader(to: request) : nil
    }

    func serverExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        guard Self.acceptable(request) else { return nil }
        return try inner.serverExtension(from: request).map(BoundedDeflate.init)
    }

    /// Whether a client's permessage-deflate offer is one the gateway takes (RFC 7692 §7).
    static func acceptable(_ request: WebSocketExtensionHTTPParameters) -> Bool {
        func windowBits(_ value: WebSocketExtensionHTTPParameters.Parameter) -> Bool {
            guard let bits = value.integer else { return false }
            return (9...15).contains(bits)
        }
        for (name, value) in request.parameters {
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

    func clientExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        try inner.clientExtension(from: request).map(BoundedDeflate.init)
    }
}

struct BoundedDeflate: WebSocketExtension {
    let inner: any WebSocketExtension

    var name: String { inner.name }
    var reservedBits: WebSocketFrame.ReservedBits { inner.reservedBits }

    func processReceivedFrame(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws
        -> WebSocketFrame
    {
        do {
            return try await inner.processReceivedFrame(frame, context: context)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw NIOWebSocketError.invalidFrameLength
        } catch is CompressNIOError {
            // Data that does not inflate: a protocol error (1002), not an error of the gateway (1011).
            throw NIOWebSocketError.fragmentedControlFrame
        }
    }

    func processFrameToSend(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame
    {
        try await inner.processFrameToSend(frame, context: context)
    }

    func shutdown() async { await inner.shutdown() }
}
