// Checks every `$ref` in the document when it loads, so that a typo or an external reference anywhere
// (not only in what the validator uses) is reported with its location before the gateway starts.

extension RawDocument {
    /// Keys whose children are names chosen by the author (so a child called `example` is not an example).
    private static let nameMaps: Set<String> = [
        "properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "schemas", "parameters",
        "responses", "examples", "requestBodies", "headers", "securitySchemes", "links", "callbacks", "pathItems",
        "mediaTypes", "paths", "webhooks", "content", "encoding", "variables",
    ]
    /// Keys whose values are data, not OpenAPI objects: a `$ref` inside them is just a string.
    private static let dataKeys: Set<String> = ["example", "default", "enum", "const"]

    /// Throws the first unresolvable or external `$ref`, in document order.
    func checkReferences() throws(DocumentProblem) {
        try check(located, key: nil, parentKey: nil)
    }

    private func check(_ current: Located, key: String?, parentKey: String?) throws(DocumentProblem) {
        switch current.node {
        case .object(let object):
            let namesAreChosen = key.map(Self.nameMaps.contains) ?? false
            if !namesAreChosen, let reference = object["$ref"] {
                guard let text = reference.stringValue else {
                    throw DocumentProblem(.invalidDocument, "$ref at \(Self.display(current.pointer)) must be a string")
                }
                _ = try target(of: text, at: current.pointer)
            }
            for name in object.keys where namesAreChosen || !isData(name, parentKey: parentKey) {
                if let child = current.child(name) { try check(child, key: name, parentKey: key) }
            }
        case .array(let array):
            if key == "examples" { return }  // JSON Schema 3.1 `examples`: a list of values.
            for index in array.indices {
                if let element = current.element(index) { try check(element, key: nil, parentKey: key) }
            }
        default:
            return
        }
    }

    private func isData(_ name: String, parentKey: String?) -> Bool {
        Self.dataKeys.contains(name) || name.hasPrefix("x-") || (name == "value" && parentKey == "examples")
    }
}
