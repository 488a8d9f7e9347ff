// The `/@connections/{connectionId}` management API on the main listener (outside the WebSocket path),
// guarded by `managementAuth`: POST pushes its body to the client, GET describes the connection, DELETE
// closes it. An id that is not (or no longer) open is `410 Gone`. With a Redis bus, a connection held
// by another replica is reached through it (ReplicaBus.swift).
import Foundation
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import NIOCore

struct ManagementAPI: Sendable {
    let runtime: WebSocketRuntime

    static let path = "/@connections"

    func register(on router: Router<GatewayRequestContext>) {
        let group = router.group(RouterPath(Self.path))
            .add(middleware: RouteNameMiddleware(name: "connections"))
            .add(
                middleware: AuthMiddleware<GatewayRequestContext>(
                    authenticator: runtime.authenticator, policy: runtime.config.managementAuth))
        group.post("{connectionId}") { request, context in
            try await named("connections-post", request, context) { try await push(request, context: context) }
        }
        group.get("{connectionId}") { request, context in
            try await named("connections-get", request, context) { try await describe(request, context: context) }
        }
        group.delete("{connectionId}") { request, context in
            try await named("connections-delete", request, context) { try await close(request, context: context) }
        }
    }

    /// `POST`: the body goes to the client as a text message (binary with `Content-Type:
    /// application/octet-stream`). 204 when queued; 410 when the connection is gone or just closed.
    func push(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let bytes = Array(try await runtime.collectBody(request).readableBytesView)
        let binary = request.headers[.contentType]?.lowercased().hasPrefix("application/octet-stream") == true
        if !binary && String(validating: bytes, as: UTF8.self) == nil {
            throw GatewayError(.badRequest, "the body must be UTF-8 text (send binary as application/octet-stream)")
        }
        if let remote = try await remote(request, context: context) {
            let command = BusCommand(
                op: .push, connectionId: remote.id, text: binary ? nil : String(decoding: bytes, as: UTF8.self),
                binary: binary ? Data(bytes).base64EncodedString() : nil)
            return try await forward(command, to: remote, request: request, context: context)
        }
        let connection = try lookup(request, context: context)
        let message: OutboundMessage
        if binary {
            message = .binary(bytes)
        } else {
            message = .text(String(decoding: bytes, as: UTF8.self))
        }
        switch runtime.deliver(message, to: connection, route: "@connections") {
        case .queued:
            return Response(status: .noContent)
        case .closed:
            return gone(connection.id, request: request, context: context, detail: "the connection is closing")
        case .overflow:
            return gone(
                connection.id, request: request, context: context,
                detail: "the connection was closed: its outbound queue is full (slow consumer)")
        }
    }

