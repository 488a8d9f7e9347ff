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

    /// The envelope as JSON bytes, keys sorted (so the output is stable), written member by member with
    /// GatewayCore's JSON string writer: Foundation's JSONEncoder cost more than the rest of building a
    /// message's call, and a JSONValue tree still cost a dictionary per object.
    func encoded() throws(JSONFailure) -> [UInt8] {
        var out = OutputBuffer(limit: .max, reserving: 384 + (body?.utf8.count ?? 0))
        var first = true
        func key(_ name: String) throws(JSONFailure) {
            try out.append(first ? "{\"" : ",\"")
            first = false
            try out.append(name)
            try out.append("\":")
        }
        func string(_ value: String) throws(JSONFailure) { try JSONWriter.writeString(value, to: &out) }
        func strings(_ values: [String: String]) throws(JSONFailure) {
            try out.append(UInt8(ascii: "{"))
            for (index, name) in values.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { try out.append(UInt8(ascii: ",")) }
                try string(name)
                try out.append(UInt8(ascii: ":"))
                try string(values[name] ?? "")
            }
            try out.append(UInt8(ascii: "}"))
        }
        // In the order of the keys' UTF-8 bytes.
        if let body {
            try key("body")
            try string(body)
        }
        try key("callbackUrl")
        try string(callbackUrl)
        try key("connectionId")
        try string(connectionId)
        try key("context")
        try strings(context)
        if let disconnect {
            try key("disconnect")
            try out.append("{\"code\":\(disconnect.code),\"reason\":")
            try string(disconnect.reason)
            try out.append(UInt8(ascii: "}"))
        }
        try key("eventType")
        try string(eventType.rawValue)
        if let headers {
            try key("headers")
            try strings(headers)
        }
        // `identity` is always present: null for an anonymous connection.
        try key("identity")
        if let identity {
            try out.append("{\"method\":")
            try string(identity.method)
            try out.append(",\"scopes\":[")
            for (index, scope) in identity.scopes.enumerated() {
                if index > 0 { try out.append(UInt8(ascii: ",")) }
                try string(scope)
            }
            try out.append("],\"subject\":")
            try string(identity.subject)
            try out.append(UInt8(ascii: "}"))
        } else {
            try out.append("null")
        }
        try key("isBase64Encoded")
        try out.append(isBase64Encoded ? "true" : "false")
        try key("messageId")
        try string(messageId)
        if let queryParameters {
            try key("queryParameters")
            try strings(queryParameters)
        }
        let epochMilliseconds = Self.epochMilliseconds(requestTime)
        try key("requestTime")
        try string(Self.iso8601(epochMilliseconds: epochMilliseconds))
        try key("requestTimeEpochMs")
        try out.append(String(epochMilliseconds))
        try key("routeKey")
        try string(routeKey)
        if let sourceIp {
            try key("sourceIp")
            try string(sourceIp)
        }
        try out.append(UInt8(ascii: "}"))
        return out.bytes
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
