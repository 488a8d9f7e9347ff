// Connections held by other replicas, through Redis (`gateways.websocket.bus: redis://…`). Each replica
// has an id, subscribes to `portico:ws:replica:<id>` and executes the management commands published
// there (push a message, close) for the connections it holds; it keeps a description of each of
// them under `portico:ws:connection:<connectionId>` (owner replica and the GET answer), refreshed every
// 30 s with a 90 s expiry, so a replica that dies leaves nothing behind for long, and refreshes
// `portico:ws:replica:<id>:alive` the same way. Channel traffic (`RedisChannels`) arrives on
// `portico:ws:channels`. Without a bus the gateway is one replica and nothing here runs.
import Foundation
import GatewayCore
import Logging
import NIOCore
import PorticoRedis
import ServiceLifecycle
import Synchronization

final class ReplicaBus: Service, Sendable {
    let replicaID: String
    private let url: RedisURL
    private let registry: ConnectionRegistry
    private let metrics: WebSocketMetrics
    private let logger: Logger
    private let connection = Mutex<RedisConnection?>(nil)
    private let subscriber = Mutex<RedisSubscriber?>(nil)
    /// Builds the GET description of a local connection (set by the gateway once its runtime exists).
    let describe = Mutex<(@Sendable (ClientConnection) -> String)?>(nil)
    /// Receives what is published on `RedisChannels.busChannel` (set by the gateway).
    let channelMessage = Mutex<(@Sendable (String) -> Void)?>(nil)
    /// How many times the subscriber connection has dropped (RedisSubscriber.disconnections).
    var subscriberDisconnections: Int { subscriber.withLock { $0 }?.disconnections ?? 0 }
    /// Told when the subscriber connection drops and when it is back (set by the gateway: channel
    /// catch-up from history).
    let subscriberEvent = Mutex<(@Sendable (RedisSubscriberEvent) async -> Void)?>(nil)
    /// Subscribes (`true`) or unsubscribes a local connection on a service's behalf (set by the gateway).
    let channelCommand = Mutex<(@Sendable (ClientConnection, String, Bool) async -> Void)?>(nil)

    static let refreshInterval: Duration = .seconds(30)
    static let expiry: Duration = .seconds(90)

    init(url: RedisURL, registry: ConnectionRegistry, metrics: WebSocketMetrics, logger: Logger) {
        self.url = url
        self.registry = registry
        self.metrics = metrics
        self.logger = logger
        self.replicaID = ConnectionRegistry.randomID()
    }

    static func key(_ connectionID: String) -> String { "portico:ws:connection:\(connectionID)" }
    var channel: String { "portico:ws:replica:\(replicaID)" }
    static func aliveKey(_ replicaID: String) -> String { "portico:ws:replica:\(replicaID):alive" }

    /// Runs every `refreshInterval` with the connection registrations (set by the gateway: channel upkeep).
    let periodic = Mutex<(@Sendable () async -> Void)?>(nil)

    /// The command connection, connected again when Redis went away (a restart, a dropped socket).
    func commands() async throws -> RedisConnection {
        if let current = connection.withLock({ $0 }), current.isConnected { return current }
        let fresh = try await RedisConnection.connect(to: url)
        let replaced = connection.withLock { stored -> RedisConnection? in
            if let stored, stored.isConnected { return fresh }  // Another caller reconnected first.
            let old = stored
            stored = fresh
            return old
        }
        if let replaced { await replaced.close() }
        return connection.withLock { $0 } ?? fresh
    }

    /// Whether `replica` refreshed its alive key lately.
    func isAlive(_ replica: String) async throws -> Bool {
        try await commands().send(["EXISTS", Self.aliveKey(replica)]).int == 1
    }

    private func refreshAlive() async {
        _ = try? await commands().set(Self.aliveKey(replicaID), to: "1", expiry: Self.expiry)
    }

    /// Connects to Redis and subscribes to this replica's command channel; call before serving.
    func start() async throws {
        let commands = try await RedisConnection.connect(to: url)
        let subscriber = try await RedisSubscriber.connect(to: url)
        try await subscriber.subscribe(channels: [channel, RedisChannels.busChannel])
        connection.withLock { $0 = commands }
        self.subscriber.withLock { $0 = subscriber }
        await refreshAlive()
    }

