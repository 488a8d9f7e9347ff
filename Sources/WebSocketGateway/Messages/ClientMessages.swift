// What the gateway writes to a client: integration replies on two-way routes and error messages. The
// formats are documented on the functions below; both are built here and nowhere else.
import Foundation
import GatewayCore

/// A message queued for one client.
enum OutboundMessage: Sendable, Equatable {
    case text(String)
    case binary([UInt8])

    /// Bytes of payload, as the outbound queue counts them.
    var size: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let bytes): bytes.count
        }
    }
}

enum ClientMessages {
    /// The message a two-way route sends back to the sender, or nil when there is nothing to send.
    ///
    /// Without a `correlationId` in the client's message the integration's body is sent unchanged: as a
    /// text message when it is UTF-8, else as a binary message; an empty body sends nothing.
    /// With one, the reply is always a text message `{"correlationId":<id>,"data":<data>}` where
    /// `<data>` is the body when it is JSON, the body as a JSON string when it is other text, `null`
    /// when it is empty, and the body in base64 (with `"isBase64Encoded":true`) when it is not UTF-8.
    static func reply(body: [UInt8], correlationID: String?) -> OutboundMessage? {
        let text = String(validating: body, as: UTF8.self)
        guard let correlationID else {
            if body.isEmpty { return nil }
            if let text { return .text(text) }
            return .binary(body)
        }
        var json = "{\"correlationId\":\(correlationID),\"data\":"
        if body.isEmpty {
            json += "null"
        } else if let text {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            json += JSONValue.parse(trimmed.utf8) != nil ? trimmed : JSONString.quote(text)
        } else {
            json += JSONString.quote(Data(body).base64EncodedString()) + ",\"isBase64Encoded\":true"
        }
        return .text(json + "}")
    }

    /// The error message sent to a client whose message could not be handled; the connection stays open.
    ///
    /// `{"type":"error","code":"upstream_timeout","message":"…","routeKey":"echo","messageId":"…",
    /// "correlationId":…,"status":502}`: `code` is a gateway error code name; `routeKey` is the route
    /// taken (or the key asked for, or null); `correlationId` only when the client's message had one;
    /// `status` only when the integration answered with a non-2xx HTTP status.
    static func error(
        _ error: GatewayError, routeKey: String?, messageID: String?, correlationID: String?,
        integrationStatus: Int? = nil
    ) -> OutboundMessage {
        var json = "{\"type\":\"error\",\"code\":\(JSONString.quote(error.code.name))"
        json += ",\"message\":\(JSONString.quote(error.message))"
        json += ",\"routeKey\":\(routeKey.map(JSONString.quote) ?? "null")"
        if let messageID { json += ",\"messageId\":\(JSONString.quote(messageID))" }
        if let correlationID { json += ",\"correlationId\":\(correlationID)" }
        if let integrationStatus { json += ",\"status\":\(integrationStatus)" }
        return .text(json + "}")
    }
}
