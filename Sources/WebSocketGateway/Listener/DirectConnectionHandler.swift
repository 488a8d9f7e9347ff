// An upgraded connection, served on its event loop: frames are read here (control frames answered,
// data frames reassembled by MessageAssembler and, with permessage-deflate, inflated whole by
// DeflateCodec; messages out are deflated on their way to the socket), each complete message is
// routed and its integration call made on the same loop (a task only for channel operations and
// services the loop cannot call directly), and messages to the client are written onto the loop by
// ClientConnection. An idle connection has no task at all, only this handler, NIO's frame codec
// and the `CloseFrameObserver` before it. Written by hand because hummingbird-websocket's handler
// needs a task per connection and more per feature (reader, writer, pinger).
//
// The close handshake and pings follow swift-websocket's state machine (WSCore), so the gateway answers
// as hummingbird-websocket would: a client's close is answered with 1000, or 1002 for a malformed one (one byte, a
// reserved code, a reason that is not UTF-8), and the socket is closed; a close the gateway starts waits
// for the client's answer (ConnectionSweeper closes the socket after the close timeout); a ping without
// a pong by the next one closes the connection with 1001 "ping timeout".
import Foundation
import NIOCore
import NIOWebSocket

final class DirectConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum CloseState { case open, closeSent, closed }

    private let runtime: WebSocketRuntime
    private let closeRecord: CloseRecord
    private let started = ContinuousClock.now
    private var connection: ClientConnection?
    private var context: ChannelHandlerContext?
    private var assembler: MessageAssembler
    /// permessage-deflate, when the handshake agreed on it.
    private let deflate: DeflateCodec?
    /// The message being assembled was sent compressed (RSV1 on its first frame), and its kind.
    private var compressedKind: MessageAssembler.Kind?
    /// A fragmented message is being sent compressed: its continuation frames are compressed too.
    private var sendingCompressed = false
    /// Compressing a fragmented message failed: its remaining frames are dropped (the connection is
    /// being closed with 1011).
    private var discardingMessage = false
    private var closeState = CloseState.open
    /// Messages being handled; reading pauses at `WebSocketRuntime.maxInFlightPerConnection`.
    private var inFlight = 0
    private var readHeld = false
    /// The replica bus registration is under way; reading waits for it.
    private var registering = false
    private var inactive = false
    private var ended = false
    /// The connection's registration with the replica bus, which its end waits for.
    private var registration: Task<Void, Never>?
    private var pinger: RepeatedTask?
    /// The payload of the ping that has not been answered yet.
    private var unansweredPing: ByteBuffer?

    private init(runtime: WebSocketRuntime, closeRecord: CloseRecord, deflate: DeflateAgreement?) {
        self.runtime = runtime
        self.closeRecord = closeRecord
        self.assembler = MessageAssembler(maxSize: runtime.maxMessageSize)
        self.deflate = deflate.map {
            DeflateCodec(
                agreement: $0, minSize: runtime.config.compression.minSize.bytes, maxInflated: runtime.maxMessageSize)
        }
    }

    /// Puts the frame check and the handler behind NIO's frame codec of `channel` (on its event loop, right
    /// after the 101) and registers the connection.
    static func install(
        on channel: any Channel, context: WebSocketGatewayContext, deflate: DeflateAgreement?, runtime: WebSocketRuntime
    ) throws {
        guard let accepted = context.handshake.accepted else {
            throw ChannelError.inappropriateOperationForState
        }
        let sync = channel.pipeline.syncOperations
        try CloseFrameObserver.install(on: sync, record: context.closeRecord)
        let handler = DirectConnectionHandler(runtime: runtime, closeRecord: context.closeRecord, deflate: deflate)
        try sync.addHandler(handler)
        let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        let metrics = runtime.metrics
        let queue = runtime.config.outboundQueue
        let connection = ClientConnection(
            accepted: accepted, channel: channel, maxQueuedBytes: queue.maxBytes.bytes,
            rate: runtime.config.messageRate,
            onWritten: { metrics.bytes(out: $0) }, onSlowConsumer: { metrics.slowConsumerClosed() },
            onClose: { request in
                channel.eventLoop.execute { bound.value.sendClose(code: request.code, reason: request.reason) }
            })
        handler.connection = connection
        metrics.connectionOpened()
        if !runtime.registry.add(connection) {
            connection.close(code: 1001, reason: "server shutting down", drain: false)
        }
        if let bus = runtime.bus {
            // Reading waits for the registration, so a service answering a message through another
            // replica finds the connection.
            handler.registering = true
            handler.registration = Task {
                await bus.register(connection)
                channel.eventLoop.execute { bound.value.registered() }
            }
        }
        let interval = runtime.config.pingInterval.duration
        if interval > .zero {
            let period = TimeAmount.nanoseconds(
                interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000)
            handler.pinger = channel.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
                bound.value.pingDue()
            }
        }
        // Closed while it was being set up: no channelInactive will come.
        if !channel.isActive { handler.connectionGone() }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            receivedClose(frame, context: context)
        case .ping:
            // NIO's decoder has already refused fragmented and over-long control frames.
            guard closeState == .open else { return }
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            if let ping = unansweredPing, frame.unmaskedData == ping { unansweredPing = nil }
        case .text, .binary, .continuation:
            guard closeState == .open, let connection, connection.closeRequest == nil else { return }
            var bits = frame.reservedBits
            if deflate != nil, frame.opcode != .continuation { bits.remove(.rsv1) }
            guard bits.isEmpty else {
                let reason =
                    if deflate == nil {
                        "reserved bits set without an extension"
                    } else if bits == .rsv1 {
                        "RSV1 on a continuation frame"
                    } else {
                        "reserved bits other than RSV1 set"
                    }
                connection.close(code: 1002, reason: reason, drain: false)
                return
            }
            received(frame, on: connection)
        default:
            connection?.close(code: 1002, reason: "reserved opcode", drain: false)
        }
    }

    /// Adds a data frame to the message being assembled; a complete message is handled in a task.
    private func received(_ frame: WebSocketFrame, on connection: ClientConnection) {
        let kind: MessageAssembler.Kind? =
            switch frame.opcode {
            case .text: .text
            case .binary: .binary
            default: nil
            }
        let runtime = self.runtime
        var event: MessageAssembler.Event
        if frame.rsv1, let kind {
            // Compressed: assembled as bytes (UTF-8 is checked once inflated).
            compressedKind = kind
            event = assembler.append(kind: .binary, fin: frame.fin, data: frame.unmaskedData)
        } else {
            event = assembler.append(kind: kind, fin: frame.fin, data: frame.unmaskedData)
        }
        if let compressed = compressedKind, event != .incomplete {
            compressedKind = nil
            if case .binary(let data) = event { event = inflated(data, kind: compressed) }
        }
        guard let message = runtime.admit(event, on: connection) else { return }
        guard let loop = context?.eventLoop else { return }
        switch runtime.handleOnLoop(message, on: connection, loop: loop) {
        case .completed:
            return
        case .pending(let answered):
            inFlight += 1
            answered.assumeIsolated().whenComplete { _ in self.messageHandled() }
        case .task(let work):
            inFlight += 1
            let bound = NIOLoopBound(self, eventLoop: loop)
            Task {
                await work()
                loop.execute { bound.value.messageHandled() }
            }
        }
    }

    /// A compressed message, inflated: the event MessageAssembler would give for it uncompressed.
    private func inflated(_ data: ByteBuffer, kind: MessageAssembler.Kind) -> MessageAssembler.Event {
        guard let deflate, let allocator = context?.channel.allocator else { return .protocolError }
        do {
            let message = try deflate.inflate(data, allocator: allocator)
            guard kind == .text else { return .binary(message) }
            guard let text = String(validating: message.readableBytesView, as: UTF8.self) else { return .invalidUTF8 }
            return .text(text)
        } catch .tooLarge {
            return .tooLarge
        } catch {
            return .undecodable
        }
    }

    private func messageHandled() {
        inFlight -= 1
        resumeReading()
        endIfDone()
    }

    private func registered() {
        registering = false
        resumeReading()
    }

    private var mayRead: Bool { !registering && inFlight < WebSocketRuntime.maxInFlightPerConnection }

    private func resumeReading() {
        if readHeld, mayRead, let context {
            readHeld = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if mayRead {
            context.read()
        } else {
            readHeld = true
        }
    }

    /// Direct writes (ClientConnection) pass here; a data frame after the close frame is dropped
    /// (RFC 6455 §5.5.1): a message accepted just before a draining close can reach the loop after it.
    /// With permessage-deflate, messages go out compressed (DeflateCodec decides on the first frame; the
    /// frames of one message are written one after the other).
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The common case, without unwrapping the frame (a dynamic cast).
        if deflate == nil, closeState == .open {
            context.write(data, promise: promise)
            return
        }
        var frame = unwrapOutboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            guard closeState == .open else {
                promise?.fail(ChannelError.outputClosed)
                return
            }
            guard let deflate else { break }
            let first = frame.opcode != .continuation
            if discardingMessage, !first {
                discardingMessage = !frame.fin
                promise?.fail(ChannelError.outputClosed)
                return
            }
            if first {
                discardingMessage = false
                sendingCompressed = deflate.compresses(firstFrameSize: frame.data.readableBytes, fin: frame.fin)
            }
            guard sendingCompressed else { break }
            do {
                frame.data = try deflate.deflateFrame(frame.data, fin: frame.fin, allocator: context.channel.allocator)
            } catch {
                sendingCompressed = false
                discardingMessage = !frame.fin
                promise?.fail(error)
                connection?.close(code: 1011, reason: "compressing a message failed", drain: false)
                return
            }
            frame.rsv1 = first
            if frame.fin { sendingCompressed = false }
            context.write(wrapOutboundOut(frame), promise: promise)
            return
        default:
            break
        }
        context.write(data, promise: promise)
    }

    /// The client closed its side without a close frame (Hummingbird allows half-closed connections):
    /// the connection is over.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A close frame from the client: answered (unless it answers the gateway's), then the socket closes.
    private func receivedClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        switch closeState {
        case .open:
            closeState = .closed
            let answer = Self.closeAnswer(to: frame.unmaskedData)
            // Nothing may follow the close frame: later sends are refused and queued writes dropped.
            connection?.close(code: answer, reason: "", drain: false)
            var payload = context.channel.allocator.buffer(capacity: 2)
            payload.writeInteger(answer)
            let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)
            context.writeAndFlush(wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        case .closeSent:
            closeState = .closed
            context.close(promise: nil)
        case .closed:
            break
        }
    }

    /// The code that answers a client's close payload (RFC 6455 §5.5.1, §7.4): 1000, or 1002 when the
    /// payload is one byte, carries a code no endpoint may send, or a reason that is not UTF-8.
    static func closeAnswer(to payload: ByteBuffer) -> UInt16 {
        var payload = payload
        guard payload.readableBytes > 0 else { return 1000 }
        guard let code = payload.readInteger(as: UInt16.self) else { return 1002 }
        if payload.readableBytes > 0, String(validating: payload.readableBytesView, as: UTF8.self) == nil {
            return 1002
        }
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: return 1000
        default: return 1002
        }
    }

    /// The gateway closes the connection (ClientConnection.close, on the loop): the close frame goes out
    /// after what was written before it; the client's answer closes the socket.
    fileprivate func sendClose(code: UInt16, reason: String) {
        guard closeState == .open, let context else { return }
        closeState = .closeSent
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code)
        payload.writeString(reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
            .assumeIsolated().whenFailure { _ in context.close(promise: nil) }
    }

    fileprivate func pingDue() {
        deflate?.releaseIdleCompressor()
        guard closeState == .open, let context, let connection else { return }
        if unansweredPing != nil {
            // Reading is held (messages in flight, or the registration): the pong may be waiting unread.
            if readHeld { return }
            connection.close(code: 1001, reason: "ping timeout", drain: false)
            // The close frame is written first (it was scheduled first); the peer is not answering.
            context.eventLoop.assumeIsolated().execute { context.close(promise: nil) }
            return
        }
        var payload = context.channel.allocator.buffer(capacity: 8)
        payload.writeInteger(UInt64.random(in: .min ... .max))
        unansweredPing = payload
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: payload)), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connectionGone()
        context.fireChannelInactive()
    }

    fileprivate func connectionGone() {
        inactive = true
        closeState = .closed
        pinger?.cancel()
        pinger = nil
        endIfDone()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Once the socket is closed and no message is being handled: `$disconnect`, unregistering, metrics and
    /// the access-log line (WebSocketRuntime.connectionEnded), in a task.
    private func endIfDone() {
        guard inactive, inFlight == 0, !ended, let connection else { return }
        ended = true
        // The connection holds this handler (its close callback); dropping it here ends that cycle.
        self.connection = nil
        let runtime = self.runtime
        let record = closeRecord
        let started = self.started
        let registration = self.registration
        Task {
            await registration?.value
            await runtime.connectionEnded(connection, record: record, started: started)
        }
    }
}
