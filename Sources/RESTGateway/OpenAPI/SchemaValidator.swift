// Hand-written JSON Schema validation of request values (no allowed library validates JSON Schema).
// Supports the keyword subset in SchemaNode; readOnly properties are ignored, as requests may not send them.
import GatewayCore

/// Validates JSON values against a SchemaTable, reporting failures with field paths such as `body.items[0]`.
struct SchemaValidator {
    let table: SchemaTable
    /// Bounds `$ref`/`allOf` chains that do not descend into the value (e.g. `A: {allOf: [A]}`).
    private static let maxDepth = 64

    init(table: SchemaTable) { self.table = table }

    /// Whether `value` matches the schema, without collecting messages.
    func matches(_ value: JSONValue, schema: Int, depth: Int = 0) -> Bool {
        var probe = FailureSink(limit: 1)
        validate(value, schema: schema, field: "", into: &probe, depth: depth)
        return probe.isEmpty
    }

    func validate(_ value: JSONValue, schema index: Int, field: String, into sink: inout FailureSink, depth: Int = 0) {
        guard !sink.isFull else { return }
        guard depth < Self.maxDepth else {
            sink.add(field: field, "the schema nests too deeply to validate (a $ref loop?)")
            return
        }
        let node = table[index]
        if let verdict = node.verdict {
            if !verdict { sink.add(field: field, "is not allowed") }
            return
        }
        if node.nullable && value == .null { return }
        if let ref = node.ref { validate(value, schema: ref, field: field, into: &sink, depth: depth + 1) }
        if let types = node.types, !Self.matchesType(value, types) {
            let names = types.sorted { $0.order < $1.order }.map(\.withArticle)
            sink.add(field: field, "must be \(Self.list(names, joiner: "or")) (got \(value.shortDescription))")
            return  // Other keywords would only repeat the mismatch.
        }
        if let constValue = node.constValue, !constValue.isSchemaEqual(to: value) {
            sink.add(field: field, "must be \(constValue.shortDescription) (got \(value.shortDescription))")
        }
        if let enumValues = node.enumValues, !enumValues.contains(where: { $0.isSchemaEqual(to: value) }) {
            let allowed = enumValues.prefix(10).map(\.shortDescription).joined(separator: ", ")
            let more = enumValues.count > 10 ? ", …" : ""
            sink.add(field: field, "must be one of \(allowed)\(more) (got \(value.shortDescription))")
        }
        switch value {
        case .number:
            if let number = value.numberValue { validateNumber(number, node, field: field, into: &sink) }
        case .string(let string): validateString(string, node, field: field, into: &sink)
        case .array(let array): validateArray(array, node, field: field, into: &sink, depth: depth)
        case .object(let object): validateObject(object, node, field: field, into: &sink, depth: depth)
        case .null, .bool: break
        }
        validateComposition(value, node, field: field, into: &sink, depth: depth)
    }

    static func matchesType(_ value: JSONValue, _ types: Set<JSONType>) -> Bool {
        let actual = value.jsonType
        return types.contains(actual) || (actual == .integer && types.contains(.number))
    }

    /// "a, b or c".
    static func list(_ items: [String], joiner: String) -> String {
        guard items.count > 1, let last = items.last else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " \(joiner) " + last
    }

    private func validateNumber(_ number: Double, _ node: SchemaNode, field: String, into sink: inout FailureSink) {
        let got = "(got \(number.jsonText))"
        if let minimum = node.minimum, number < minimum {
            sink.add(field: field, "must be at least \(minimum.jsonText) \(got)")
        }
        if let maximum = node.maximum, number > maximum {
            sink.add(field: field, "must be at most \(maximum.jsonText) \(got)")
        }
        if let bound = node.exclusiveMinimum, number <= bound {
            sink.add(field: field, "must be greater than \(bound.jsonText) \(got)")
        }
        if let bound = node.exclusiveMaximum, number >= bound {
            sink.add(field: field, "must be less than \(bound.jsonText) \(got)")
        }
        if let multipleOf = node.multipleOf {
            let quotient = number / multipleOf
            // Tolerate binary rounding: 19.99 / 0.01 is 1998.9999999999998.
            if !quotient.isFinite || Swift.abs(quotient - quotient.rounded()) > 1e-9 * Swift.max(1, Swift.abs(quotient))
            {
                sink.add(field: field, "must be a multiple of \(multipleOf.jsonText) \(got)")
            }
        }
        if let format = node.format, value(number, violates: format) {
            sink.add(field: field, "must be a \(format) integer \(got)")
        }
    }

