// Binary-mode header values (CloudEvents HTTP binding 3.1.3.2): decoding unquotes a quoted-string and then
// applies one round of percent-decoding that must yield valid UTF-8; encoding percent-encodes space, `"`,
// `%` and everything outside printable ASCII.

enum HeaderValueCoding {
    /// Why a header value cannot be decoded.
    struct DecodingError: Error, Equatable {
        var reason: String
    }

    /// The attribute value carried by a `ce-*` header value.
    static func decode(_ headerValue: String) throws(DecodingError) -> String {
        var bytes = Array(headerValue.utf8)
        if bytes.count >= 2, bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\"") {
            bytes = try unquote(bytes)
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count,
                    let high = hexDigitValue(bytes[index + 1]), let low = hexDigitValue(bytes[index + 2])
                else { throw DecodingError(reason: "has a '%' that does not start a percent-encoded byte") }
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(byte)
                index += 1
            }
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw DecodingError(reason: "is not valid UTF-8 once percent-decoded")
        }
        return text
    }

    /// The content of an RFC 9110 quoted-string (backslash escapes resolved).
    private static func unquote(_ bytes: [UInt8]) throws(DecodingError) -> [UInt8] {
        var out: [UInt8] = []
        var index = 1
        let end = bytes.count - 1
        while index < end {
            if bytes[index] == UInt8(ascii: "\\") {
                guard index + 1 < end else { throw DecodingError(reason: "ends its quoted string with '\\'") }
                out.append(bytes[index + 1])
                index += 2
            } else if bytes[index] == UInt8(ascii: "\"") {
                throw DecodingError(reason: "has an unescaped '\"' inside its quoted string")
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    /// The header value for an attribute value.
    static func encode(_ value: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            if byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
