// allOf / anyOf / oneOf / not for the hand-written schema validator, with discriminator-directed
// oneOf/anyOf so that a tagged union reports the chosen alternative's failures instead of a summary.
import GatewayCore

extension SchemaValidator {
    func validateComposition(
        _ value: JSONValue, _ node: SchemaNode, field: String, into sink: inout FailureSink, depth: Int
    ) {
        for member in node.allOf {
            validate(value, schema: member, field: field, into: &sink, depth: depth + 1)
        }
        if let discriminator = node.discriminator, case .object(let object) = value {
            validate(object, discriminator, field: field, into: &sink, depth: depth)
            return
        }
        if !node.anyOf.isEmpty, !node.anyOf.contains(where: { matches(value, schema: $0, depth: depth + 1) }) {
            sink.add(field: field, "must match at least one of the \(node.anyOf.count) alternatives in anyOf")
        }
        if !node.oneOf.isEmpty {
            var matching: [Int] = []
            for (position, member) in node.oneOf.enumerated() where matches(value, schema: member, depth: depth + 1) {
                matching.append(position)
                if matching.count == 2 { break }
            }
            if matching.isEmpty {
                sink.add(
                    field: field,
                    "must match exactly one of the \(node.oneOf.count) alternatives in oneOf (matched none)")
            } else if matching.count > 1 {
                sink.add(
                    field: field,
                    "must match exactly one of the \(node.oneOf.count) alternatives in oneOf "
                        + "(matched alternatives \(matching[0] + 1) and \(matching[1] + 1))")
            }
        }
        if let not = node.not, matches(value, schema: not, depth: depth + 1) {
            sink.add(field: field, "must not match the schema in 'not'")
        }
    }

    /// Picks the alternative named by the discriminator property and validates against it alone.
    private func validate(
        _ object: JSONObject, _ discriminator: SchemaNode.Discriminator, field: String, into sink: inout FailureSink,
        depth: Int
    ) {
        let name = discriminator.propertyName
        let allowed = discriminator.mapping.map { JSONValue.string($0.value).shortDescription }.joined(separator: ", ")
        guard let tag = object[name] else {
            sink.add(.missing, field: "\(field).\(name)", location: field, "missing required property '\(name)'")
            return
        }
        guard let text = tag.stringValue, let selected = discriminator.mapping.first(where: { $0.value == text }) else {
            sink.add(field: "\(field).\(name)", "must be one of \(allowed) (got \(tag.shortDescription))")
            return
        }
        validate(.object(object), schema: selected.schema, field: field, into: &sink, depth: depth + 1)
    }
}
