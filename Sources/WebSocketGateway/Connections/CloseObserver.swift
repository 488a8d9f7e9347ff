// Learns how a connection ended: the first close frame seen in either direction (code and reason, and who
// sent it), or a frame-level protocol error, which NIO's frame decoder answers itself: a small channel
// handler right after the decoder watches them go by for `$disconnect`.
import NIOCore
import NIOWebSocket
import Synchronization

/// How a connection closed.
struct ObservedClose: Sendable, Equatable {
    enum Initiator: String, Sendable { case client, gateway }
    var code: UInt16
    var reason: String
    var initiator: Initiator

    /// No close frame at all: the TCP connection just went away.
    static let abnormal = ObservedClose(code: 1006, reason: "connection lost", initiator: .client)
}

/// Shared between the channel handler and the connection's session; the first record wins.
final class CloseRecord: Sendable {
    private let value = Mutex<ObservedClose?>(nil)

    func record(_ close: ObservedClose) {
        value.withLock { if $0 == nil { $0 = close } }
    }

    var observed: ObservedClose? { value.withLock { $0 } }

    /// Reads a close frame's payload: an empty payload means 1005 (no status code).
    static func parse(_ payload: ByteBuffer, initiator: ObservedClose.Initiator) -> ObservedClose {
        var payload = payload
        guard let code = payload.readInteger(as: UInt16.self) else {
            return ObservedClose(code: 1005, reason: "", initiator: initiator)
        }
        let reason = payload.readString(length: payload.readableBytes) ?? ""
        return ObservedClose(code: code, reason: reason, initiator: initiator)
    }
}

final class CloseFrameObserver: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let record: CloseRecord

    init(record: CloseRecord) {
        self.record = record
    }

    /// Adds an observer right after the frame decoder (and its protocol error handler) of the pipeline
    /// (on the event loop, right after the 101); false when the pipeline has no frame decoder yet.
    @discardableResult
    static func install(on operations: ChannelPipeline.SynchronousOperations, record: CloseRecord) throws -> Bool {
        if (try? operations.handler(type: CloseFrameObserver.self)) != nil { return true }
        let observer = CloseFrameObserver(record: record)
        if let errorHandler = try? operations.handler(type: WebSocketProtocolErrorHandler.self) {
            try operations.addHandler(observer, position: .after(errorHandler))
        } else if let decoder = try? operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self) {
            try operations.addHandler(observer, position: .after(decoder))
        } else {
            return false
        }
        return true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        // What NIO's decoder and swift-websocket let through and RFC 6455 §5.1–5.2 / RFC 7692 §6 say
        // must fail the connection: an unmasked client frame, reserved bits on a control frame,
        // RSV1 on a continuation frame.
        let control = frame.opcode == .ping || frame.opcode == .pong || frame.opcode == .connectionClose
        if frame.maskKey == nil || (control && (frame.rsv1 || frame.rsv2 || frame.rsv3))
            || (frame.opcode == .continuation && frame.rsv1)
        {
            failProtocol(context: context)
            return
        }
        if frame.opcode == .connectionClose {
            record.record(CloseRecord.parse(frame.unmaskedData, initiator: .client))
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        if frame.opcode == .connectionClose {
            record.record(CloseRecord.parse(frame.unmaskedData, initiator: .gateway))
        }
        context.write(data, promise: promise)
    }

    /// Sends close 1002 and closes the connection (the frame that broke the protocol is dropped).
    private func failProtocol(context: ChannelHandlerContext) {
        var payload = context.channel.allocator.buffer(capacity: 16)
        payload.write(webSocketErrorCode: .protocolError)
        payload.writeString("protocol error")
        record.record(ObservedClose(code: 1002, reason: "protocol error", initiator: .gateway))
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)
        context.writeAndFlush(wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The protocol error handler before us has already sent the matching close frame.
        if let error = error as? NIOWebSocketError {
            switch error {
            case .invalidFrameLength:
                record.record(ObservedClose(code: 1009, reason: "message too large", initiator: .gateway))
            default:
                record.record(ObservedClose(code: 1002, reason: "protocol error", initiator: .gateway))
            }
        }
        context.fireErrorCaught(error)
    }
}
