// The channel part of the management API, guarded by `managementAuth` like `/@connections`:
// `POST /channels/{channel}/messages` publishes its body (JSON as it is, other text as a JSON string),
// `GET /channels/{channel}/presence` lists the subscribers (channels with `presence`), and
// `POST|DELETE /@connections/{connectionId}/channels/{channel}` subscribes or unsubscribes a connection
// on the service's behalf (the only way for channels with `subscribe: backend`). With a Redis bus all of
// this spans replicas: publications reach every replica's subscribers, presence lists them all, and a
// connection held by another replica is subscribed through it.
import Foundation
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import NIOCore

struct ChannelsAPI: Sendable {
    let runtime: WebSocketRuntime

    func register(on router: Router<GatewayRequestContext>) {
        let auth = AuthMiddleware<GatewayRequestContext>(
            authenticator: runtime.authenticator, policy: runtime.config.managementAuth)
        let channels = router.group("/channels").add(middleware: RouteNameMiddleware(name: "channels"))
            .add(middleware: auth)
        channels.post("{channel}/messages") { request, context in
            try await named("channels-publish", request, context) { try await publish(request, context: context) }
        }
        channels.get("{channel}/presence") { request, context in
            try await named("channels-presence", request, context) { try await presence(context) }
        }
        let connections = router.group(RouterPath(ManagementAPI.path))
            .add(middleware: RouteNameMiddleware(name: "connections")).add(middleware: auth)
        connections.post("{connectionId}/channels/{channel}") { request, context in
            try await named("connections-channel-subscribe", request, context) { try await subscribe(request, context) }
        }
        connections.delete("{connectionId}/channels/{channel}") { request, context in
            try await named("connections-channel-unsubscribe", request, context) {
                try await unsubscribe(request, context)
            }
        }
    }

    /// `GET /channels/{channel}/presence`: `{"channel":…,"members":[…]}`.
    private func presence(_ context: GatewayRequestContext) async throws -> Response {
        let (name, policy) = try channel(context)
        guard policy.presence else { throw GatewayError(.badRequest, "presence is off for '\(name)'") }
        let members = try await runtime.members(of: name)
        return json(
            "{\"channel\":\(JSONString.quote(name)),\"members\":" + ChannelMessages.membersJSON(members) + "}")
    }

    /// `POST /@connections/{id}/channels/{channel}`: subscribes the connection on the service's behalf.
    private func subscribe(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let (name, policy) = try channel(context)
        guard let connection = connection(context) else {
            return try await forward(.subscribe, channel: name, request, context)
        }
        _ = try await runtime.subscribe(connection, to: name, policy: policy, since: nil, correlationID: nil)
        return Response(status: .noContent)
    }

    /// `DELETE /@connections/{id}/channels/{channel}`: unsubscribes it.
    private func unsubscribe(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let (name, _) = try channel(context)
        guard let connection = connection(context) else {
            return try await forward(.unsubscribe, channel: name, request, context)
        }
        if await runtime.unsubscribe(connection, from: name) {
            runtime.deliver(
                ChannelMessages.unsubscribed(channel: name, correlationID: nil), to: connection, route: "@channels")
        }
        return Response(status: .noContent)
    }

    /// `POST /channels/{channel}/messages`: `{"channel":…,"offset":N,"epoch":"…"}`.
    private func publish(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let (name, policy) = try channel(context)
        let body = try await runtime.collectBody(request)
        guard let text = String(validating: body.readableBytesView, as: UTF8.self) else {
            throw GatewayError(.badRequest, "the body must be UTF-8 text or JSON")
        }
        let position = try await runtime.publish(ChannelMessages.dataJSON(text), to: name, policy: policy)
        return json(
            "{\"channel\":\(JSONString.quote(name)),\"offset\":\(position.offset),"
                + "\"epoch\":\(JSONString.quote(position.epoch))}")
    }

    private func channel(_ context: GatewayRequestContext) throws -> (String, WebSocketChannelConfig) {
        let name = context.parameters.get("channel") ?? ""
        guard WebSocketGatewayConfig.isChannelName(name) else {
            throw GatewayError(.badRequest, "'\(name)' is not a channel name (letters, digits and :_-.@)")
        }
        guard let policy = runtime.config.channelPolicy(for: name) else {
            throw GatewayError(.notFound, "no channel namespace matches '\(name)'")
        }
        return (name, policy)
    }

    private func connection(_ context: GatewayRequestContext) -> ClientConnection? {
        runtime.registry.connection(context.parameters.get("connectionId") ?? "")
    }

    /// The (un)subscription of a connection another replica holds, through the bus; 410 when no replica does.
    private func forward(
        _ op: BusCommand.Op, channel name: String, _ request: Request, _ context: GatewayRequestContext
    ) async throws -> Response {
        let management = ManagementAPI(runtime: runtime)
        guard let remote = try await management.remote(request, context: context) else { return gone(request, context) }
        return try await management.forward(
            BusCommand(op: op, connectionId: remote.id, channel: name), to: remote, request: request, context: context)
    }

    /// 410, as for `/@connections/{id}`: no open connection with that id (on this replica).
    private func gone(_ request: Request, _ context: GatewayRequestContext) -> Response {
        HTTPProblem(
            status: 410, code: "gone",
            detail: "no open connection with id '\(context.parameters.get("connectionId") ?? "")'",
            instance: request.uri.path, requestID: context.gateway.requestID
        ).response
    }

    private func json(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
