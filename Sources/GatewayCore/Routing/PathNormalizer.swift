// Request paths are normalised before routing so that no encoding reaches a route its policy would
// refuse: percent-encoded unreserved characters are decoded, dot segments resolved, duplicate slashes
// collapsed. An encoded slash (%2F) stays encoded, so it can never split a segment.
import Foundation

public enum PathNormalizer {
    /// The normalised path, or nil when it cannot be made safe (climbs above the root, NUL, bad escape).
    public static func normalize(_ path: Substring) -> String? {
        guard path.first == "/" else { return path == "*" ? "*" : nil }
        // Fast path: nothing to do for the common case (no escape, no empty or dot segment). A byte
        // scan: `Substring.contains(String)` goes through Foundation's NSString search.
        if isNormal(path.utf8) { return String(path) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(path.utf8.count)
        var bytes = path.utf8.makeIterator()
        while let byte = bytes.next() {
            guard byte == UInt8(ascii: "%") else {
                decoded.append(byte)
                continue
            }
            guard let high = bytes.next().flatMap(hexValue), let low = bytes.next().flatMap(hexValue) else {
                return nil
            }
            let value = high << 4 | low
            if value == 0 { return nil }
            // Decode only unreserved characters; keep everything else (notably / and %) encoded.
            if isUnreserved(value) {
                decoded.append(value)
            } else {
                decoded.append(contentsOf: Array("%".utf8))
                decoded.append(hexDigit(value >> 4))
                decoded.append(hexDigit(value & 0xF))
            }
        }
        var segments: [Substring] = []
        let text = String(decoding: decoded, as: UTF8.self)
        let parts = text.split(separator: "/", omittingEmptySubsequences: true)
        for part in parts {
            if part == "." { continue }
            if part == ".." {
                guard !segments.isEmpty else { return nil }
                segments.removeLast()
                continue
            }
            segments.append(part)
        }
        var result = "/" + segments.joined(separator: "/")
        if text.hasSuffix("/") && !segments.isEmpty { result += "/" }
        return result
    }

    /// True when `path` has no `%` and no `/` followed by `/` or `.`, so normalising changes nothing.
    private static func isNormal(_ path: Substring.UTF8View) -> Bool {
        var afterSlash = false
        for byte in path {
            if byte == UInt8(ascii: "%") { return false }
            if afterSlash && (byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".")) { return false }
            afterSlash = byte == UInt8(ascii: "/")
        }
        return true
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}

/// Query strings as routing reads them.
public enum QueryString {
    /// The value of the first parameter called `name` (percent-decoded, `+` as space), or nil.
    public static func value(of name: String, in query: Substring?) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard decode(parts[0]) == name else { continue }
            return parts.count == 2 ? decode(parts[1]) : ""
        }
        return nil
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
