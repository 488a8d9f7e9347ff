// Media types as the CloudEvents HTTP binding needs them: the essence of a Content-Type (type/subtype,
// lower-cased, parameters dropped), JSON detection, and the event-format media types.

enum MediaType {
    static let structuredJSON = "application/cloudevents+json"
    static let batchJSON = "application/cloudevents-batch+json"

    /// `Application/CloudEvents+JSON; charset=utf-8` → `application/cloudevents+json`.
    static func essence(_ contentType: String) -> String {
        let head = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return head.trimmingASCIIWhitespace().lowercased()
    }

    /// True for `application/json`, `text/json` and any `+json` structured-syntax suffix.
    static func isJSON(_ essence: String) -> Bool {
        essence == "application/json" || essence == "text/json" || essence.hasSuffix("+json")
    }

    /// True for a CloudEvents event-format media type (`application/cloudevents`, `…+fmt`, `-batch…`).
    static func isCloudEventsFormat(_ essence: String) -> Bool {
        essence == "application/cloudevents" || essence.hasPrefix("application/cloudevents+")
            || essence.hasPrefix("application/cloudevents-batch")
    }

    private static let tokenCharacters = Set(
        "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    /// Whether `value` looks like an RFC 2046 media type: `type/subtype` tokens, optionally with parameters.
    static func isValid(_ value: String) -> Bool {
        // It becomes a Content-Type header in binary mode: visible ASCII, spaces and tabs only.
        guard value.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 }) else { return false }
        let head = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = head.trimmingASCIIWhitespace().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(tokenCharacters.contains) }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
