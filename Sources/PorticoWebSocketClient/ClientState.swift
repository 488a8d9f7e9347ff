// The client's state across connections: requests waiting for their answer by correlation id, the
// channels subscribed to with the last offset and epoch seen, and the writer of the current
// connection. Incoming messages are matched here: answers to their request, publications to their
// subscription (duplicates by offset dropped), everything else to `messages`.
import Foundation

/// A JSON object from JSONSerialization; only ever handed between this actor and one awaiting caller.
struct UncheckedJSON: @unchecked Sendable {
    var value: [String: Any]
    init(_ value: [String: Any]) { self.value = value }
}

actor ClientState {
    struct Subscription {
        var deliver: @Sendable ([String: Any]) -> Void
        var offset: UInt64?
        var epoch: String?
    }

    let actionField: String
    let events: AsyncStream<PorticoWebSocketClient.Event>.Continuation
    let messages: AsyncStream<String>.Continuation
    private var writer: AsyncStream<String>.Continuation?
    private var nextID = 0
    private var pending: [String: CheckedContinuation<UncheckedJSON, any Error>] = [:]
    private var subscriptions: [String: Subscription] = [:]

    init(
        actionField: String, events: AsyncStream<PorticoWebSocketClient.Event>.Continuation,
        messages: AsyncStream<String>.Continuation
    ) {
        self.actionField = actionField
        self.events = events
        self.messages = messages
    }

    func connected(writer: AsyncStream<String>.Continuation) {
        self.writer = writer
        events.yield(.connected)
        // Renew every subscription, from the last position seen when there is one.
        for (channel, subscription) in subscriptions.sorted(by: { $0.key < $1.key }) {
            var message: [String: Any] = [actionField: "$subscribe", "channel": channel]
            if let offset = subscription.offset, let epoch = subscription.epoch {
                message["since"] = ["offset": offset, "epoch": epoch]
            }
            if let text = Self.text(message) { writer.yield(text) }
        }
    }

    /// The connection ended (or could not be made); true when it had been established.
    func disconnected(code: Int?) -> Bool {
        guard let writer else { return false }
        writer.finish()
        self.writer = nil
        failPending(PorticoWebSocketError(code: "disconnected", message: "the connection was lost"))
        events.yield(.disconnected(code: code))
        return true
    }

    func finish() {
        failPending(PorticoWebSocketError(code: "disconnected", message: "the client stopped"))
        events.finish()
        messages.finish()
    }

    /// Sends `object` and waits for the answer carrying its correlation id.
    func request(
        _ object: UncheckedJSON, timeout: Duration, subscribing: (String, @Sendable ([String: Any]) -> Void)?
    ) async throws -> UncheckedJSON {
        guard let writer else {
            throw PorticoWebSocketError(code: "disconnected", message: "not connected to the gateway")
        }
        nextID += 1
        let id = "portico-\(nextID)"
        var message = object.value
        message["correlationId"] = id
        if let (channel, deliver) = subscribing {
            subscriptions[channel, default: Subscription(deliver: deliver)].deliver = deliver
        }
        guard let text = Self.text(message) else {
            throw PorticoWebSocketError(code: "bad_request", message: "the message cannot be written as JSON")
        }
        return try await withCheckedThrowingContinuation { continuation in
            pending[id] = continuation
            writer.yield(text)
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(id)
            }
        }
    }

    /// Sends `object` without waiting for anything.
    func send(_ object: [String: Any]) throws {
        guard let writer, let text = Self.text(object) else {
            throw PorticoWebSocketError(code: "disconnected", message: "not connected to the gateway")
        }
        writer.yield(text)
    }

    func received(_ text: String) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            messages.yield(text)
            return
        }
        let type = object["type"] as? String
        let channel = object["channel"] as? String
        if type == "publication", let channel {
            deliver(object, channel: channel)
            return
        }
        if type == "subscribed", let channel {
            subscribed(object, channel: channel)
        }
        guard let id = object["correlationId"] as? String, let continuation = pending.removeValue(forKey: id) else {
            if type != "subscribed" { messages.yield(text) }
            return
        }
        if type == "error" {
            continuation.resume(
                throwing: PorticoWebSocketError(
                    code: object["code"] as? String ?? "error", message: object["message"] as? String ?? ""))
        } else {
            continuation.resume(returning: UncheckedJSON(object))
        }
    }

    private func subscribed(_ object: [String: Any], channel: String) {
        guard var subscription = subscriptions[channel] else { return }
        let resumed = subscription.offset != nil
        subscription.epoch = object["epoch"] as? String
        switch object["recovery"] as? String {
        case "recovered":
            subscriptions[channel] = subscription
            for publication in object["publications"] as? [[String: Any]] ?? [] {
                deliver(publication, channel: channel)
            }
            subscription = subscriptions[channel] ?? subscription
            events.yield(.recovered(channel: channel))
        case "impossible":
            events.yield(.recoveryImpossible(channel: channel))
        default:
            if resumed { events.yield(.recoveryImpossible(channel: channel)) }
        }
        subscription.offset = max(subscription.offset ?? 0, UInt64(object["offset"] as? Int ?? 0))
        subscriptions[channel] = subscription
    }

    private func deliver(_ publication: [String: Any], channel: String) {
        guard var subscription = subscriptions[channel], let offset = publication["offset"] as? Int else { return }
        if let seen = subscription.offset, UInt64(offset) <= seen, subscription.epoch == publication["epoch"] as? String
        {
            return  // Already delivered (a recovery and a live publication can overlap).
        }
        subscription.offset = UInt64(offset)
        subscription.epoch = publication["epoch"] as? String
        subscriptions[channel] = subscription
        subscription.deliver(publication)
    }

    private func expire(_ id: String) {
        pending.removeValue(forKey: id)?.resume(
            throwing: PorticoWebSocketError(code: "timeout", message: "no answer within the reply timeout"))
    }

    private func failPending(_ error: PorticoWebSocketError) {
        let waiting = pending
        pending = [:]
        for continuation in waiting.values { continuation.resume(throwing: error) }
    }

    // MARK: JSON

    static func text(_ object: [String: Any]) -> String? {
        guard JSONSerialization.isValidJSONObject(object),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// An Encodable value as a JSON object (it must encode to one).
    static func object<Body: Encodable>(_ body: Body) throws -> [String: Any] {
        guard let object = try jsonObject(body) as? [String: Any] else {
            throw PorticoWebSocketError(code: "bad_request", message: "the message body must be a JSON object")
        }
        return object
    }

    static func jsonObject<Body: Encodable>(_ body: Body) throws -> Any {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(body), options: [.fragmentsAllowed])
    }

    static func decode<T: Decodable>(_ value: Any, as type: T.Type) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])
        return try JSONDecoder().decode(T.self, from: data)
    }
}
