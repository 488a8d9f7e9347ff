// The demo "notifications" CloudEvents sink: POST / takes one event (binary or structured HTTP mode, or a batch),
// GET /received lists what arrived (newest last), DELETE /received clears it; GET /healthz.

import Foundation
public import Hummingbird
public import Logging

/// One CloudEvent as the notifications service stored it, with the tracing headers it arrived with.
public struct ReceivedEvent: Codable, Sendable, Equatable {
    public var id: String
    public var source: String
    public var type: String
    public var specversion: String
    public var subject: String?
    public var time: String?
    public var datacontenttype: String?
    /// The event data: parsed JSON when the content type is JSON, else the text (null when absent).
    public var data: JSONValue
    /// Extension attributes (`ce-*` headers or extra top-level members), as strings.
    public var extensions: [String: String]?
    /// `binary`, `structured` or `batch`: how the event was delivered.
    public var mode: String
    /// The W3C `traceparent` HTTP header of the delivery, if any.
    public var traceparent: String?
    /// The `x-request-id` HTTP header of the delivery, if any.
    public var requestID: String?

    enum CodingKeys: String, CodingKey {
        case id, source, type, specversion, subject, time, datacontenttype, data, extensions, mode, traceparent
        case requestID = "x-request-id"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(source, forKey: .source)
        try container.encode(type, forKey: .type)
        try container.encode(specversion, forKey: .specversion)
        try container.encodeIfPresent(subject, forKey: .subject)
        try container.encodeIfPresent(time, forKey: .time)
        try container.encodeIfPresent(datacontenttype, forKey: .datacontenttype)
        try container.encode(data, forKey: .data)
        if let extensions, !extensions.isEmpty { try container.encode(extensions, forKey: .extensions) }
        try container.encode(mode, forKey: .mode)
        try container.encodeIfPresent(traceparent, forKey: .traceparent)
        try container.encodeIfPresent(requestID, forKey: .requestID)
    }
}

/// The events the notifications service received, oldest first.
public actor NotificationsStore {
    private var events: [ReceivedEvent] = []

    public init() {}

    public func append(_ newEvents: [ReceivedEvent]) { events.append(contentsOf: newEvents) }
    public func all() -> [ReceivedEvent] { events }
    public func removeAll() { events.removeAll() }
}

/// Turns HTTP deliveries into ``ReceivedEvent``s (CloudEvents HTTP protocol binding 1.0).
enum CloudEventDecoder {
    struct Invalid: Error { let reason: String }

    static let requiredAttributes = ["id", "source", "type", "specversion"]
    static let knownAttributes: Set<String> = [
        "id", "source", "type", "specversion", "subject", "time", "datacontenttype", "dataschema", "data",
        "data_base64",
    ]

    static func decode(_ request: Request, body: Data) throws(Invalid) -> [ReceivedEvent] {
        let contentType = DemoHTTP.header(request, "content-type")
        let mediaType = contentType.map(Self.mediaType) ?? ""
        let traceparent = DemoHTTP.header(request, "traceparent")
        let requestID = DemoHTTP.header(request, "x-request-id")
        var events: [ReceivedEvent]
        if mediaType == "application/cloudevents+json" {
            guard let object = JSONValue.parse(body)?.objectValue else {
                throw Invalid(reason: "structured event must be a JSON object")
            }
            events = [try structured(object, mode: "structured")]
        } else if mediaType == "application/cloudevents-batch+json" {
            guard case .array(let items)? = JSONValue.parse(body) else {
                throw Invalid(reason: "batch must be a JSON array")
            }
            events = []
            for item in items {
                guard let object = item.objectValue else { throw Invalid(reason: "batch entries must be objects") }
                events.append(try structured(object, mode: "batch"))
            }
        } else {
            events = [try binary(request, contentType: contentType, body: body)]
        }
        for index in events.indices {
            events[index].traceparent = traceparent
            events[index].requestID = requestID
        }
        return events
    }

