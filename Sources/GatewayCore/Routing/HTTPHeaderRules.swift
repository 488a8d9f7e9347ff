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
                names.insert(token.trimmingCharacters(in: .whitespaces).lowercased())
            }
        }
        return names
    }
}