    /// `GET`: `{"connectionId","connectedAt","lastActiveAt","identity":{…}|null,"sourceIp","subscriptions":[…]}`.
    func describe(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let json: String
        if let remote = try await remote(request, context: context) {
            json = remote.description
        } else {
            json = Self.descriptionJSON(try lookup(request, context: context), runtime: runtime)
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }

    /// The GET answer for a connection of this replica (also what the bus stores for other replicas).
    static func descriptionJSON(_ connection: ClientConnection, runtime: WebSocketRuntime) -> String {
        let accepted = connection.accepted
        let description = ConnectionDescription(
            connectionId: accepted.connectionID,
            connectedAt: IntegrationEnvelope.iso8601(accepted.connectedAt),
            lastActiveAt: IntegrationEnvelope.iso8601(connection.lastActive),
            identity: accepted.identity.map(IntegrationEnvelope.EnvelopeIdentity.init),
            sourceIp: accepted.clientAddress, subscriptions: runtime.channels.channels(of: accepted.connectionID))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(description)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The connection named in the request when another replica holds it (nil: here, or no bus).
    func remote(_ request: Request, context: GatewayRequestContext) async throws
        -> (id: String, replica: String, description: String)?
    {
        let id = context.parameters.get("connectionId") ?? ""
        guard let bus = runtime.bus, runtime.registry.connection(id) == nil else { return nil }
        let found: (replica: String, description: String)?
        do { found = try await bus.lookup(id) } catch {
            throw GatewayError(.unavailable, "the replica bus (Redis) failed: \(error)")
        }
        guard let found, found.replica != bus.replicaID else { return nil }
        return (id, found.replica, found.description)
    }

    /// Sends `command` to the replica holding the connection: 204, or 410 when that replica is gone.
    func forward(
        _ command: BusCommand, to remote: (id: String, replica: String, description: String), request: Request,
        context: GatewayRequestContext
    ) async throws -> Response {
        let reached: Bool
        do { reached = try await runtime.bus?.send(command, to: remote.replica) ?? false } catch {
            throw GatewayError(.unavailable, "the replica bus (Redis) failed: \(error)")
        }
        guard reached else {
            return gone(remote.id, request: request, context: context, detail: "the replica holding it has gone")
        }
        return Response(status: .noContent)
    }

    /// `DELETE [?code=1000][&reason=…]`: closes with that code (1000 by default) after the queued messages.
    func close(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var code: UInt16 = 1000
        if let text = query["code"] {
            guard let parsed = UInt16(text), Self.isSendableCloseCode(parsed) else {
                throw GatewayError(
                    .badRequest, "code must be 1000–1003, 1007–1011 or 3000–4999", details: ["code": String(text)])
            }
            code = parsed
        }
        let reason = query["reason"].map(String.init) ?? "closed by the management API"
        guard reason.utf8.count <= 123 else { throw GatewayError(.badRequest, "reason must be at most 123 bytes") }
        if let remote = try await remote(request, context: context) {
            return try await forward(
                BusCommand(op: .close, connectionId: remote.id, code: code, reason: reason), to: remote,
                request: request, context: context)
        }
        let connection = try lookup(request, context: context)
        connection.close(code: code, reason: reason, drain: true)
        return Response(status: .noContent)
    }

    /// Close codes an endpoint may send (RFC 6455 §7.4): not 1004–1006, 1015 or unassigned ranges.
    static func isSendableCloseCode(_ code: UInt16) -> Bool {
        (1000...1003).contains(code) || (1007...1011).contains(code) || (3000...4999).contains(code)
    }

    private func lookup(_ request: Request, context: GatewayRequestContext) throws -> ClientConnection {
        let id = context.parameters.get("connectionId") ?? ""
        guard let connection = runtime.registry.connection(id) else {
            throw GoneError(problem: goneProblem(id, request: request, context: context, detail: nil))
        }
        return connection
    }

    private func gone(_ id: String, request: Request, context: GatewayRequestContext, detail: String) -> Response {
        goneProblem(id, request: request, context: context, detail: detail).response
    }

    private func goneProblem(_ id: String, request: Request, context: GatewayRequestContext, detail: String?)
        -> HTTPProblem
    {
        HTTPProblem(
            status: 410, code: "gone", detail: detail ?? "no open connection with id '\(id)'",
            instance: request.uri.path, requestID: context.gateway.requestID)
    }
}

/// A 410 answer thrown from a lookup; turned into its response by ``named(_:_:_:_:)``.
struct GoneError: Error {
    var problem: HTTPProblem
}

/// Runs a management handler: names its route for metrics and turns ``GoneError`` into its 410 response.
/// Gateway errors become their problem responses here, so they are counted under the route too.
func named(
    _ route: String, _ request: Request, _ context: GatewayRequestContext, _ body: () async throws -> Response
) async throws -> Response {
    var response: Response
    do {
        response = try await body()
    } catch let gone as GoneError {
        response = gone.problem.response
    } catch let error as any GatewayErrorConvertible {
        response = error.gatewayError.response(instance: request.uri.path, requestID: context.gateway.requestID)
    }
    // An inner, more precise name (a handler's, under a group's) stays.
    if let name = HTTPField.Name(ObservabilityMiddleware<GatewayRequestContext>.routeHeader),
        response.headers[name] == nil
    {
        response.headers[name] = route
    }
    return response
}

/// Names the responses of a group of management routes that no handler named: those its middleware (the
/// authentication) answered.
struct RouteNameMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let name: String

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        try await named(name, request, context) { try await next(request, context) }
    }
}

private struct ConnectionDescription: Encodable {
    var connectionId: String
    var connectedAt: String
    var lastActiveAt: String
    var identity: IntegrationEnvelope.EnvelopeIdentity?
    var sourceIp: String?
    var subscriptions: [String]

    enum CodingKeys: String, CodingKey {
        case connectionId, connectedAt, lastActiveAt, identity, sourceIp, subscriptions
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(connectionId, forKey: .connectionId)
        try c.encode(connectedAt, forKey: .connectedAt)
        try c.encode(lastActiveAt, forKey: .lastActiveAt)
        if let identity { try c.encode(identity, forKey: .identity) } else { try c.encodeNil(forKey: .identity) }
        if let sourceIp { try c.encode(sourceIp, forKey: .sourceIp) } else { try c.encodeNil(forKey: .sourceIp) }
        try c.encode(subscriptions, forKey: .subscriptions)
    }
}
