// The JSON envelope the gateway POSTs to a route's integration for every event of a connection
// ($connect, each message, $disconnect). Its shape is documented on ``IntegrationEnvelope``.
import Foundation
import GatewayCore
import Synchronization

/// One integration call's body.
///
/// ```json
/// {"connectionId":"…","routeKey":"echo","eventType":"MESSAGE","messageId":"…",
///  "identity":{"subject":"alice","scopes":["a","b"],"method":"jwt"} | null,
///  "context":{"joinedAt":"…"},"requestTime":"2025-01-01T12:00:00.123Z","requestTimeEpochMs":1735732800123,
///  "callbackUrl":"http://127.0.0.1:8084","sourceIp":"127.0.0.1",
///  "body":"{\"action\":\"echo\"}","isBase64Encoded":false}
/// ```
/// `body` is present for MESSAGE only (base64 with `isBase64Encoded: true` for binary messages);
/// `disconnect` (`{"code":1000,"reason":"…"}`) for DISCONNECT only; `headers` and `queryParameters`
/// for CONNECT only.
struct IntegrationEnvelope: Sendable, Equatable {
    enum EventType: String, Sendable {
        case connect = "CONNECT"
        case message = "MESSAGE"
        case disconnect = "DISCONNECT"
    }

    struct EnvelopeIdentity: Encodable, Sendable, Equatable {
        var subject: String
        var scopes: [String]
        var method: String

        init(_ identity: Identity) {
            subject = identity.subject
            scopes = identity.scopes.sorted()
            method = identity.method.rawValue
        }
    }

    struct Disconnect: Sendable, Equatable {
        var code: Int
        var reason: String
    }

    var connectionId: String
    var routeKey: String
    var eventType: EventType
    var messageId: String
    var identity: EnvelopeIdentity?
    var context: [String: String]
    var requestTime: Date
    var callbackUrl: String
    var sourceIp: String?
    var body: String?
    var isBase64Encoded: Bool = false
    var disconnect: Disconnect?
    var headers: [String: String]?
    var queryParameters: [String: String]?

    /// The envelope as JSON bytes (keys sorted, so the output is stable), written with GatewayCore's
    /// JSONWriter: Foundation's JSONEncoder cost more than the rest of building a message's call.
    func encoded() throws(JSONFailure) -> [UInt8] {
        func strings(_ values: [String: String]) -> JSONValue {
            .object(JSONObject(values.map { ($0.key, .string($0.value)) }))
        }
        var object = JSONObject()
        object["connectionId"] = .string(connectionId)
        object["routeKey"] = .string(routeKey)
        object["eventType"] = .string(eventType.rawValue)
        object["messageId"] = .string(messageId)
        // `identity` is always present: null for an anonymous connection.
        object["identity"] =
            identity.map {
                .object(
                    JSONObject([
                        ("subject", .string($0.subject)), ("scopes", .array($0.scopes.map(JSONValue.string))),
                        ("method", .string($0.method)),
                    ]))
            } ?? .null
        object["context"] = strings(context)
        let epochMilliseconds = Self.epochMilliseconds(requestTime)
        object["requestTime"] = .string(Self.iso8601(epochMilliseconds: epochMilliseconds))
        object["requestTimeEpochMs"] = .number(String(epochMilliseconds))
        object["callbackUrl"] = .string(callbackUrl)
        if let sourceIp { object["sourceIp"] = .string(sourceIp) }
        if let body { object["body"] = .string(body) }
        object["isBase64Encoded"] = .bool(isBase64Encoded)
        if let disconnect {
            object["disconnect"] = .object(
                JSONObject([("code", .number(String(disconnect.code))), ("reason", .string(disconnect.reason))]))
        }
        if let headers { object["headers"] = strings(headers) }
        if let queryParameters { object["queryParameters"] = strings(queryParameters) }
        return try JSONWriter.write(.object(object), limit: .max, sizeHint: 320 + (body?.utf8.count ?? 0))
    }

    /// `2025-01-01T12:00:00.123Z`: UTC, millisecond precision.
    static func iso8601(_ date: Date) -> String {
        iso8601(epochMilliseconds: epochMilliseconds(date))
    }

    static func epochMilliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// Formats whole seconds with Foundation and appends the milliseconds, so that `requestTime` and
    /// `requestTimeEpochMs` always agree (no floating-point rounding between them).
    /// The formatted second is kept: every message within one second shares it.
    static func iso8601(epochMilliseconds: Int64) -> String {
        let seconds = epochMilliseconds >= 0 ? epochMilliseconds / 1000 : (epochMilliseconds - 999) / 1000
        let milliseconds = Int(epochMilliseconds - seconds * 1000)
        let whole: Substring
        if let cached = lastSecond.withLock({ $0 }), cached.seconds == seconds {
            whole = cached.text
        } else {
            whole = Date(timeIntervalSince1970: TimeInterval(seconds))
                .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt)).dropLast()
            lastSecond.withLock { $0 = (seconds, whole) }
        }
        let fraction = String(milliseconds)
        return whole + "." + String(repeating: "0", count: 3 - fraction.count) + fraction + "Z"
    }

    /// The last second formatted (without its `Z`).
    private static let lastSecond = Mutex<(seconds: Int64, text: Substring)?>(nil)
}

/// Which handshake headers an integration sees on CONNECT: an allow-list, so credentials, cookies and
/// WebSocket key material never leave the gateway.
enum ConnectHeaders {
    static let forwarded: Set<String> = [
        "host", "origin", "user-agent", "accept-language", "sec-websocket-protocol", "sec-websocket-version",
        "x-forwarded-for", "x-forwarded-proto", "x-request-id", "traceparent",
    ]

    /// The selected headers, names lower-cased; repeated headers are joined with ", ".
    static func select(_ headers: [(name: String, value: String)]) -> [String: String] {
        var selected: [String: String] = [:]
        for (name, value) in headers {
            let lowered = name.lowercased()
            guard forwarded.contains(lowered) else { continue }
            selected[lowered] = selected[lowered].map { "\($0), \(value)" } ?? value
        }
        return selected
    }

    /// Query parameters without credentials (`token`, and the API key header name in lower case).
    static func queryParameters(_ parameters: [(String, String)], apiKeyHeader: String) -> [String: String] {
        let hidden: Set<String> = ["token", "access_token", apiKeyHeader.lowercased(), "api_key", "apikey"]
        var selected: [String: String] = [:]
        for (name, value) in parameters where !hidden.contains(name.lowercased()) && selected[name] == nil {
            selected[name] = value
        }
        return selected
    }
}
