// The demo "chat" backend of the websocket gateway: answers its integration calls (POST /connect, /disconnect,
// /echo, /sendMessage, /default) and broadcasts through the gateway's @connections management API.

import Foundation
public import Hummingbird
public import Logging

/// The envelope the websocket gateway POSTs to an integration.
struct ChatEnvelope: Decodable, Sendable {
    struct Identity: Decodable, Sendable {
        var subject: String?
        var scopes: [String]?
        var method: String?
    }

    struct Disconnect: Decodable, Sendable {
        var code: Int?
        var reason: String?
    }

    var connectionId: String
    var routeKey: String?
    var eventType: String?
    var messageId: String?
    var identity: Identity?
    var context: [String: String]?
    var requestTime: String?
    var body: String?
    var disconnect: Disconnect?
    /// Base URL of the gateway's management API, sent by the gateway with every call.
    var callbackUrl: String?
}

/// The connections the chat backend knows of, in the order they connected.
public actor ChatConnections {
    private var entries: [String: (sequence: Int, subject: String?)] = [:]
    private var nextSequence = 0

    public init() {}

    /// Remembers `connectionID`, with the authenticated `subject` if any.
    public func add(_ connectionID: String, subject: String?) {
        entries[connectionID] = (nextSequence, subject)
        nextSequence += 1
    }

    /// Forgets `connectionID`.
    public func remove(_ connectionID: String) {
        entries[connectionID] = nil
    }

    /// The remembered connection ids, oldest first.
    public func ids() -> [String] {
        entries.sorted { $0.value.sequence < $1.value.sequence }.map(\.key)
    }

    /// The subject remembered for `connectionID`, if any.
    public func subject(of connectionID: String) -> String? {
        entries[connectionID]?.subject
    }
}

/// The chat backend's routes.
struct ChatHandler: Sendable {
    let connections: ChatConnections
    let gateway: GatewayManagementClient
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        DemoHTTP.addHealth(to: router, service: "chat")
        router.get("/connections") { _, _ in DemoHTTP.json(await connections.ids()) }
        router.post("/connect") { request, _ in
            await withEnvelope(request) { envelope in
                await connections.add(envelope.connectionId, subject: envelope.identity?.subject)
                let joinedAt = Date().ISO8601Format()
                return DemoHTTP.json(["context": ["joinedAt": joinedAt]])
            }
        }
        router.post("/disconnect") { request, _ in
            await withEnvelope(request) { envelope in
                await connections.remove(envelope.connectionId)
                return DemoHTTP.empty(status: .noContent)
            }
        }
        router.post("/echo") { request, _ in
            await withEnvelope(request) { envelope in
                let message = envelope.body.map { JSONValue.parse($0) ?? .string($0) } ?? .null
                let data = message["data"] ?? message
                return DemoHTTP.json(["action": .string("echo"), "data": data] as [String: JSONValue])
            }
        }
        router.post("/sendMessage") { request, _ in
            await withEnvelope(request) { envelope in await sendMessage(envelope) }
        }
        router.post("/default") { request, _ in
            await withEnvelope(request) { envelope in
                let received: JSONValue = envelope.body.map { .string($0) } ?? .null
                return DemoHTTP.json(["action": .string("default"), "received": received] as [String: JSONValue])
            }
        }
    }

    /// Broadcasts `{"action":"message","from":…,"message":…}` to every remembered connection; forgets those
    /// the gateway answers 410 Gone for.
    func sendMessage(_ envelope: ChatEnvelope) async -> Response {
        guard let text = envelope.body, let message = JSONValue.parse(text)?["message"] else {
            return DemoHTTP.error("body must be a JSON object with a \"message\"", status: .badRequest)
        }
        var from = envelope.identity?.subject
        if from == nil { from = await connections.subject(of: envelope.connectionId) }
        let outgoing: [String: JSONValue] = [
            "action": .string("message"), "from": .string(from ?? envelope.connectionId), "message": message,
        ]
        guard let payload = try? DemoHTTP.jsonEncoder.encode(outgoing) else {
            return DemoHTTP.error("could not encode the message", status: .internalServerError)
        }
        let targets = await connections.ids()
        // Prefer the gateway that made this call (its address is in the envelope), so any gateway replica works.
        let gateway =
            envelope.callbackUrl.map { GatewayManagementClient(baseURL: $0, apiKey: self.gateway.apiKey) }
            ?? self.gateway
        let gone = await withTaskGroup(of: String?.self) { group in
            for connectionID in targets {
                group.addTask {
                    let status = await gateway.post(connectionID: connectionID, body: payload)
                    if !(200..<300).contains(status ?? 0) && status != 410 {
                        logger.warning(
                            "push to connection failed",
                            metadata: ["connection": "\(connectionID)", "status": "\(status.map(String.init) ?? "-")"])
                    }
                    return status == 410 ? connectionID : nil
                }
            }
            var gone: [String] = []
            for await connectionID in group { if let connectionID { gone.append(connectionID) } }
            return gone
        }
        for connectionID in gone { await connections.remove(connectionID) }
        return DemoHTTP.json(data: Data("{}".utf8), status: .accepted)
    }

    /// Reads and decodes the envelope, then runs `body`; a bad envelope is a JSON 400.
    private func withEnvelope(
        _ request: Request,
        _ body: (ChatEnvelope) async -> Response
    ) async -> Response {
        let data: Data
        switch await DemoHTTP.readBody(request) {
        case .success(let bytes): data = bytes
        case .failure(let failure): return failure.response
        }
        guard let envelope = try? JSONDecoder().decode(ChatEnvelope.self, from: data), !envelope.connectionId.isEmpty
        else {
            return DemoHTTP.error("body must be an integration envelope with a connectionId", status: .badRequest)
        }
        return await body(envelope)
    }
}

/// Builds the chat backend as a Hummingbird application.
///
/// - Parameters:
///   - host: address to bind (default `127.0.0.1`).
///   - port: port to bind (default 9105); `0` binds an ephemeral port.
///   - gatewayURL: base URL of the websocket gateway whose `POST /@connections/{id}` pushes to a client.
///   - apiKey: sent as `X-API-Key` on those pushes.
///   - connections: the connection registry (pass one in to inspect it directly).
///   - logger: the application's logger (default label `demo-services.chat`).
///   - onServerRunning: called once the server listens, with the port actually bound.
public func makeChatApplication(
    host: String = "127.0.0.1",
    port: Int = 9105,
    gatewayURL: String = "http://127.0.0.1:8084",
    apiKey: String = "demo-key",
    connections: ChatConnections = ChatConnections(),
    logger: Logger? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> DemoApplication {
    let logger = logger ?? Logger(label: "demo-services.chat")
    let handler = ChatHandler(
        connections: connections,
        gateway: GatewayManagementClient(baseURL: gatewayURL, apiKey: apiKey),
        logger: logger
    )
    let router = Router(context: BasicRequestContext.self)
    handler.register(on: router)
    return DemoHTTP.application(
        router: router, name: "chat", host: host, port: port, logger: logger, onServerRunning: onServerRunning)
}
