// JSON Schema's view of the Transform engine's `JSONValue`: typed accessors, numbers by value (`2.0` is an
// integer, `1 == 1.0` for enum/const/uniqueItems), number-literal normalisation for YAML and parameter text,
// and parsing of untrusted JSON that also refuses numbers too large for a Double, as the validator needs.
import GatewayCore

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    var arrayValue: [JSONValue]? {
        if case .array(let array) = self { return array }
        return nil
    }

    var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    var boolValue: Bool? {
        if case .bool(let bool) = self { return bool }
        return nil
    }

    /// The number's value. Literals follow the JSON grammar, so this is nil only for non-numbers; a literal
    /// beyond Double's range is infinite (input is checked with `JSONReader.parseForValidation`).
    var numberValue: Double? {
        if case .number(let literal) = self { return Double(literal) }
        return nil
    }

    /// The value as a non-negative integer (for keywords such as `minLength`), if it is one.
    var countValue: Int? {
        guard let number = numberValue, number >= 0, number < 1e15, number.rounded(.towardZero) == number
        else { return nil }
        return Int(number)
    }

    /// The JSON type of the value, `integer` for numbers without a fractional part (`2.0` included).
    var jsonType: JSONType {
        switch self {
        case .null: return .null
        case .bool: return .boolean
        case .number: return numberValue?.isWholeNumber == true ? .integer : .number
        case .string: return .string
        case .array: return .array
        case .object: return .object
        }
    }

    /// A short rendering for messages: numbers by value (`3`, `0.5`), strings quoted and truncated,
    /// containers named.
    var shortDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let bool): return String(bool)
        case .number(let literal): return numberValue?.jsonText ?? literal
        case .string(let string):
            let clipped = string.count > 40 ? String(string.prefix(40)) + "…" : string
            return "'\(clipped)'"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Equality as JSON Schema defines it (enum, const, uniqueItems): numbers by value, so `1` equals `1.0`;
    /// objects regardless of member order; arrays element by element.
    func isSchemaEqual(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case (.bool(let left), .bool(let right)): return left == right
        case (.number(let left), .number(let right)):
            guard let leftValue = Double(left), let rightValue = Double(right) else { return left == right }
            return leftValue == rightValue
        case (.string(let left), .string(let right)): return left == right
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { $0.isSchemaEqual(to: $1) }
        case (.object(let left), .object(let right)):
            guard left.count == right.count else { return false }
            return left.members.allSatisfy { member in
                right[member.key].map { member.value.isSchemaEqual(to: $0) } ?? false
            }
        default: return false
        }
    }

    /// Hashes consistently with `isSchemaEqual(to:)`.
    fileprivate func hashForSchema(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let bool): hasher.combine(1); hasher.combine(bool)
        case .number(let literal):
            hasher.combine(2)
            if let value = Double(literal) { hasher.combine(value) } else { hasher.combine(literal) }
        case .string(let string): hasher.combine(3); hasher.combine(string)
        case .array(let items):
            hasher.combine(4)
            hasher.combine(items.count)
            for item in items { item.hashForSchema(into: &hasher) }
        case .object(let object):
            hasher.combine(5)
            hasher.combine(object.count)
            for member in object.members.sorted(by: { $0.key < $1.key }) {
                hasher.combine(member.key)
                member.value.hashForSchema(into: &hasher)
            }
        }
    }

    /// A number for `text` when it denotes a finite number: `text` itself when it is already a JSON number
    /// literal, else `exact` (an integer read by YAML) or `value` written as a JSON literal.
    static func normalisedNumber(_ text: String, exact: Int? = nil, value: Double?) -> JSONValue? {
        if isNumberLiteral(text), let parsed = Double(text), parsed.isFinite { return .number(text) }
        if let exact { return .number(String(exact)) }
        guard let value, value.isFinite else { return nil }
        return .number(value.jsonText)
    }

    /// Whether `text` is a number in the JSON grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    static func isNumberLiteral(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        func digits() -> Int {
            let count = bytes.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        if bytes.first == UInt8(ascii: "0") {
            bytes = bytes.dropFirst()
        } else if digits() == 0 {
            return false
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            if digits() == 0 { return false }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            if digits() == 0 { return false }
        }
        return bytes.isEmpty
    }

    /// The first number literal whose value does not fit a Double (such as `1e400`), in document order.
    var firstOutOfRangeNumber: String? {
        switch self {
        case .number(let literal): return Double(literal)?.isFinite == true ? nil : literal
        case .array(let items): return items.lazy.compactMap(\.firstOutOfRangeNumber).first
        case .object(let object): return object.members.lazy.compactMap(\.value.firstOutOfRangeNumber).first
        case .null, .bool, .string: return nil
        }
    }
}

/// A `JSONValue` as a set or dictionary key under JSON Schema equality (for `uniqueItems`).
struct SchemaEqualityKey: Hashable {
    let value: JSONValue

    static func == (lhs: SchemaEqualityKey, rhs: SchemaEqualityKey) -> Bool { lhs.value.isSchemaEqual(to: rhs.value) }

    func hash(into hasher: inout Hasher) { value.hashForSchema(into: &hasher) }
}

extension JSONReader {
    /// Parses untrusted JSON (a request body, a JSON parameter, a JSON document) for validation: the strict
    /// parse, then numbers must fit a Double, as JSON Schema compares them by value.
    static func parseForValidation(_ bytes: [UInt8], maxDepth: Int) throws(TransformFailure) -> JSONValue {
        let value = try TransformFailure.json { () throws(JSONFailure) in try parse(bytes, maxDepth: maxDepth) }
        if let literal = value.firstOutOfRangeNumber {
            throw TransformFailure(.invalidJSON, "is not valid JSON: number \(literal) is out of range")
        }
        return value
    }
}

extension TransformFailure {
    /// The failure as a phrase starting "is not valid JSON", e.g. "is not valid JSON: unexpected character
    /// '}' at line 1, column 9" or "is not valid JSON: it nests deeper than 256 levels".
    var notValidJSONReason: String {
        code == .invalidJSON ? detail : "is not valid JSON: it \(detail)"
    }
}

/// The JSON Schema primitive types.
enum JSONType: String, Sendable, CaseIterable {
    case null, boolean, object, array, number, integer, string

    /// "an integer", "a string", … for messages.
    var withArticle: String {
        switch self {
        case .null: return "null"
        case .integer, .array, .object: return "an \(rawValue)"
        case .boolean, .number, .string: return "a \(rawValue)"
        }
    }
}

extension Double {
    var isWholeNumber: Bool { isFinite && rounded(.towardZero) == self }

    /// The number as JSON would write it: `3` rather than `3.0`, `1e+20` for large values.
    var jsonText: String {
        if isWholeNumber && Swift.abs(self) < 1e15 { return String(Int64(self)) }
        return String(self)
    }
}
