// A compiled JSON Schema (the subset the request validator supports), stored in a table so that
// recursive schemas (`$ref` cycles) are plain indices. Built by SchemaCompiler, read by SchemaValidator.

import Foundation
import GatewayCore

/// All compiled schemas of one document; schemas refer to each other by index.
struct SchemaTable: Sendable {
    var nodes: [SchemaNode] = []

    subscript(index: Int) -> SchemaNode { nodes[index] }

    /// The types a parameter value should be coerced to: the schema's own `type`, else what its
    /// `$ref`/`allOf` (first with a type) or `anyOf`/`oneOf` (all) allow; empty when unconstrained.
    func coercionTypes(_ index: Int, depth: Int = 0) -> Set<JSONType> {
        guard depth < 16 else { return [] }
        let node = nodes[index]
        if let types = node.types { return types }
        if let values = node.enumValues ?? node.constValue.map({ [$0] }) { return Set(values.map(\.jsonType)) }
        if let ref = node.ref { return coercionTypes(ref, depth: depth + 1) }
        for member in node.allOf {
            let types = coercionTypes(member, depth: depth + 1)
            if !types.isEmpty { return types }
        }
        return (node.anyOf + node.oneOf).reduce(into: Set<JSONType>()) {
            $0.formUnion(coercionTypes($1, depth: depth + 1))
        }
    }

    /// The schema for array items, through `$ref` and `allOf`.
    func itemsSchema(_ index: Int, depth: Int = 0) -> Int? {
        guard depth < 16 else { return nil }
        let node = nodes[index]
        if let items = node.items { return items }
        if let ref = node.ref, let items = itemsSchema(ref, depth: depth + 1) { return items }
        return node.allOf.lazy.compactMap { self.itemsSchema($0, depth: depth + 1) }.first
    }

    /// Declared properties and their schemas, through `$ref` and `allOf`.
    func declaredProperties(_ index: Int, depth: Int = 0) -> [(name: String, schema: Int)] {
        guard depth < 16 else { return [] }
        let node = nodes[index]
        var result = node.properties
        if let ref = node.ref { result += declaredProperties(ref, depth: depth + 1) }
        for member in node.allOf { result += declaredProperties(member, depth: depth + 1) }
        return result
    }

    /// Whether the schema (or the one its `$ref` names) is marked `readOnly`.
    func isReadOnly(_ index: Int, depth: Int = 0) -> Bool {
        guard depth < 16 else { return false }
        let node = nodes[index]
        if node.readOnly { return true }
        return node.ref.map { isReadOnly($0, depth: depth + 1) } ?? false
    }
}

/// One schema object. A `nil`/empty keyword is absent.
struct SchemaNode: Sendable {
    /// `true`/`false` schemas (3.1), or a node whose keywords decide (`nil`).
    var verdict: Bool?
    /// Allowed types; `integer` is implied by `number`.
    var types: Set<JSONType>?
    /// OpenAPI 3.0 `nullable: true`: null passes whatever else the schema says.
    var nullable = false
    var readOnly = false
    var enumValues: [JSONValue]?
    var constValue: JSONValue?

    var minimum: Double?
    var maximum: Double?
    var exclusiveMinimum: Double?
    var exclusiveMaximum: Double?
    var multipleOf: Double?

    var minLength: Int?
    var maxLength: Int?
    var pattern: SchemaPattern?
    var format: String?

    var items: Int?
    var prefixItems: [Int] = []
    var minItems: Int?
    var maxItems: Int?
    var uniqueItems = false

    var properties: [(name: String, schema: Int)] = []
    var required: [String] = []
    var patternProperties: [(pattern: SchemaPattern, schema: Int)] = []
    /// The schema extra properties must match; a `false` node when they are forbidden.
    var additionalProperties: Int?
    var minProperties: Int?
    var maxProperties: Int?

    var ref: Int?
    var allOf: [Int] = []
    var anyOf: [Int] = []
    var oneOf: [Int] = []
    var not: Int?
    var discriminator: Discriminator?

    struct Discriminator: Sendable {
        let propertyName: String
        /// Discriminator value → the schema it selects (explicit `mapping`, else the names of `$ref`ed schemas).
        let mapping: [(value: String, schema: Int)]
    }

    static let alwaysPasses = SchemaNode(verdict: true)
    static let alwaysFails = SchemaNode(verdict: false)
}

/// A compiled `pattern`. ECMA-262 patterns are run with NSRegularExpression, unanchored as JSON Schema says.
struct SchemaPattern: @unchecked Sendable {
    // NSRegularExpression is immutable and documented as safe to use from several threads.
    let source: String
    private let regex: NSRegularExpression

    init?(_ source: String) {
        guard let regex = try? NSRegularExpression(pattern: source) else { return nil }
        self.source = source
        self.regex = regex
    }

    func matches(_ string: String) -> Bool {
        regex.firstMatch(in: string, range: NSRange(string.startIndex..., in: string)) != nil
    }
}
