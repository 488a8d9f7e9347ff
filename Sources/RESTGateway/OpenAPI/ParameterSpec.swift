// What the validator knows about one operation parameter, and how a parameter's text becomes a JSON value
// (serialization styles of OpenAPI 3: simple, form, label, matrix, spaceDelimited, pipeDelimited, deepObject).

import Foundation
import GatewayCore

/// One path, query or header parameter of an operation.
struct ParameterSpec: Sendable {
    enum Location: String, Sendable {
        case path, query, header
    }

    enum Style: String, Sendable {
        case simple, form, label, matrix, spaceDelimited, pipeDelimited, deepObject
    }

    let name: String
    let location: Location
    let required: Bool
    let style: Style
    let explode: Bool
    let allowEmptyValue: Bool
    /// The value's schema; nil validates nothing beyond presence.
    let schema: Int?
    /// A `content`-described parameter whose value is JSON text.
    let isJSONContent: Bool

    /// `query.limit`, `header.x-tenant`, `path.id`.
    var field: String { "\(location.rawValue).\(location == .header ? name.lowercased() : name)" }

    var missingMessage: String {
        location == .header ? "missing required header '\(name)'" : "missing required parameter '\(name)'"
    }
}

/// A decoded query string: names and values in order, `+` and percent-escapes decoded.
struct QueryItems {
    private(set) var items: [(name: String, value: String)] = []

    init(_ raw: Substring?) {
        guard let raw, !raw.isEmpty else { return }
        for pair in raw.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            items.append((Self.decode(parts[0]), parts.count > 1 ? Self.decode(parts[1]) : ""))
        }
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    func values(_ name: String) -> [String] { items.filter { $0.name == name }.map(\.value) }
}

/// Turns parameter text into JSON values shaped by the parameter's schema.
struct ParameterDecoder {
    let table: SchemaTable

    /// A string coerced to the first of `types` it can be: number, boolean, null, else kept as a string
    /// (so that the schema check reports "must be an integer (got 'abc')").
    static func coerce(_ text: String, types: Set<JSONType>) -> JSONValue {
        if types.contains(.integer) || types.contains(.number),
            let number = JSONValue.normalisedNumber(text, value: parseNumber(text))
        {
            return number
        }
        if types.contains(.boolean), text == "true" || text == "false" { return .bool(text == "true") }
        if types.contains(.null), text == "null" { return .null }
        return .string(text)
    }

    /// JSON number syntax only: no hex, no "inf", no surrounding spaces.
    static func parseNumber(_ text: String) -> Double? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }),
            let first = text.first, first.isNumber || first == "-" || first == "+"
        else { return nil }
        guard let number = Double(text), number.isFinite else { return nil }
        return number
    }

    /// The value of a path or header parameter (`simple`, `label` or `matrix` style).
    func decodeSingle(_ text: String, _ parameter: ParameterSpec, schema: Int) -> JSONValue {
        var text = text
        var separator: Character = ","
        switch parameter.style {
        case .label:
            if text.hasPrefix(".") { text.removeFirst() }
            if parameter.explode { separator = "." }
        case .matrix:
            let prefix = ";\(parameter.name)="
            if parameter.explode && text.hasPrefix(prefix) {
                let pieces = text.split(separator: ";").map { String($0.dropFirst(parameter.name.count + 1)) }
                text = pieces.joined(separator: ",")
            } else if text.hasPrefix(prefix) {
                text.removeFirst(prefix.count)
            }
        default: break
        }
        return shape(text, separator: separator, keyValuePairs: parameter.explode, schema: schema)
    }

    /// The value of a query parameter, or nil when it is absent.
    func decodeQuery(_ query: QueryItems, _ parameter: ParameterSpec, schema: Int) -> JSONValue? {
        let types = table.coercionTypes(schema)
        let values = query.values(parameter.name)
        if types.contains(.object) && !types.contains(.array) {
            switch (parameter.style, parameter.explode) {
            case (.deepObject, _):
                return object(from: query, schema: schema) { "\(parameter.name)[\($0)]" }
            case (.form, true):
                return object(from: query, schema: schema) { $0 }
            default:
                guard let first = values.first else { return nil }
                return shape(first, separator: separator(for: parameter.style), keyValuePairs: false, schema: schema)
            }
        }
        guard let first = values.first else { return nil }
        if types.contains(.array) {
            if parameter.style == .form && parameter.explode {
                let itemTypes = table.itemsSchema(schema).map { table.coercionTypes($0) } ?? []
                return .array(values.map { Self.coerce($0, types: itemTypes) })
            }
            return shape(first, separator: separator(for: parameter.style), keyValuePairs: false, schema: schema)
        }
        return Self.coerce(first, types: types)
    }

    private func separator(for style: ParameterSpec.Style) -> Character {
        switch style {
        case .spaceDelimited: return " "
        case .pipeDelimited: return "|"
        default: return ","
        }
    }

    /// An object from query keys (`form`+`explode` uses the property names, `deepObject` uses `name[prop]`).
    private func object(from query: QueryItems, schema: Int, key: (String) -> String) -> JSONValue? {
        var object = JSONObject()
        for (name, propertySchema) in table.declaredProperties(schema) {
            guard let value = query.values(key(name)).first else { continue }
            object[name] = Self.coerce(value, types: table.coercionTypes(propertySchema))
        }
        return object.count == 0 ? nil : .object(object)
    }

    /// Splits delimited text into an array or object as the schema asks, coercing the pieces.
    private func shape(_ text: String, separator: Character, keyValuePairs: Bool, schema: Int) -> JSONValue {
        let types = table.coercionTypes(schema)
        let pieces = text.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
        if types.contains(.array) {
            let itemTypes = table.itemsSchema(schema).map { table.coercionTypes($0) } ?? []
            return .array(text.isEmpty ? [] : pieces.map { Self.coerce($0, types: itemTypes) })
        }
        if types.contains(.object) {
            let properties = table.declaredProperties(schema)
            var object = JSONObject()
            func add(_ name: String, _ value: String) {
                let propertyTypes = properties.first { $0.name == name }.map { table.coercionTypes($0.schema) } ?? []
                object[name] = Self.coerce(value, types: propertyTypes)
            }
            if keyValuePairs {
                for piece in pieces {
                    let pair = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    add(String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
                }
            } else {
                for start in stride(from: 0, to: pieces.count - 1, by: 2) { add(pieces[start], pieces[start + 1]) }
            }
            return .object(object)
        }
        return Self.coerce(text, types: types)
    }
}