    /// Binary mode: attributes in `ce-*` headers, data in the body, `datacontenttype` from Content-Type.
    static func binary(_ request: Request, contentType: String?, body: Data) throws(Invalid) -> ReceivedEvent {
        var attributes: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName.lowercased()
            guard name.hasPrefix("ce-"), name.count > 3 else { continue }
            let attribute = String(name.dropFirst(3))
            attributes[attribute] = field.value.removingPercentEncoding ?? field.value
        }
        for name in requiredAttributes where (attributes[name] ?? "").isEmpty {
            throw Invalid(reason: "missing required header ce-\(name)")
        }
        let data: JSONValue
        if body.isEmpty {
            data = .null
        } else if contentType.map({ isJSON(mediaType($0)) }) ?? false, let json = JSONValue.parse(body) {
            data = json
        } else {
            data = .string(String(decoding: body, as: UTF8.self))
        }
        return ReceivedEvent(
            id: attributes["id"] ?? "", source: attributes["source"] ?? "", type: attributes["type"] ?? "",
            specversion: attributes["specversion"] ?? "", subject: attributes["subject"], time: attributes["time"],
            datacontenttype: contentType, data: data,
            extensions: attributes.filter { !knownAttributes.contains($0.key) }, mode: "binary")
    }

    /// Structured mode: the whole event is one JSON object.
    static func structured(_ object: [String: JSONValue], mode: String) throws(Invalid) -> ReceivedEvent {
        for name in requiredAttributes where (object[name]?.stringValue ?? "").isEmpty {
            throw Invalid(reason: "missing required attribute \(name)")
        }
        let datacontenttype = object["datacontenttype"]?.stringValue
        var data = object["data"] ?? .null
        if case .string(let base64)? = object["data_base64"], let bytes = Data(base64Encoded: base64) {
            let isJSONData = datacontenttype.map { isJSON(mediaType($0)) } ?? false
            if isJSONData, let json = JSONValue.parse(bytes) {
                data = json
            } else {
                data = .string(String(decoding: bytes, as: UTF8.self))
            }
        }
        var extensions: [String: String] = [:]
        for (key, value) in object where !knownAttributes.contains(key) {
            switch value {
            case .string(let text): extensions[key] = text
            case .int(let number): extensions[key] = String(number)
            case .bool(let flag): extensions[key] = String(flag)
            default: continue
            }
        }
        return ReceivedEvent(
            id: object["id"]?.stringValue ?? "", source: object["source"]?.stringValue ?? "",
            type: object["type"]?.stringValue ?? "", specversion: object["specversion"]?.stringValue ?? "",
            subject: object["subject"]?.stringValue, time: object["time"]?.stringValue,
            datacontenttype: datacontenttype, data: data, extensions: extensions, mode: mode)
    }

    /// The media type of a Content-Type value, lowercased and without parameters.
    static func mediaType(_ contentType: String) -> String {
        let type = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? contentType
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// True for `application/json`, `text/json` and any `+json` media type.
    static func isJSON(_ mediaType: String) -> Bool {
        mediaType == "application/json" || mediaType == "text/json" || mediaType.hasSuffix("+json")
    }
}

/// Builds the notifications CloudEvents sink as a Hummingbird application.
///
/// - Parameters:
///   - host: address to bind (default `127.0.0.1`).
///   - port: port to bind (default 9104); `0` binds an ephemeral port.
///   - store: where received events are kept (pass one in to inspect it directly).
///   - logger: the application's logger (default label `demo-services.notifications`).
///   - onServerRunning: called once the server listens, with the port actually bound.
public func makeNotificationsApplication(
    host: String = "127.0.0.1",
    port: Int = 9104,
    store: NotificationsStore = NotificationsStore(),
    logger: Logger? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> DemoApplication {
    let router = Router(context: BasicRequestContext.self)
    DemoHTTP.addHealth(to: router, service: "notifications")
    router.post("/") { request, _ in
        let body: Data
        switch await DemoHTTP.readBody(request) {
        case .success(let data): body = data
        case .failure(let failure): return failure.response
        }
        let events: [ReceivedEvent]
        do throws(CloudEventDecoder.Invalid) {
            events = try CloudEventDecoder.decode(request, body: body)
        } catch {
            return DemoHTTP.error(error.reason, status: .badRequest)
        }
        await store.append(events)
        return DemoHTTP.empty(status: .accepted)
    }
    router.get("/received") { _, _ in
        DemoHTTP.json(await store.all())
    }
    router.delete("/received") { _, _ in
        await store.removeAll()
        return DemoHTTP.empty(status: .noContent)
    }
    return DemoHTTP.application(
        router: router, name: "notifications", host: host, port: port, logger: logger,
        onServerRunning: onServerRunning)
}
