// Compiles raw JSON Schema objects (OpenAPI 3.0 and 3.1 dialects) into SchemaNodes, following local `$ref`s.
// Each schema is compiled once per JSON Pointer, so recursive schemas terminate.
import GatewayCore

/// Builds the schema table of one document.
struct SchemaCompiler {
    let document: RawDocument
    /// OpenAPI 3.0 ignores keywords beside `$ref`; 3.1 applies them too.
    let ignoresReferenceSiblings: Bool
    private(set) var table = SchemaTable()
    private var indexByPointer: [String: Int] = [:]

    init(document: RawDocument, ignoresReferenceSiblings: Bool) {
        self.document = document
        self.ignoresReferenceSiblings = ignoresReferenceSiblings
    }

    /// The table index of the schema at `located`, compiling it (and what it references) on first use.
    mutating func compile(_ located: RawDocument.Located) throws(DocumentProblem) -> Int {
        if let index = indexByPointer[located.pointer] { return index }
        let index = table.nodes.count
        table.nodes.append(.alwaysPasses)  // Placeholder so that a cycle back to this schema finds its index.
        indexByPointer[located.pointer] = index
        table.nodes[index] = try build(located)
        return index
    }

    private func invalid(_ located: RawDocument.Located, _ key: String, _ problem: String) -> DocumentProblem {
        DocumentProblem(
            .invalidSchema, "invalid schema at \(RawDocument.display(located.pointer)): '\(key)' \(problem)")
    }

    private mutating func build(_ located: RawDocument.Located) throws(DocumentProblem) -> SchemaNode {
        switch located.node {
        case .bool(let verdict): return verdict ? .alwaysPasses : .alwaysFails
        case .object: break
        default:
            throw DocumentProblem(
                .invalidSchema,
                "invalid schema at \(RawDocument.display(located.pointer)): must be an object or a boolean")
        }
        var node = SchemaNode()
        if let reference = located.node["$ref"] {
            guard let text = reference.stringValue else { throw invalid(located, "$ref", "must be a string") }
            node.ref = try compile(try document.target(of: text, at: located.pointer))
            if ignoresReferenceSiblings { return node }
        }
        try readGeneral(located, into: &node)
        try readNumeric(located, into: &node)
        try readString(located, into: &node)
        try readArray(located, into: &node)
        try readObject(located, into: &node)
        try readComposition(located, into: &node)
        return node
    }

    private func readGeneral(_ located: RawDocument.Located, into node: inout SchemaNode) throws(DocumentProblem) {
        switch located.node["type"] {
        case nil: break
        case .string(let name)?:
            guard let type = JSONType(rawValue: name) else {
                throw invalid(located, "type", "'\(name)' is not a JSON type")
            }
            node.types = [type]
        case .array(let names)?:
            var types = Set<JSONType>()
            for name in names {
                guard let text = name.stringValue, let type = JSONType(rawValue: text) else {
                    throw invalid(located, "type", "\(name.shortDescription) is not a JSON type")
                }
                types.insert(type)
            }
            node.types = types
        default: throw invalid(located, "type", "must be a string or an array of strings")
        }
        node.nullable = located.node["nullable"]?.boolValue ?? false
        node.readOnly = located.node["readOnly"]?.boolValue ?? false
        if let values = located.node["enum"] {
            guard let array = values.arrayValue else { throw invalid(located, "enum", "must be an array") }
            node.enumValues = array
        }
        node.constValue = located.node["const"]
        if let format = located.node["format"] {
            guard let text = format.stringValue else { throw invalid(located, "format", "must be a string") }
            node.format = text
        }
    }

    private func number(_ located: RawDocument.Located, _ key: String) throws(DocumentProblem) -> Double? {
        guard let value = located.node[key] else { return nil }
        guard let number = value.numberValue else { throw invalid(located, key, "must be a number") }
        return number
    }

    private func count(_ located: RawDocument.Located, _ key: String) throws(DocumentProblem) -> Int? {
        guard let value = located.node[key] else { return nil }
        guard let count = value.countValue else { throw invalid(located, key, "must be a non-negative integer") }
        return count
    }

    private func pattern(_ located: RawDocument.Located, _ key: String, _ source: JSONValue) throws(DocumentProblem)
        -> SchemaPattern
    {
        guard let text = source.stringValue else { throw invalid(located, key, "must be a string") }
        guard let pattern = SchemaPattern(text) else {
            throw invalid(located, key, "'\(text)' is not a valid regular expression")
        }
        return pattern
    }

    private func readNumeric(_ located: RawDocument.Located, into node: inout SchemaNode) throws(DocumentProblem) {
        node.minimum = try number(located, "minimum")
        node.maximum = try number(located, "maximum")
        // 3.1: exclusive bounds are numbers. 3.0: booleans that make minimum/maximum exclusive.
        switch located.node["exclusiveMinimum"] {
        case .bool(true)?: (node.exclusiveMinimum, node.minimum) = (node.minimum, nil)
        case .bool(false)?, nil: break
        default: node.exclusiveMinimum = try number(located, "exclusiveMinimum")
        }
        switch located.node["exclusiveMaximum"] {
        case .bool(true)?: (node.exclusiveMaximum, node.maximum) = (node.maximum, nil)
        case .bool(false)?, nil: break
        default: node.exclusiveMaximum = try number(located, "exclusiveMaximum")
        }
        if let multipleOf = try number(located, "multipleOf") {
            guard multipleOf > 0 else { throw invalid(located, "multipleOf", "must be greater than 0") }
            node.multipleOf = multipleOf
        }
    }