    private func value(_ number: Double, violates format: String) -> Bool {
        switch format {
        case "int32": return number.isWholeNumber && (number < Double(Int32.min) || number > Double(Int32.max))
        case "int64":
            return number.isWholeNumber && (number < -9.223372036854775808e18 || number >= 9.223372036854775808e18)
        default: return false
        }
    }

    private func validateString(_ string: String, _ node: SchemaNode, field: String, into sink: inout FailureSink) {
        let length = string.unicodeScalars.count
        if let minLength = node.minLength, length < minLength {
            sink.add(field: field, "must be at least \(Self.plural(minLength, "character")) long (got \(length))")
        }
        if let maxLength = node.maxLength, length > maxLength {
            sink.add(field: field, "must be at most \(Self.plural(maxLength, "character")) long (got \(length))")
        }
        if let pattern = node.pattern, !pattern.matches(string) {
            sink.add(
                field: field,
                "must match the pattern '\(pattern.source)' (got \(JSONValue.string(string).shortDescription))")
        }
        if let format = node.format, let problem = StringFormat.problem(string, format: format) {
            sink.add(field: field, problem)
        }
    }

    static func plural(_ count: Int, _ noun: String) -> String {
        if count == 1 { return "1 \(noun)" }
        return noun.hasSuffix("y") ? "\(count) \(noun.dropLast())ies" : "\(count) \(noun)s"
    }

    private func validateArray(
        _ array: [JSONValue], _ node: SchemaNode, field: String, into sink: inout FailureSink, depth: Int
    ) {
        if let minItems = node.minItems, array.count < minItems {
            sink.add(field: field, "must have at least \(Self.plural(minItems, "item")) (got \(array.count))")
        }
        if let maxItems = node.maxItems, array.count > maxItems {
            sink.add(field: field, "must have at most \(Self.plural(maxItems, "item")) (got \(array.count))")
        }
        if node.uniqueItems {
            // Keys compare numbers by value: [1, 1.0] has duplicates.
            var firstIndex: [SchemaEqualityKey: Int] = [:]
            for (position, element) in array.enumerated() {
                if let earlier = firstIndex.updateValue(position, forKey: SchemaEqualityKey(value: element)) {
                    sink.add(
                        field: field, "must not contain duplicate items (items \(earlier) and \(position) are equal)")
                    break
                }
            }
        }
        for (position, element) in array.enumerated() {
            guard !sink.isFull else { return }
            let schema = position < node.prefixItems.count ? node.prefixItems[position] : node.items
            if let schema {
                validate(element, schema: schema, field: "\(field)[\(position)]", into: &sink, depth: depth + 1)
            }
        }
    }

    private func validateObject(
        _ object: JSONObject, _ node: SchemaNode, field: String, into sink: inout FailureSink, depth: Int
    ) {
        for name in node.required where object[name] == nil {
            // Required readOnly properties are only required in responses.
            if let declared = node.properties.first(where: { $0.name == name }), table.isReadOnly(declared.schema) {
                continue
            }
            sink.add(.missing, field: "\(field).\(name)", location: field, "missing required property '\(name)'")
        }
        if let minimum = node.minProperties, object.count < minimum {
            sink.add(field: field, "must have at least \(Self.plural(minimum, "property")) (got \(object.count))")
        }
        if let maximum = node.maxProperties, object.count > maximum {
            sink.add(field: field, "must have at most \(Self.plural(maximum, "property")) (got \(object.count))")
        }
        for member in object.members {
            guard !sink.isFull else { return }
            let (name, value) = (member.key, member.value)
            let child = "\(field).\(name)"
            var matched = false
            if let declared = node.properties.first(where: { $0.name == name }) {
                matched = true
                if !table.isReadOnly(declared.schema) {
                    validate(value, schema: declared.schema, field: child, into: &sink, depth: depth + 1)
                }
            }
            for (pattern, schema) in node.patternProperties where pattern.matches(name) {
                matched = true
                validate(value, schema: schema, field: child, into: &sink, depth: depth + 1)
            }
            if !matched, let additional = node.additionalProperties {
                if table[additional].verdict == false {
                    sink.add(field: child, location: field, "unexpected property '\(name)'")
                } else {
                    validate(value, schema: additional, field: child, into: &sink, depth: depth + 1)
                }
            }
        }
    }
}

extension JSONType {
    /// Order in messages: "a string or null".
    var order: Int {
        switch self {
        case .string: return 0
        case .integer: return 1
        case .number: return 2
        case .boolean: return 3
        case .object: return 4
        case .array: return 5
        case .null: return 6
        }
    }
}
