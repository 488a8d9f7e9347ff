// RFC 3986 syntax checks for `source` (URI-reference) and `dataschema` (absolute URI): allowed characters,
// well-formed percent-encoding, at most one `#`, and a valid scheme where one is present.

enum URIReference {
    private static let allowed = Set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%".utf8)

    /// Whether `text` is an RFC 3986 URI-reference (a URI or a relative reference).
    static func isValidReference(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        var fragments = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard allowed.contains(byte) else { return false }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, hexDigitValue(bytes[index + 1]) != nil,
                    hexDigitValue(bytes[index + 2]) != nil
                else { return false }
                index += 3
                continue
            }
            if byte == UInt8(ascii: "#") { fragments += 1 }
            index += 1
        }
        guard fragments <= 1 else { return false }
        // A colon before any '/', '?' or '#' makes the text before it a scheme, which must be valid (a
        // relative reference cannot have a colon in its first segment).
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
            !bytes[..<colon].contains(where: {
                $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#")
            })
        {
            return isValidScheme(bytes[..<colon])
        }
        return true
    }

    /// Whether `text` is an absolute URI: a URI-reference with a scheme.
    static func isValidAbsolute(_ text: String) -> Bool {
        guard isValidReference(text), let colon = text.utf8.firstIndex(of: UInt8(ascii: ":")) else { return false }
        return isValidScheme(Array(text.utf8[..<colon])[...])
    }

    /// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
    static func isValidScheme(_ scheme: ArraySlice<UInt8>) -> Bool {
        guard let first = scheme.first, isAlpha(first) else { return false }
        return scheme.dropFirst().allSatisfy {
            isAlpha($0) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "+")
                || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
        }
    }

    private static func isAlpha(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }
}
