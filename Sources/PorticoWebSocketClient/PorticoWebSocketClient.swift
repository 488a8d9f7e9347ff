// The Swift client SDK for Portico's WebSocket gateway: one long-lived connection that reconnects by
// itself with capped exponential backoff, actions that await their reply by correlation id, and
// channel subscriptions as typed async streams that survive reconnects by recovering from the last
// offset (or say that recovery was impossible). Built on hummingbird-websocket's client; the message
// formats are those of docs/gateways/websocket.md and Protocols/asyncapi/websocket.yaml.
import Foundation
import HTTPTypes
import HummingbirdWSClient
public import Logging

public final class PorticoWebSocketClient: Sendable {
    public struct Configuration: Sendable {
        /// `ws://host:port/ws` or `wss://…`.
        public var url: String
        /// Sent as `Authorization: Bearer <token>` at every (re)connect.
        public var token: String?
        /// More handshake headers (an API key, for example).
        public var headers: [String: String]
        /// The field the gateway's `routeSelection` reads (`action` by default).
        public var actionField: String
        /// How long an action or channel operation waits for its answer.
        public var replyTimeout: Duration
        /// The first wait before reconnecting, doubled after each failed attempt up to `maxBackoff`.
        public var initialBackoff: Duration
        public var maxBackoff: Duration

        public init(
            url: String, token: String? = nil, headers: [String: String] = [:], actionField: String = "action",
            replyTimeout: Duration = .seconds(10), initialBackoff: Duration = .milliseconds(250),
            maxBackoff: Duration = .seconds(10)
        ) {
            self.url = url
            self.token = token
            self.headers = headers
            self.actionField = actionField
            self.replyTimeout = replyTimeout
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    /// What happens to the connection and to subscriptions, for logging or UI.
    public enum Event: Sendable, Equatable {
        case connected
        /// The connection ended; `code` is the close code the gateway sent, if any.
        case disconnected(code: Int?)
        /// A subscription resumed after a reconnect with every missed publication.
        case recovered(channel: String)
        /// A subscription resumed, but publications were missed that the gateway no longer has: reload
        /// the channel's state from its service.
        case recoveryImpossible(channel: String)
    }

    let configuration: Configuration
    let logger: Logger
    let state: ClientState
    public let events: AsyncStream<Event>
    /// Messages that answer no request of this client and are no channel publication: pushes from
    /// services, presence events, replies of routes called without a correlation id.
    public let messages: AsyncStream<String>

    public init(_ configuration: Configuration, logger: Logger = Logger(label: "portico.websocket-client")) {
        self.configuration = configuration
        self.logger = logger
        let (events, continuation) = AsyncStream<Event>.makeStream()
        let (messages, messageContinuation) = AsyncStream<String>.makeStream()
        self.events = events
        self.messages = messages
        self.state = ClientState(
            actionField: configuration.actionField, events: continuation, messages: messageContinuation)
    }

    /// Keeps the client connected until the task is cancelled: connects, re-subscribes (recovering from
    /// each channel's last offset), and reconnects after every disconnect.
    public func run() async {
        var backoff = configuration.initialBackoff
        while !Task.isCancelled {
            var headers = configuration.headers
            if let token = configuration.token { headers["Authorization"] = "Bearer \(token)" }
            var fields = HTTPFields()
            for (name, value) in headers {
                if let name = HTTPField.Name(name) { fields[name] = value }
            }
            var closeCode: Int?
            do {
                let frame = try await WebSocketClient.connect(
                    url: configuration.url, configuration: .init(additionalHeaders: fields), logger: logger
                ) { inbound, outbound, _ in
                    try await self.serve(inbound: inbound, outbound: outbound)
                }
                closeCode = frame.map { Int(UInt16(webSocketErrorCode: $0.closeCode)) }
            } catch {
                logger.debug("websocket connection ended", metadata: ["error": "\(error)"])
            }
            // A connection that was established starts the backoff over.
            if await state.disconnected(code: closeCode) { backoff = configuration.initialBackoff }
            do { try await Task.sleep(for: backoff) } catch { break }
            backoff = min(backoff * 2, configuration.maxBackoff)
        }
        await state.finish()
    }

    private func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let (outgoing, writer) = AsyncStream<String>.makeStream()
        await state.connected(writer: writer)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await text in outgoing { try await outbound.write(.text(text)) }
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: 16 << 20) {
                    if case .text(let text) = message { await self.state.received(text) }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Sends `data` with `action` and returns the route's reply `data` (JSON), decoded as `Reply`.
    /// Throws ``PorticoWebSocketError`` for an error message, a timeout or a lost connection.
    public func send<Body: Encodable & Sendable, Reply: Decodable>(
        action: String, _ body: Body, as reply: Reply.Type
    ) async throws -> Reply {
        let answer = try await request(fields: [configuration.actionField: action], merging: body)
        return try ClientState.decode(answer["data"] ?? NSNull(), as: Reply.self)
    }

    /// Sends `body` with `action` on a one-way route (no reply is awaited).
    public func emit<Body: Encodable & Sendable>(action: String, _ body: Body) async throws {
        var object = try ClientState.object(body)
        object[configuration.actionField] = action
        try await state.send(object)
    }

    /// Subscribes to `channel`; publications come on the returned stream as `Data` decoded from JSON.
    /// The subscription is renewed after each reconnect, recovering what was missed when it can.
    public func subscribe<Data: Decodable & Sendable>(_ channel: String, as type: Data.Type) async throws
        -> AsyncThrowingStream<ChannelPublication<Data>, any Error>
    {
        let (stream, continuation) = AsyncThrowingStream<ChannelPublication<Data>, any Error>.makeStream()
        let deliver: @Sendable ([String: Any]) -> Void = { publication in
            do {
                continuation.yield(
                    ChannelPublication(
                        channel: channel, offset: UInt64(publication["offset"] as? Int ?? 0),
                        epoch: publication["epoch"] as? String ?? "",
                        data: try ClientState.decode(publication["data"] ?? NSNull(), as: Data.self)))
            } catch {
                continuation.finish(throwing: error)
            }
        }
        _ = try await request(
            fields: [configuration.actionField: "$subscribe", "channel": channel], merging: EmptyBody(),
            subscribing: (channel, deliver))
        return stream
    }

    /// Publishes `data` on `channel` (the channel must allow client publications); returns its offset.
    public func publish<Body: Encodable & Sendable>(_ data: Body, to channel: String) async throws -> UInt64 {
        let value = try ClientState.jsonObject(data)
        let answer = try await request(
            fields: [configuration.actionField: "$publish", "channel": channel, "data": value], merging: EmptyBody())
        return UInt64(answer["offset"] as? Int ?? 0)
    }

    private func request<Body: Encodable & Sendable>(
        fields: [String: Any], merging body: Body,
        subscribing: (String, @Sendable ([String: Any]) -> Void)? = nil
    ) async throws -> [String: Any] {
        var object = try ClientState.object(body)
        for (key, value) in fields { object[key] = value }
        let sendable = UncheckedJSON(object)
        return try await state.request(sendable, timeout: configuration.replyTimeout, subscribing: subscribing).value
    }
}

/// One publication on a channel.
public struct ChannelPublication<Data: Sendable>: Sendable {
    public var channel: String
    public var offset: UInt64
    public var epoch: String
    public var data: Data
}

/// An error message from the gateway, or a request that could not be answered.
public struct PorticoWebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The gateway's error code (`rate_limited`, `permission_denied`, …), `timeout` or `disconnected`.
    public var code: String
    public var message: String

    public var description: String { "\(code): \(message)" }
}

struct EmptyBody: Encodable, Sendable {}
