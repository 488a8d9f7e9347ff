// Handles one client message: select its route, call the route's integration with the MESSAGE envelope,
// and answer the sender: the integration's reply on two-way routes, an error message when the call
// fails, answers non-2xx, or no route takes the message. Never a silent drop; the connection stays open.
import Foundation
import GatewayCore
import NIOCore
import ServiceClient

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

/// What a client message needs once it has been read: nothing more (answered already), a channel
/// operation, or its route's integration call.
enum MessageDispatch {
    case done
    case channelOperation(key: String, text: String, correlationID: String?, messageID: String)
    case call(IntegrationCall)
}

/// One message's integration call, and what its answer needs.
struct IntegrationCall {
    var route: WebSocketRouteConfig
    var routeKey: String
    var envelope: IntegrationEnvelope
    var context: UpstreamCallContext
    var correlationID: String?
    var messageID: String
    var started: ContinuousClock.Instant
}

/// How a message received on the event loop goes on (DirectConnectionHandler).
enum LoopDispatch {
    /// Handled: nothing is left to wait for.
    case completed
    /// The integration call runs on the loop; the future completes there once the answer is sent.
    case pending(EventLoopFuture<Void>)
    /// Needs a task (a channel operation, or a service the loop cannot call directly).
    case task(@Sendable () async -> Void)
}

extension WebSocketRuntime {
    /// Handles one message received on `loop`: routed messages to HTTP/1.1 services go through the call
    /// and back to the client without leaving the loop.
    func handleOnLoop(_ message: InboundMessage, on connection: ClientConnection, loop: any EventLoop) -> LoopDispatch {
        let dispatch = dispatch(message, on: connection)
        switch dispatch {
        case .done:
            return .completed
        case .call(let call):
            guard
                let answer = caller.callOnLoop(
                    call.route, routeKey: call.routeKey, envelope: call.envelope, context: call.context, on: loop)
            else { break }
            return .pending(answer.map { self.answer(call, with: $0, on: connection) })
        case .channelOperation:
            break
        }
        return .task { await self.run(dispatch, on: connection) }
    }

    private func run(_ dispatch: MessageDispatch, on connection: ClientConnection) async {
        switch dispatch {
        case .done:
            return
        case .channelOperation(let key, let text, let correlationID, let messageID):
            await handleChannelOperation(
                key, text: text, correlationID: correlationID, messageID: messageID, on: connection)
        case .call(let call):
            let result = await caller.call(
                call.route, routeKey: call.routeKey, envelope: call.envelope, context: call.context,
                on: connection.channel.eventLoop)
            answer(call, with: result, on: connection)
        }
    }

    /// Selects the message's route and builds its call; answers at once what needs no call.
    func dispatch(_ message: InboundMessage, on connection: ClientConnection) -> MessageDispatch {
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
            return .channelOperation(
                key: key, text: text, correlationID: inspection.correlationID, messageID: messageID)
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
            return .done
        }
        metrics.messageIn(route: routeKey)
        guard let route = routes.routes[routeKey] else { return .done }
        let accepted = connection.accepted
        let envelope = IntegrationEnvelope(
            connectionId: accepted.connectionID, routeKey: routeKey, eventType: .message, messageId: messageID,
            identity: accepted.identity.map(IntegrationEnvelope.EnvelopeIdentity.init), context: accepted.context,
            requestTime: Date(), callbackUrl: callback.url, sourceIp: accepted.clientAddress, body: body,
            isBase64Encoded: isBase64)
        return .call(
            IntegrationCall(
                route: route, routeKey: routeKey, envelope: envelope,
                context: upstreamContext(accepted, requestID: messageID, newSpan: true),
                correlationID: inspection.correlationID, messageID: messageID, started: .now))
    }

    /// Sends the integration's answer to the client: the reply on a two-way route, an error message when
    /// the call failed or the integration refused.
    func answer(_ call: IntegrationCall, with result: IntegrationResult, on connection: ClientConnection) {
        let routeKey = call.routeKey
        metrics.integrationDuration(route: routeKey, ContinuousClock.now - call.started)
        switch result {
        case .success(let response):
            guard call.route.twoWay,
                let reply = ClientMessages.reply(body: response.body, correlationID: call.correlationID)
            else { return }
            deliver(reply, to: connection, route: routeKey)
        case .rejected(let status, let error):
            metrics.integrationError(route: routeKey, code: error.code.name)
            deliver(
                ClientMessages.error(
                    error, routeKey: routeKey, messageID: call.messageID, correlationID: call.correlationID,
                    integrationStatus: status),
                to: connection, route: routeKey)
        case .failed(let error):
            metrics.integrationError(route: routeKey, code: error.code.name)
            deliver(
                ClientMessages.error(
                    error, routeKey: routeKey, messageID: call.messageID, correlationID: call.correlationID),
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
