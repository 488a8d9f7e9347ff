// The end of an upgraded connection, and what both of its ends share: how a complete message is
// admitted (counted, checked against the message rate), `$disconnect` once with how it closed,
// unregistering and the access-log line. Connections are served by DirectConnectionHandler; idle,
// lifetime and close timeouts are enforced by one ConnectionSweeper for all connections.
import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOWebSocket

extension WebSocketRuntime {
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

    /// How the connection ended, for `$disconnect` and the access log. A close frame from the gateway that
    /// nobody asked for (1000 with no reason, no close request) can only be the answer to a client's close
    /// that the observer missed, and stands for "the client closed, code unknown" (1005). Since the
    /// observer is installed on the event loop with the 101 this should not happen; kept as a guard.
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

    /// What one data frame added to `connection`'s message makes of it: the complete message to handle,
    /// counted as received; nil while the message is incomplete, when the frame broke it (the connection
    /// is closed with 1009, 1002 or 1007), or when the message is over the connection's rate (answered
    /// with `rate_limited`). DirectConnectionHandler reads messages through this.
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
        case .undecodable:
            connection.close(code: 1002, reason: "compressed message does not inflate", drain: false)
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
            context: upstreamContext(accepted, requestID: messageID, newSpan: true), on: connection.channel.eventLoop)
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
