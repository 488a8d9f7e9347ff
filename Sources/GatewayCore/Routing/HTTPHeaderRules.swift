import Foundation

// Header rules every HTTP-speaking gateway applies when it forwards: hop-by-hop headers are never
// forwarded (RFC 9110 §7.6.1, plus those named in `Connection`), and client-sent identity headers are
// always dropped.
public enum HTTPHeaderRules {
    /// Lower-case names of hop-by-hop headers.
    public static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade",
    ]

    /// The hop-by-hop headers of a message: the fixed set plus tokens listed in its `Connection` headers.
    public static func hopByHopNames(connectionHeaderValues: [String]) -> Set<String> {
        var names = hopByHop
        for value in connectionHeaderValues {
            for token in value.split(separator: ",") {
                // Trimmed by hand: Foundation's trimmingCharacters costs more than the whole lookup.
                let trimmed = token.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }
                let name = String(trimmed.reversed()).lowercased()
                // `close` and `keep-alive`, the usual tokens, name no header to remove.
                if name != "close" && !name.isEmpty { names.insert(name) }
            }
        }
        return names
    }

    /// The lower-case names of the headers in `headers` that are in `names` (one pass; most requests
    /// have none of them, and removing by name is a pass per name).
    public static func present(_ names: Set<String>, in headers: some Sequence<(name: String, value: String)>)
        -> [String]
    {
        var found: [String] = []
        for (name, _) in headers {
            let lowered = name.lowercased()
            if names.contains(lowered) && !found.contains(lowered) { found.append(lowered) }
        }
        return found
    }
}