    private func readString(_ located: RawDocument.Located, into node: inout SchemaNode) throws(DocumentProblem) {
        node.minLength = try count(located, "minLength")
        node.maxLength = try count(located, "maxLength")
        if let source = located.node["pattern"] { node.pattern = try pattern(located, "pattern", source) }
    }

    private mutating func schemaList(_ located: RawDocument.Located, _ key: String) throws(DocumentProblem) -> [Int] {
        guard let list = located.child(key) else { return [] }
        guard let array = list.node.arrayValue else { throw invalid(located, key, "must be an array of schemas") }
        var indices: [Int] = []
        for position in array.indices {
            if let element = list.element(position) { indices.append(try compile(element)) }
        }
        return indices
    }

    private mutating func readArray(_ located: RawDocument.Located, into node: inout SchemaNode) throws(DocumentProblem)
    {
        if let items = located.child("items") {
            // An array of schemas is the older tuple form of `prefixItems`.
            if items.node.arrayValue != nil {
                node.prefixItems = try schemaList(located, "items")
            } else {
                node.items = try compile(items)
            }
        }
        if located.node["prefixItems"] != nil { node.prefixItems = try schemaList(located, "prefixItems") }
        node.minItems = try count(located, "minItems")
        node.maxItems = try count(located, "maxItems")
        node.uniqueItems = located.node["uniqueItems"]?.boolValue ?? false
    }

    private mutating func readObject(_ located: RawDocument.Located, into node: inout SchemaNode)
        throws(DocumentProblem)
    {
        if let properties = located.child("properties") {
            guard let object = properties.node.objectValue else {
                throw invalid(located, "properties", "must be an object")
            }
            for name in object.keys {
                if let property = properties.child(name) { node.properties.append((name, try compile(property))) }
            }
        }
        if let required = located.node["required"] {
            // OpenAPI 3.0 documents sometimes put `required: true` on a property; it means nothing to JSON Schema.
            if let names = required.arrayValue {
                node.required = try names.map { name throws(DocumentProblem) in
                    guard let text = name.stringValue else { throw invalid(located, "required", "must list strings") }
                    return text
                }
            }
        }
        if let patterns = located.child("patternProperties") {
            guard let object = patterns.node.objectValue else {
                throw invalid(located, "patternProperties", "must be an object")
            }
            for source in object.keys {
                if let schema = patterns.child(source) {
                    let compiled = try pattern(located, "patternProperties", .string(source))
                    node.patternProperties.append((compiled, try compile(schema)))
                }
            }
        }
        if let additional = located.child("additionalProperties") {
            if additional.node != .bool(true) { node.additionalProperties = try compile(additional) }
        }
        node.minProperties = try count(located, "minProperties")
        node.maxProperties = try count(located, "maxProperties")
    }

    private mutating func readComposition(_ located: RawDocument.Located, into node: inout SchemaNode)
        throws(DocumentProblem)
    {
        node.allOf = try schemaList(located, "allOf")
        node.anyOf = try schemaList(located, "anyOf")
        node.oneOf = try schemaList(located, "oneOf")
        if let not = located.child("not") { node.not = try compile(not) }
        guard let discriminator = located.child("discriminator"), !(node.oneOf + node.anyOf).isEmpty else { return }
        guard let propertyName = discriminator.node["propertyName"]?.stringValue else {
            throw invalid(located, "discriminator", "needs a string 'propertyName'")
        }
        var mapping: [(value: String, schema: Int)] = []
        if let explicit = discriminator.child("mapping"), let object = explicit.node.objectValue {
            for member in object.members {
                let value = member.key
                guard let text = member.value.stringValue else {
                    throw invalid(located, "discriminator", "mapping '\(value)' must be a schema name or a $ref")
                }
                let reference = text.hasPrefix("#") || text.contains("/") ? text : "#/components/schemas/\(text)"
                mapping.append((value, try compile(try document.target(of: reference, at: explicit.pointer))))
            }
        }
        // A member `$ref: '#/components/schemas/Cat'` that no mapping entry names is selected by the value "Cat".
        let members = (located.node["oneOf"]?.arrayValue ?? []) + (located.node["anyOf"]?.arrayValue ?? [])
        let mappedSchemas = Set(mapping.map(\.schema))
        for (member, index) in zip(members, node.oneOf + node.anyOf) {
            guard let reference = member["$ref"]?.stringValue, let name = reference.split(separator: "/").last else {
                continue
            }
            let target = table.nodes[index].ref ?? index
            if !mappedSchemas.contains(target) && !mapping.contains(where: { $0.value == String(name) }) {
                mapping.append((String(name), index))
            }
        }
        node.discriminator = .init(propertyName: propertyName, mapping: mapping)
    }
}
