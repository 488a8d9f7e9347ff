// Checks for the JSON Schema string formats requests commonly use: date-time, date, time, email, hostname,
// uuid, ipv4, ipv6, uri, uri-reference. Lenient (no full RFC 5322 grammar) but real; other formats pass.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

enum StringFormat {
    /// Why `string` is not a `format` value (a message fragment), or nil if it is or the format is unknown.
    static func problem(_ string: String, format: String) -> String? {
        switch format {
        case "date-time":
            return isDateTime(string) ? nil : "must be a date-time such as 2024-05-01T12:30:00Z (RFC 3339)"
        case "date": return isDate(Substring(string)) ? nil : "must be a date such as 2024-05-01"
        case "time": return isTime(Substring(string), offsetRequired: false) ? nil : "must be a time such as 12:30:00Z"
        case "email": return isEmail(string) ? nil : "must be an email address"
        case "hostname": return isHostname(Substring(string)) ? nil : "must be a hostname"
        case "uuid": return isUUID(string) ? nil : "must be a UUID"
        case "ipv4": return isIPAddress(string, family: AF_INET) ? nil : "must be an IPv4 address"
        case "ipv6": return isIPAddress(string, family: AF_INET6) ? nil : "must be an IPv6 address"
        case "uri": return isURI(string, requireScheme: true) ? nil : "must be an absolute URI"
        case "uri-reference": return isURI(string, requireScheme: false) ? nil : "must be a URI reference"
        default: return nil
        }
    }

    // MARK: dates and times (RFC 3339)

    private static func digits(_ text: Substring, _ count: Int) -> Int? {
        guard text.count == count, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    static func isDate(_ text: Substring) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let year = digits(parts[0], 4), let month = digits(parts[1], 2),
            let day = digits(parts[2], 2), (1...12).contains(month), day >= 1
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= lengths[month - 1]
    }

    static func isTime(_ text: Substring, offsetRequired: Bool) -> Bool {
        var clock = text
        if let last = text.last, last == "Z" || last == "z" {
            clock = text.dropLast()
        } else if let sign = text.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let offset = text[text.index(after: sign)...].split(separator: ":", omittingEmptySubsequences: false)
            guard offset.count == 2, let hours = digits(offset[0], 2), let minutes = digits(offset[1], 2), hours < 24,
                minutes < 60
            else { return false }
            clock = text[..<sign]
        } else if offsetRequired {
            return false
        }
        var fields = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 3 else { return false }
        if let dot = fields[2].firstIndex(of: ".") {
            let fraction = fields[2][fields[2].index(after: dot)...]
            guard !fraction.isEmpty, fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            fields[2] = fields[2][..<dot]
        }
        guard let hour = digits(fields[0], 2), let minute = digits(fields[1], 2), let second = digits(fields[2], 2)
        else { return false }
        return hour < 24 && minute < 60 && second <= 60  // 60: a leap second
    }

    static func isDateTime(_ string: String) -> Bool {
        guard let separator = string.firstIndex(where: { $0 == "T" || $0 == "t" || $0 == " " }) else { return false }
        return isDate(string[..<separator]) && isTime(string[string.index(after: separator)...], offsetRequired: true)
    }

    // MARK: names and addresses

    static func isHostname(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard !label.isEmpty, label.utf8.count <= 63, label.first != "-", label.last != "-" else { return false }
            return label.allSatisfy { $0 == "-" || $0.isLetter || $0.isNumber }
        }
    }

    static func isEmail(_ string: String) -> Bool {
        guard let at = string.lastIndex(of: "@") else { return false }
        let local = string[..<at]
        let domain = string[string.index(after: at)...]
        guard !local.isEmpty, local.utf8.count <= 64, !domain.isEmpty else { return false }
        let localIsValid: Bool
        if local.count >= 2, local.first == "\"", local.last == "\"" {
            localIsValid = !local.contains { $0.isNewline }
        } else {
            localIsValid =
                !local.contains { $0 == "@" || $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true }
                && local.first != "." && local.last != "." && !local.contains("..")
        }
        guard localIsValid else { return false }
        if domain.first == "[", domain.last == "]" {
            let literal = String(domain.dropFirst().dropLast())
            if literal.lowercased().hasPrefix("ipv6:") {
                return isIPAddress(String(literal.dropFirst(5)), family: AF_INET6)
            }
            return isIPAddress(literal, family: AF_INET)
        }
        return isHostname(domain)
    }

    static func isUUID(_ string: String) -> Bool {
        let groups = string.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    static func isIPAddress(_ string: String, family: Int32) -> Bool {
        guard !string.isEmpty, !string.contains("%") else { return false }  // No zone ids.
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(family, string, &buffer) == 1
    }

    // MARK: URIs (RFC 3986 character rules)

    static func isURI(_ string: String, requireScheme: Bool) -> Bool {
        let forbidden: Set<Character> = [" ", "\"", "<", ">", "\\", "^", "`", "{", "|", "}"]
        var characters = Array(string)
        var position = 0
        while position < characters.count {
            let character = characters[position]
            if character == "%" {
                guard position + 2 < characters.count, characters[position + 1].isHexDigit,
                    characters[position + 2].isHexDigit
                else { return false }
                position += 3
                continue
            }
            if forbidden.contains(character) || character.isWhitespace || !character.isASCII
                || character.asciiValue.map({ $0 < 0x20 || $0 == 0x7F }) == true
            {
                return false
            }
            position += 1
        }
        guard requireScheme else { return true }
        guard let colon = string.firstIndex(of: ":") else { return false }
        let scheme = string[..<colon]
        characters = Array(scheme)
        guard let first = characters.first, first.isASCII, first.isLetter else { return false }
        return scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
    }
}
