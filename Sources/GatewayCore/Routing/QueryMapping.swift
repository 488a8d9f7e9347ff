// Query parameter mapping on the way upstream: rename, remove and set parameters, with values that
// may use the route's path parameters. Works on the raw (percent-encoded) query so parameters it does
// not touch reach the service byte for byte.
import Foundation

/// `rewrite.query` of a REST route. Keys: `rename` (client name to upstream name), `remove` (names
/// dropped), `set` (name to value, replacing any the client sent; `{param}` in a value inserts a route
/// parameter). Applied in that order.
public struct QueryMappingConfig: Codable, Sendable, Equatable {
    public var rename: [String: String]
    public var remove: [String]
    public var set: [String: String]

    public init(rename: [String: String] = [:], remove: [String] = [], set: [String: String] = [:]) {
        self.rename = rename
        self.remove = remove
        self.set = set
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rename = try c.value(.rename, or: [:])
        remove = try c.value(.remove, or: [])
        set = try c.value(.set, or: [:])
    }

    public var isEmpty: Bool { rename.isEmpty && remove.isEmpty && set.isEmpty }

    /// The mapped query (without `?`), or nil when no parameter is left.
    public func apply(to query: Substring?, parameters: [String: String]) -> String? {
        var pairs: [(name: String, raw: Substring)] = []
        if let query {
            for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
                let rawName = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
                pairs.append((QueryString.decode(rawName), pair))
            }
        }
        let removed = Set(remove).union(set.keys)
        var result: [String] = []
        for (name, raw) in pairs {
            if let newName = rename[name] {
                guard !removed.contains(newName) else { continue }
                let value = raw.firstIndex(of: "=").map { raw[$0...] } ?? ""
                result.append(Self.encode(newName) + value)
            } else if !removed.contains(name) {
                result.append(String(raw))
            }
        }
        for (name, template) in set.sorted(by: { $0.key < $1.key }) {
            result.append(Self.encode(name) + "=" + Self.encode(Self.fill(template, parameters)))
        }
        return result.isEmpty ? nil : result.joined(separator: "&")
    }

    /// `{name}` placeholders replaced by route parameters (unknown ones by nothing).
    public static func fill(_ template: String, _ parameters: [String: String]) -> String {
        guard template.contains("{") else { return template }
        var output = ""
        var rest = template[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            output += rest[..<open]
            output += parameters[String(rest[rest.index(after: open)..<close])] ?? ""
            rest = rest[rest.index(after: close)...]
        }
        return output + rest
    }

    static let componentAllowed: CharacterSet = {
        CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    }()

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    public static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: componentAllowed) ?? text
    }
}
