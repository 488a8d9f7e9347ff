// Media types as OpenAPI `content` keys declare them (with `*/*`, `type/*` and `type/*+suffix` wildcards)
// and as a request's Content-Type names them.

/// A media type or range, lower-cased, parameters dropped.
struct MediaRange: Sendable, Hashable {
    let type: String
    let subtype: String

    /// Parses "type/subtype; params"; nil when there is no "/" or either part is empty.
    init?(_ text: String) {
        let essence = text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = essence.trimmingWhitespace().lowercased().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        type = String(parts[0])
        subtype = String(parts[1])
    }

    var description: String { "\(type)/\(subtype)" }

    /// JSON bodies: `application/json` and any `+json` type.
    var isJSON: Bool { subtype == "json" || subtype.hasSuffix("+json") }

    /// Whether this declared range accepts the concrete `mediaType`.
    func accepts(_ mediaType: MediaRange) -> Bool {
        if type == "*" { return subtype == "*" }
        guard type == mediaType.type else { return false }
        if subtype == "*" || subtype == mediaType.subtype { return true }
        if subtype.hasPrefix("*+") { return mediaType.subtype.hasSuffix(subtype.dropFirst()) }
        return false
    }

    /// Higher is more specific: exact, then `type/*+suffix`, then `type/*`, then `*/*`.
    var specificity: Int {
        if type == "*" { return 0 }
        if subtype == "*" { return 1 }
        return subtype.hasPrefix("*+") ? 2 : 3
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        let trimmed = self.drop { $0 == " " || $0 == "\t" }
        var end = trimmed.endIndex
        while end > trimmed.startIndex,
            trimmed[trimmed.index(before: end)] == " " || trimmed[trimmed.index(before: end)] == "\t"
        {
            end = trimmed.index(before: end)
        }
        return Substring(trimmed[..<end])
    }
}
