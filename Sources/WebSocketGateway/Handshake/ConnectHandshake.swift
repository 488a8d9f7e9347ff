// The upgrade decision: the page's `Origin` against `allowedOrigins`, a subprotocol from the configured
// list (the client's most preferred one the gateway speaks), authentication with `gateways.websocket.auth`
// (Bearer header, `?token=` or API key), the connection's id, then `$connect`: a non-2xx answer refuses the
// handshake with that status, a 2xx answer may attach context and pick another offered subprotocol.
import Foundation
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket

extension WebSocketRuntime {
    func shouldUpgrade(_ request: Request, context: WebSocketGatewayContext) async throws -> HTTPFields {
        guard !registry.isDraining else { throw GatewayError(.unavailable, "the gateway is shutting down") }
        // Cross-site WebSocket hijacking: a page from another site could otherwise connect with the
        // user's cookies. Clients that send no Origin are not browsers and are not restricted by it.
        if let origin = request.headers[.origin], !config.allows(origin: origin) {
            throw GatewayError(.permissionDenied, "connections from pages at \(origin) are not allowed")
        }
        if config.compression.enabled,
            let repeated = Self.repeatedDeflateParameter(request.headers[values: .secWebSocketExtensions])
        {
            // RFC 7692 §7 says to decline such an offer; swift-websocket reads offers into a dictionary, where
            // the repetition is lost, so the offer cannot be told apart from a valid one there. Refusing
            // with the reason is the clear alternative to accepting an invalid offer.
            throw GatewayError(
                .badRequest,
                "Sec-WebSocket-Extensions: the permessage-deflate offer repeats '\(repeated)' (RFC 7692 §7)")
        }
        let offered = Self.offeredSubprotocols(request.headers[.secWebSocketProtocol])
        let negotiated = try Self.negotiate(offered: offered, supported: config.subprotocols)
        let found = credentials(for: request, apiKeyHeader: authenticator.config.apiKeyHeader, allowQueryToken: true)
        let identity = try await authenticator.authorize(found, policy: config.auth)
        if config.maxConnectionsPerIdentity > 0, let subject = identity?.subject,
            registry.count(subject: subject) >= config.maxConnectionsPerIdentity
        {
            throw GatewayError(
                .rateLimited,
                "\(config.maxConnectionsPerIdentity) connections are already open for this identity (the limit)")
        }
        var accepted = AcceptedHandshake(
            connectionID: registry.makeConnectionID(), identity: identity, context: [:],
            requestID: context.gateway.requestID, trace: context.gateway.trace,
            clientAddress: context.gateway.clientAddress, host: request.head.authority, path: request.uri.path,
            subprotocol: negotiated, connectedAt: Date())
        var headers = HTTPFields()
        if let negotiated { headers[.secWebSocketProtocol] = negotiated }
        if let route = routes.connect {
            let envelope = IntegrationEnvelope(
                connectionId: accepted.connectionID, routeKey: WebSocketRoutes.connectKey, eventType: .connect,
                messageId: accepted.requestID, identity: identity.map(IntegrationEnvelope.EnvelopeIdentity.init),
                context: [:], requestTime: accepted.connectedAt, callbackUrl: callback.url,
                sourceIp: accepted.clientAddress,
                headers: ConnectHeaders.select(request.headers.map { ($0.name.canonicalName, $0.value) }),
                queryParameters: ConnectHeaders.queryParameters(
                    request.uri.queryParameters.map { (String($0.key), String($0.value)) },
                    apiKeyHeader: authenticator.config.apiKeyHeader))
            let result = await caller.call(
                route, routeKey: WebSocketRoutes.connectKey, envelope: envelope,
                context: upstreamContext(accepted, requestID: accepted.requestID, newSpan: false),
                on: context.channel.eventLoop)
            switch result {
            case .success(let response):
                let answer = ConnectAnswer(body: response.body)
                accepted.context = answer.context
                if let subprotocol = answer.subprotocol {
                    let speaks = config.subprotocols.isEmpty || config.subprotocols.contains(subprotocol)
                    if offered.contains(subprotocol) && speaks {
                        accepted.subprotocol = subprotocol
                        headers[.secWebSocketProtocol] = subprotocol
                    } else {
                        logger.warning(
                            "$connect chose a subprotocol the client did not offer or the gateway does not list; ignored",
                            metadata: ["subprotocol": "\(subprotocol)", "connection_id": "\(accepted.connectionID)"])
                    }
                }
            case .rejected(let status, let error):
                metrics.integrationError(route: WebSocketRoutes.connectKey, code: error.code.name)
                throw ConnectRejection(status: status, error: error)
            case .failed(let error):
                metrics.integrationError(route: WebSocketRoutes.connectKey, code: error.code.name)
                throw error
            }
        }
        context.handshake.set(accepted)
        return headers
    }

    /// The client's most preferred subprotocol among `supported`; nil when the client offers none or
    /// the gateway lists none. Offering only ones the gateway does not speak is refused with 400: the
    /// client would have to fail the connection anyway (RFC 6455 §4.1), and this says why.
    static func negotiate(offered: [String], supported: [String]) throws(GatewayError) -> String? {
        guard !offered.isEmpty, !supported.isEmpty else { return nil }
        if let chosen = offered.first(where: { supported.contains($0) }) { return chosen }
        throw GatewayError(
            .badRequest,
            "none of the offered subprotocols (\(offered.joined(separator: ", "))) is spoken here; "
                + "this gateway speaks \(supported.joined(separator: ", "))")
    }

    /// The protocols of a `Sec-WebSocket-Protocol` request header.
    /// The first parameter repeated within one `permessage-deflate` offer of the `Sec-WebSocket-Extensions`
    /// header lines, if any.
    static func repeatedDeflateParameter(_ lines: [String]) -> String? {
        for offer in lines.flatMap({ $0.split(separator: ",") }) {
            let parts = offer.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.first == "permessage-deflate" else { continue }
            var seen: Set<String> = []
            for parameter in parts.dropFirst() {
                let name = String(parameter.prefix { $0 != "=" }).trimmingCharacters(in: .whitespaces)
                if !seen.insert(name).inserted { return name }
            }
        }
        return nil
    }

    static func offeredSubprotocols(_ header: String?) -> [String] {
        guard let header else { return [] }
        return header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// What a 2xx `$connect` answer may carry: `{"context": {"key": "value"}, "subprotocol": "chat.v1"}`.
/// Context values that are numbers or booleans are kept as their JSON text; anything else is ignored, as is
/// a body that is not a JSON object.
struct ConnectAnswer: Equatable, Sendable {
    var context: [String: String] = [:]
    var subprotocol: String?

    init(body: [UInt8]) {
        guard let value = JSONValue.parse(body) else { return }
        if case .object(let entries)? = value["context"] {
            for member in entries.members {
                let (key, entry) = (member.key, member.value)
                switch entry {
                case .string(let text): context[key] = text
                case .number, .bool: context[key] = entry.jsonText
                default: continue
                }
            }
        }
        subprotocol = value["subprotocol"]?.stringValue
    }
}
