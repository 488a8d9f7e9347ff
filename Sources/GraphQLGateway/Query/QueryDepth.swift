// Query depth: how many levels of nested selections an operation asks for, counted through fragments,
// so that `gateways.graphql.maxDepth` can refuse deep queries before they are validated or executed.
import GraphQL

enum QueryDepth {
    /// The depth of `operation`: a field without a selection counts 1 and each level of nested
    /// selections adds 1 (`{ users { id } }` is 2). Fragments add no level of their own. Introspection
    /// root fields (`__schema`, `__type`) are not counted. A fragment cycle stops the count there
    /// (validation rejects cycles anyway); each fragment is measured once, so the cost is linear.
    static func depth(of operation: OperationDefinition, fragments: [String: FragmentDefinition]) -> Int {
        var calculator = Calculator(fragments: fragments)
        return calculator.depth(of: operation.selectionSet, atRoot: true)
    }

    /// The depth of every operation and fragment of `document`, whichever is deepest.
    static func maximumDepth(of document: Document) -> Int {
        let fragments = document.fragments
        var calculator = Calculator(fragments: fragments)
        var deepest = 0
        for case let operation as OperationDefinition in document.definitions {
            deepest = max(deepest, calculator.depth(of: operation.selectionSet, atRoot: true))
        }
        return deepest
    }

    private struct Calculator {
        let fragments: [String: FragmentDefinition]
        var measured: [String: Int] = [:]
        var inProgress: Set<String> = []

        mutating func depth(of selectionSet: SelectionSet, atRoot: Bool) -> Int {
            var deepest = 0
            for selection in selectionSet.selections {
                switch selection {
                case let field as Field:
                    if atRoot, field.name.value == "__schema" || field.name.value == "__type" { continue }
                    let nested = field.selectionSet.map { depth(of: $0, atRoot: false) } ?? 0
                    deepest = max(deepest, 1 + nested)
                case let inline as InlineFragment:
                    deepest = max(deepest, depth(of: inline.selectionSet, atRoot: atRoot))
                case let spread as FragmentSpread:
                    deepest = max(deepest, fragmentDepth(spread.name.value, atRoot: atRoot))
                default:
                    continue
                }
            }
            return deepest
        }

        mutating func fragmentDepth(_ name: String, atRoot: Bool) -> Int {
            let key = atRoot ? "^" + name : name
            if let known = measured[key] { return known }
            guard let fragment = fragments[name], !inProgress.contains(key) else { return 0 }
            inProgress.insert(key)
            let result = depth(of: fragment.selectionSet, atRoot: atRoot)
            inProgress.remove(key)
            measured[key] = result
            return result
        }
    }
}

extension Document {
    /// The fragment definitions of the document by name (the first wins; validation rejects duplicates).
    var fragments: [String: FragmentDefinition] {
        var fragments: [String: FragmentDefinition] = [:]
        for case let fragment as FragmentDefinition in definitions where fragments[fragment.name.value] == nil {
            fragments[fragment.name.value] = fragment
        }
        return fragments
    }
}
