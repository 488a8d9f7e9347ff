// Handles one client message: select its route, call the route's integration with the MESSAGE envelope,
// and answer the sender: the integration's reply on two-way routes, an error message when the call
// fails, answers non-2xx, or no route takes the message. Never a silent drop; the connection stays open.
import Foundation
import GatewayCore

/// A complete message from a client.
enum InboundMessage: Sendable, Equatable {
    case text(String)
    case binary([UInt8])

    var size: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let bytes): bytes.count
        }
    }
}

extension WebSocketRuntime {
    func handle(_ message: InboundMessage, on connection: ClientConnection) async {
        let messageID = RequestID.generate()
        let inspection: RouteSelector.Inspection
        let body: String
        let isBase64: Bool
        switch message {
        case .text(let text):
            inspection = selector.inspect(text: text)
            body = text
            isBase64 = false
        case .binary(let bytes):
            inspection = RouteSelector.Inspection(selection: .binary, correlationID: nil)
            body = Data(bytes).base64EncodedString()
            isBase64 = true
        }
        if case .key(let key) = inspection.selection, Self.channelOperations.contains(key),
            case .text(let text) = message
        {
            metrics.messageIn(route: key)
            await handleChannelOperation(
                key, text: text, correlationID: inspection.correlationID, messageID: messageID, on: connection)
            return
        }
        let routeKey: String
        switch routes.resolve(inspection.selection) {
        case .route(let key):
            routeKey = key
        case .unrouted(let selectedKey):
            metrics.messageIn(route: "unmatched")
            let what = selectedKey.map { "route key '\($0)'" } ?? "this message"
            let error = GatewayError(.notFound, "no route for \(what) and no $default route")
            deliver(
                ClientMessages.error(
                    error, routeKey: selectedKey, messageID: messageID, correlationID: inspection.correlationID),
                to: connection, route: "unmatched")
            return
        }
        metrics.messageIn(route: routeKey)
        guard let route = routes.routes[routeKey] else { return }
        let accepted = connection.accepted
        let envelope = IntegrationEnvelope(
            connectionId: accepted.connectionID, routeKey: routeKey, eventType: .message, messageId: messageID,
            identity: accepted.identity.map(IntegrationEnvelope.EnvelopeIdentity.init), context: accepted.context,
            requestTime: Date(), callbackUrl: callback.url, sourceIp: accepted.clientAddress, body: body,
            isBase64Encoded: isBase64)
        let started = ContinuousClock.now
        let result = await caller.call(
            route, routeKey: routeKey, envelope: envelope,
            context: upstreamContext(accepted, requestID: messageID, newSpan: true), on: connection.channel?.eventLoop)
        metrics.integrationDuration(route: routeKey, ContinuousClock.now - started)
        switch result {
        case .success(let response):
            guard route.twoWay,
                let reply = ClientMessages.reply(body: response.body, correlationID: inspection.correlationID)
            else { return }
            deliver(reply, to: connection, route: routeKey)
        case .rejected(let status, let error):
            metrics.integrationError(route: routeKey, code: error.code.name)
            deliver(
                ClientMessages.error(
                    error, routeKey: routeKey, messageID: messageID, correlationID: inspection.correlationID,
                    integrationStatus: status),
                to: connection, route: routeKey)
        case .failed(let error):
            metrics.integrationError(route: routeKey, code: error.code.name)
            deliver(
                ClientMessages.error(
                    error, routeKey: routeKey, messageID: messageID, correlationID: inspection.correlationID),
                to: connection, route: routeKey)
        }
    }

    /// Queues `message` for `connection`, counting it under `route` when it is accepted.
    @discardableResult
    func deliver(_ message: OutboundMessage, to connection: ClientConnection, route: String)
        -> ClientConnection.SendResult
    {
        let result = connection.send(message)
        switch result {
        case .queued: metrics.messageOut(route: route)
        case .overflow: metrics.slowConsumerClosed()
        case .closed: break
        }
        return result
    }
}
