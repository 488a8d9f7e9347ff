// permessage-deflate (swift-websocket's extension) with the inflate bound reported as the protocol says:
// a frame that inflates past the limit closes the connection with 1009 (message too big), not 1011.
// The library throws compress-nio's buffer-overflow error, which its close-code mapping does not know;
// this wrapper turns it into the frame-length error that maps to 1009. Everything else is passed on.
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
        inner.serverReponseHeader(to: request)
    }

    func serverExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        try inner.serverExtension(from: request).map(BoundedDeflate.init)
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
        }
    }

    func processFrameToSend(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame
    {
        try await inner.processFrameToSend(frame, context: context)
    }

    func shutdown() async { await inner.shutdown() }
}
