// RFC 9457 problem details: the JSON body of every error the HTTP gateways produce.
import Foundation

extension GatewayError {
    /// The `application/problem+json` body for this error.
    ///
    /// `type` is a stable URI naming the code, `title` and `status` follow the HTTP status, `detail` is
    /// the message, `code` the machine-readable name; `instance` carries the request path and
    /// `requestId` the id to quote in a bug report.
    public func problemDetails(instance: String? = nil, requestID: String? = nil) -> [UInt8] {
        var object: [String: String] = [
            "type": "https://portico.dev/problems/\(code.name.replacingOccurrences(of: "_", with: "-"))",
            "title": code.title,
            "detail": message,
            "code": code.name,
        ]
        if let instance { object["instance"] = instance }
        if let requestID { object["requestId"] = requestID }
        for (key, value) in details where object[key] == nil { object[key] = value }
        // `status` is a number; build the JSON by hand to keep key order stable and the number unquoted.
        var json = "{\"status\":\(code.httpStatus)"
        for key in object.keys.sorted() {
            json += ",\(JSONString.quote(key)):\(JSONString.quote(object[key]!))"
        }
        json += "}"
        return Array(json.utf8)
    }

    public static let problemContentType = "application/problem+json"
}

/// Minimal JSON string quoting for hand-built JSON on hot paths.
public enum JSONString {
    public static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20:
                out += String(format: "\\u%04x", s.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
