// Calls a route's integration through ServiceClient (POST of the JSON envelope to the route's path) and
// classifies the answer: a 2xx response, or a gateway error to report to the client or the handshake.
import GatewayCore
import Logging
import NIOCore
import ServiceClient

/// The result of one integration call.
enum IntegrationResult: Sendable {
    /// The integration answered with a 2xx status.
    case success(UpstreamResponse)
    /// The integration answered with another status; `error` is what the gateway reports for it.
    case rejected(status: Int, error: GatewayError)
    /// The call failed (connect failure, no endpoint, timeout…).
    case failed(GatewayError)
}

struct IntegrationCaller: Sendable {
    let client: ServiceClient
    let logger: Logger

    /// `eventLoop`: the client connection's, where the call runs and its answer is written.
    func call(
        _ route: WebSocketRouteConfig, routeKey: String, envelope: IntegrationEnvelope, context: UpstreamCallContext,
        on eventLoop: (any EventLoop)? = nil
    ) async -> IntegrationResult {
        let (request, options): (UpstreamRequest, UpstreamCallOptions)
        switch prepare(route, envelope: envelope, context: context, on: eventLoop) {
        case .success(let prepared): (request, options) = prepared
        case .failure(let error): return .failed(error)
        }
        do {
            return Self.classify(try await client.send(request, to: route.service, context: context, options: options))
        } catch {
            return failed(error, route: route, routeKey: routeKey, envelope: envelope)
        }
    }

    /// The same call started on `eventLoop` (the caller is on it) with no task; nil when the route's service
    /// cannot be called that way (not HTTP/1.1), and the caller uses `call`.
    func callOnLoop(
        _ route: WebSocketRouteConfig, routeKey: String, envelope: IntegrationEnvelope, context: UpstreamCallContext,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<IntegrationResult>? {
        let (request, options): (UpstreamRequest, UpstreamCallOptions)
        switch prepare(route, envelope: envelope, context: context, on: eventLoop) {
        case .success(let prepared): (request, options) = prepared
        case .failure(let error): return eventLoop.makeSucceededFuture(.failed(error))
        }
        guard
            let response = client.sendOnLoop(
                request, to: route.service, context: context, options: options, on: eventLoop)
        else { return nil }
        return response.map(Self.classify).flatMapErrorThrowing { error in
            let error = (error as? GatewayError) ?? GatewayError(.upstreamError, "\(error)")
            return self.failed(error, route: route, routeKey: routeKey, envelope: envelope)
        }
    }

    /// The POST of `envelope` to the route's path, and the call's options.
    private func prepare(
        _ route: WebSocketRouteConfig, envelope: IntegrationEnvelope, context: UpstreamCallContext,
        on eventLoop: (any EventLoop)?
    ) -> Result<(UpstreamRequest, UpstreamCallOptions), GatewayError> {
        let body: [UInt8]
        do {
            body = try envelope.encoded()
        } catch {
            return .failure(GatewayError(.internalError, "could not encode the integration envelope"))
        }
        let request = UpstreamRequest(
            method: "POST", path: route.path,
            headers: [("Content-Type", "application/json"), ("Accept", "application/json")], body: body)
        // With `hashOn: connectionId`, every message of one connection goes to the same endpoint.
        let hashKey = client.registry.services[route.service]?.config.hashOn?.key(
            header: { _ in nil }, connectionID: envelope.connectionId, clientAddress: context.clientAddress)
        return .success(
            (request, UpstreamCallOptions(timeout: route.timeout, hashKey: hashKey, eventLoop: eventLoop)))
    }

    private static func classify(_ response: UpstreamResponse) -> IntegrationResult {
        if (200..<300).contains(response.status) { return .success(response) }
        return .rejected(status: response.status, error: rejection(status: response.status, body: response.body))
    }

    private func failed(
        _ error: GatewayError, route: WebSocketRouteConfig, routeKey: String, envelope: IntegrationEnvelope
    ) -> IntegrationResult {
        logger.warning(
            "websocket integration failed",
            metadata: [
                "route": "\(routeKey)", "service": "\(route.service)", "connection_id": "\(envelope.connectionId)",
                "error": "\(error)",
            ])
        return .failed(error)
    }

    /// The gateway error reported for a non-2xx integration answer: the status's error code, and the
    /// integration's own message when its body is JSON with a `message`, `error` or `detail` string.
    static func rejection(status: Int, body: [UInt8]) -> GatewayError {
        // A 5xx other than 503/504 is the integration failing, not the gateway: upstream_error.
        let mapped = GatewayError.Code(httpStatus: status)
        let code: GatewayError.Code = mapped == .internalError ? .upstreamError : mapped
        var message = "the integration answered HTTP \(status)"
        if let json = JSONValue.parse(body) {
            for key in ["message", "error", "detail"] {
                if let text = json[key]?.stringValue, !text.isEmpty {
                    message = text
                    break
                }
            }
        }
        return GatewayError(code, message)
    }
}
