// The life of an upgraded connection with permessage-deflate (hummingbird-websocket compresses, in a
// task): register it, read and reassemble messages (handled concurrently, at most a few at a time, within
// the connection's message rate), write queued messages from a single writer task, then end it
// (`connectionEnded`: `$disconnect` once, unregister, the access-log line), as DirectConnectionHandler
// does for connections without an extension. Idle, lifetime and close timeouts are enforced by one
// ConnectionSweeper for all connections.
import Foundation
import GatewayCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket

extension WebSocketRuntime {
    func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
        context: WebSocketGatewayContext
    ) async {
        guard let accepted = context.handshake.accepted else {
            try? await outbound.close(.unexpectedServerError, reason: "handshake state missing")
            return
        }
        let channel = context.channel
        let closeRecord = context.closeRecord
        // Usually in place already (CloseFrameObserverInstaller); not when no byte came after the 101.
        await CloseFrameObserver.install(on: channel, record: closeRecord)
        let queue = config.outboundQueue
        let metrics = self.metrics
        let connection = ClientConnection(
            accepted: accepted, queueCapacity: queue.maxMessages, maxQueuedBytes: queue.maxBytes.bytes,
            rate: config.messageRate, channel: channel)
        let started = ContinuousClock.now
        metrics.connectionOpened()
        if !registry.add(connection) {
            connection.close(code: 1001, reason: "server shutting down", drain: false)
        }
        await bus?.register(connection)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.runWriter(connection, outbound: outbound) }
            await self.runReader(connection, inbound: inbound)
            connection.finishOutbound()
            group.cancelAll()
        }
        await connectionEnded(connection, record: closeRecord, started: started)
    }

    /// The end of a connection, after its last message was handled: it leaves its channels, `$disconnect`
    /// is called with how it closed, it is unregistered, counted and logged.
    func connectionEnded(
        _ connection: ClientConnection, record closeRecord: CloseRecord, started: ContinuousClock.Instant
    ) async {
        await leaveAllChannels(connection)
        let close = Self.closeOutcome(observed: closeRecord.observed, requested: connection.closeRequest)
        await callDisconnect(connection, close: close)
        registry.remove(connection.id)
        await bus?.unregister(connection.id)
        metrics.connectionClosed()
        metrics.disconnected(code: close.code)
        logClosed(connection, close: close, duration: ContinuousClock.now - started)
    }

    /// How the connection ended, for `$disconnect` and the access log. The observer can miss a client's
    /// close frame that arrives in the instant before it is installed; hummingbird-websocket's reply to it
    /// (1000 with no reason, while the gateway asked for no close) then stands for "the client closed,
    /// code unknown" (1005).
    static func closeOutcome(observed: ObservedClose?, requested: ClientConnection.CloseRequest?) -> ObservedClose {
        if let observed {
            if observed.initiator == .gateway, requested == nil, observed.code == 1000, observed.reason.isEmpty {
                return ObservedClose(code: 1005, reason: "", initiator: .client)
            }
            return observed
        }
        if let requested { return ObservedClose(code: requested.code, reason: requested.reason, initiator: .gateway) }
        return .abnormal
    }

    /// Reads frames until the connection ends, handing each complete message to ``handle(_:on:)``.
    func runReader(_ connection: ClientConnection, inbound: WebSocketInboundStream) async {
        var assembler = MessageAssembler(maxSize: maxMessageSize)
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            do {
                for try await frame in inbound {
                    // Once a close is under way, further data is read (to reach the close reply) but dropped.
                    if connection.closeRequest != nil { continue }
                    let kind: MessageAssembler.Kind? =
                        switch frame.opcode {
                        case .text: .text
                        case .binary: .binary
                        case .continuation: nil
                        }
                    guard
                        let message = admit(
                            assembler.append(kind: kind, fin: frame.fin, data: frame.data), on: connection)
                    else { continue }
                    if inFlight >= Self.maxInFlightPerConnection {
                        _ = await group.next()
                        inFlight -= 1
                    }
                    inFlight += 1
                    group.addTask { await self.handle(message, on: connection) }
                }
            } catch {
                logger.debug(
                    "websocket read ended with an error",
                    metadata: ["connection_id": "\(connection.id)", "error": "\(error)"])
            }
            await group.waitForAll()
        }
    }

    /// What one data frame added to `connection`'s message makes of it: the complete message to handle,
    /// counted as received; nil while the message is incomplete, when the frame broke it (the connection
    /// is closed with 1009, 1002 or 1007), or when the message is over the connection's rate (answered
    /// with `rate_limited`). Both data paths read messages through this.
    func admit(_ event: MessageAssembler.Event, on connection: ClientConnection) -> InboundMessage? {
        let message: InboundMessage
        switch event {
        case .incomplete: return nil
        case .text(let text): message = .text(text)
        case .binary(let buffer): message = .binary(Array(buffer.readableBytesView))
        case .tooLarge:
            connection.close(code: 1009, reason: "message larger than \(maxMessageSize) bytes", drain: false)
            return nil
        case .protocolError:
            connection.close(code: 1002, reason: "unexpected frame in a fragmented message", drain: false)
            return nil
        case .invalidUTF8:
            connection.close(code: 1007, reason: "text message is not valid UTF-8", drain: false)
            return nil
        }
        connection.receivedMessage()
        metrics.bytes(in: message.size)
        guard connection.takeMessageToken() else {
            metrics.messageRateLimited()
            refuseOverRate(message, on: connection)
            return nil
        }
        return message
    }

    /// The only task that writes frames: queued messages in order, then the close frame if one was asked for.
    func runWriter(_ connection: ClientConnection, outbound: WebSocketOutboundWriter) async {
        for await message in connection.outbound ?? AsyncStream { $0.finish() } {
            if let request = connection.closeRequest, !request.drain { break }
            do {
                switch message {
                case .text(let text): try await Self.write(text: text, to: outbound)
                case .binary(let bytes): try await Self.write(binary: bytes, to: outbound)
                }
                connection.sentMessage(size: message.size)
                metrics.bytes(out: message.size)
            } catch {
                break
            }
        }
        if let request = connection.closeRequest {
            try? await outbound.close(WebSocketErrorCode(codeNumber: Int(request.code)), reason: request.reason)
        }
    }

    /// Answers a message over the connection's `messageRate` with a `rate_limited` error message
    /// (carrying the message's correlation id) instead of handling it.
    func refuseOverRate(_ message: InboundMessage, on connection: ClientConnection) {
        let correlationID: String? =
            switch message {
            case .text(let text): selector.inspect(text: text).correlationID
            case .binary: nil
            }
        let error = GatewayError(.rateLimited, "more messages than this connection's message rate allows")
        deliver(
            ClientMessages.error(error, routeKey: nil, messageID: RequestID.generate(), correlationID: correlationID),
            to: connection, route: "rate_limited")
    }

    static func write(text: String, to outbound: WebSocketOutboundWriter) async throws {
        guard text.utf8.count > outboundFragmentSize else {
            try await outbound.write(.text(text))
            return
        }
        var buffer = ByteBuffer(string: text)
        try await outbound.withTextMessageWriter { writer in
            while let slice = buffer.readSlice(length: min(outboundFragmentSize, buffer.readableBytes)),
                slice.readableBytes > 0
            {
                try await writer(slice)
            }
        }
    }

    static func write(binary bytes: [UInt8], to outbound: WebSocketOutboundWriter) async throws {
        var buffer = ByteBuffer(bytes: bytes)
        guard bytes.count > outboundFragmentSize else {
            try await outbound.write(.binary(buffer))
            return
        }
        try await outbound.withBinaryMessageWriter { writer in
            while let slice = buffer.readSlice(length: min(outboundFragmentSize, buffer.readableBytes)),
                slice.readableBytes > 0
            {
                try await writer(slice)
            }
        }
    }

    /// Calls the `$disconnect` integration (if configured) with the close code and reason.
    func callDisconnect(_ connection: ClientConnection, close: ObservedClose) async {
        guard let route = routes.disconnect else { return }
        let messageID = RequestID.generate()
        let accepted = connection.accepted
        let envelope = IntegrationEnvelope(
            connectionId: accepted.connectionID, routeKey: WebSocketRoutes.disconnectKey, eventType: .disconnect,
            messageId: messageID, identity: accepted.identity.map(IntegrationEnvelope.EnvelopeIdentity.init),
            context: accepted.context, requestTime: Date(), callbackUrl: callback.url, sourceIp: accepted.clientAddress,
            disconnect: .init(code: Int(close.code), reason: close.reason))
        let result = await caller.call(
            route, routeKey: WebSocketRoutes.disconnectKey, envelope: envelope,
            context: upstreamContext(accepted, requestID: messageID, newSpan: true), on: connection.channel?.eventLoop)
        switch result {
        case .success: break
        case .rejected(_, let error), .failed(let error):
            metrics.integrationError(route: WebSocketRoutes.disconnectKey, code: error.code.name)
        }
    }

    func logClosed(_ connection: ClientConnection, close: ObservedClose, duration: Duration) {
        guard accessLog else { return }
        let accepted = connection.accepted
        let counters = connection.counters
        logger.info(
            "access",
            metadata: [
                "gateway": "websocket", "kind": "websocket", "path": "\(accepted.path)",
                "connection_id": "\(accepted.connectionID)", "status": "\(close.code)",
                "close_reason": "\(close.reason)", "closed_by": "\(close.initiator.rawValue)",
                "duration_ms":
                    "\(Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15)",
                "messages_in": "\(counters.messagesIn)", "messages_out": "\(counters.messagesOut)",
                "request_id": "\(accepted.requestID)", "trace_id": "\(accepted.trace?.traceID ?? "")",
                "client": "\(accepted.clientAddress ?? "")", "subject": "\(accepted.identity?.subject ?? "")",
                "route": "websocket",
            ])
    }
}
