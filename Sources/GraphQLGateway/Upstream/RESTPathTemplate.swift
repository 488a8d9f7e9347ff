// The upstream path of a `rest` field source: `{arg}` placeholders are filled from the field's
// arguments (percent-encoded as one path segment); the other scalar arguments go to the query string.
import GraphQL

/// A parsed `gateways.graphql.fields.<name>.path` for `kind: rest`, e.g. `/users/{id}`.
struct RESTPathTemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    let parts: [Part]

    /// The argument names the path needs, in order of appearance.
    var placeholders: [String] {
        parts.compactMap { part in
            if case .placeholder(let name) = part { return name }
            return nil
        }
    }

    /// Why a template cannot be used.
    struct ParseError: Error, Equatable, CustomStringConvertible {
        let description: String
    }

    /// Why a template could not be filled for one call.
    enum FillError: Error, Equatable, CustomStringConvertible {
        case missingArgument(String)
        case notAScalar(String)

        var description: String {
            switch self {
            case .missingArgument(let name): return "argument '\(name)' is needed to build the upstream path"
            case .notAScalar(let name): return "argument '\(name)' must be a scalar to be used in the upstream path"
            }
        }
    }

    init(parts: [Part]) {
        self.parts = parts
    }

    /// Parses `text`; placeholders are `{name}` with a name of letters, digits and `_`.
    init(parsing text: String) throws(ParseError) {
        guard text.hasPrefix("/") else { throw ParseError(description: "'\(text)' must start with '/'") }
        var parts: [Part] = []
        var literal = ""
        var name: String?
        for character in text {
            if var current = name {
                if character == "}" {
                    guard !current.isEmpty else { throw ParseError(description: "'\(text)' has an empty '{}'") }
                    if !literal.isEmpty { parts.append(.literal(literal)) }
                    literal = ""
                    parts.append(.placeholder(current))
                    name = nil
                } else if character.isLetter || character.isNumber || character == "_" {
                    current.append(character)
                    name = current
                } else {
                    throw ParseError(description: "'\(text)': '\(character)' is not allowed in a placeholder name")
                }
            } else if character == "{" {
                name = ""
            } else if character == "}" {
                throw ParseError(description: "'\(text)' has a '}' without a matching '{'")
            } else {
                literal.append(character)
            }
        }
        guard name == nil else { throw ParseError(description: "'\(text)' has a '{' that is never closed") }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// The path and query for one call. `arguments` is the field's coerced argument map.
    func fill(arguments: Map) throws(FillError) -> String {
        let values = arguments.dictionary
        var path = ""
        for part in parts {
            switch part {
            case .literal(let text):
                path += text
            case .placeholder(let name):
                guard let value = values?[name], !value.isNull, !value.isUndefined else {
                    throw .missingArgument(name)
                }
                guard let text = Self.scalarText(value) else { throw .notAScalar(name) }
                path += Self.percentEncode(text, inPath: true)
            }
        }
        let used = Set(placeholders)
        var query: [String] = []
        for (name, value) in values ?? [:] where !used.contains(name) {
            let items: [Map] = value.array ?? [value]
            for item in items {
                guard let text = Self.scalarText(item) else { continue }
                query.append(Self.percentEncode(name) + "=" + Self.percentEncode(text))
            }
        }
        guard !query.isEmpty else { return path }
        return path + (path.contains("?") ? "&" : "?") + query.joined(separator: "&")
    }

    /// The text form of a scalar argument (integral numbers without a fraction), nil for null,
    /// lists and objects.
    static func scalarText(_ value: Map) -> String? {
        switch value {
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number):
            let double = number.doubleValue
            if double.rounded() == double, abs(double) < 9.0e15 { return String(Int(double)) }
            return String(double)
        default: return nil
        }
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters. In a path segment `.` is encoded
    /// too, so that an argument such as `..` can never become a dot-segment.
    static func percentEncode(_ text: String, inPath: Bool = false) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: ".") where !inPath:
                encoded.unicodeScalars.append(".")
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                encoded.unicodeScalars.append("%")
                encoded.unicodeScalars.append(hex[Int(byte >> 4)])
                encoded.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return encoded
    }
}