    func run() async throws {
        guard let subscriber = subscriber.withLock({ $0 }) else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let channels = self.channelMessage.withLock { $0 }
                for await message in subscriber.messages {
                    if message.channel == RedisChannels.busChannel {
                        channels?(message.string)
                    } else {
                        self.execute(message.string)
                    }
                }
            }
            group.addTask {
                for await event in subscriber.events {
                    switch event {
                    case .disconnected:
                        self.logger.warning("the replica bus's subscriber connection to Redis dropped")
                    case .reconnected(let attempts):
                        self.logger.notice(
                            "the replica bus's subscriber is connected again", metadata: ["attempts": "\(attempts)"])
                    case .reconnectFailed:
                        break
                    }
                    await self.subscriberEvent.withLock({ $0 })?(event)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: Self.refreshInterval) } catch { return }
                    await self.refreshAlive()
                    for local in self.registry.all { await self.register(local) }
                    await self.periodic.withLock({ $0 })?()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await subscriber.close()
        _ = try? await connection.withLock({ $0 })?.del(Self.aliveKey(replicaID))
        await connection.withLock { $0 }?.close()
    }

    // MARK: this replica's connections

    func register(_ local: ClientConnection) async {
        guard let describe = describe.withLock({ $0 }) else { return }
        let key = Self.key(local.id)
        do {
            let redis = try await commands()
            _ = try await redis.hset(key, fields: ["replica": replicaID, "description": describe(local)])
            _ = try await redis.expire(key, after: Self.expiry)
        } catch {
            logger.warning("cannot register a connection in Redis", metadata: ["error": "\(error)"])
        }
    }

    func unregister(_ connectionID: String) async {
        _ = try? await commands().del(Self.key(connectionID))
    }

    // MARK: connections of other replicas

    /// The owner replica and the description of a connection held anywhere, if it is registered.
    func lookup(_ connectionID: String) async throws -> (replica: String, description: String)? {
        let fields = try await commands().hgetall(Self.key(connectionID))
        guard let replica = fields["replica"].map({ String(buffer: $0) }),
            let description = fields["description"].map({ String(buffer: $0) })
        else { return nil }
        return (replica, description)
    }

    /// Sends a command to the replica holding the connection; false when that replica is gone.
    func send(_ command: BusCommand, to replica: String) async throws -> Bool {
        let data = try JSONEncoder().encode(command)
        let receivers = try await commands().publish(
            channel: "portico:ws:replica:\(replica)", message: String(decoding: data, as: UTF8.self))
        return receivers > 0
    }

    private func execute(_ text: String) {
        guard let command = try? JSONDecoder().decode(BusCommand.self, from: Data(text.utf8)) else {
            logger.warning("unreadable bus command", metadata: ["command": "\(text.prefix(200))"])
            return
        }
        guard let local = registry.connection(command.connectionId) else { return }
        switch command.op {
        case .push:
            let message: OutboundMessage
            if let binary = command.binary, let bytes = Data(base64Encoded: binary) {
                message = .binary(Array(bytes))
            } else {
                message = .text(command.text ?? "")
            }
            switch local.send(message) {
            case .queued: metrics.messageOut(route: "@connections")
            case .overflow: metrics.slowConsumerClosed()
            case .closed: break
            }
        case .close:
            local.close(code: command.code ?? 1000, reason: command.reason ?? "", drain: true)
        case .subscribe, .unsubscribe:
            guard let name = command.channel, let handler = channelCommand.withLock({ $0 }) else { return }
            let subscribe = command.op == .subscribe
            // Off the message loop: the subscription makes its own Redis round trip.
            Task { await handler(local, name, subscribe) }
        }
    }
}

/// A management command for the replica holding a connection.
struct BusCommand: Codable, Sendable {
    enum Op: String, Codable, Sendable {
        case push
        case close
        case subscribe
        case unsubscribe
    }
    var op: Op
    var connectionId: String
    var text: String?
    /// Base64 of a binary message.
    var binary: String?
    var code: UInt16?
    var reason: String?
    /// The channel of `subscribe` and `unsubscribe`.
    var channel: String?
}
