// The operation sent to a GraphQL subgraph for one root field: the field re-printed from the client's
// AST (alias, arguments, nested selections) with the variable definitions and fragments it uses.
import GraphQL

/// One root field's selection as a standalone GraphQL document for a subgraph.
struct SubgraphOperation: Sendable, Equatable {
    /// The document text.
    let text: String
    /// The variables the document declares, in the order of the client's operation.
    let variableNames: [String]
    /// The key the subgraph answers under in `data` (the alias, else the field name).
    let responseKey: String

    /// Builds the document for `fields` (the client's nodes for one response key; the executor merges
    /// repeated selections of the same key, so their selection sets are concatenated).
    /// Directives on the root field itself are not forwarded: the gateway has already applied them.
    init(fields: [Field], operation: OperationDefinition, fragments: [String: FragmentDefinition]) {
        guard let first = fields.first else {
            self.init(text: "", variableNames: [], responseKey: "")
            return
        }
        var usage = Usage(fragments: fragments)
        let selections = fields.flatMap { $0.selectionSet?.selections ?? [] }
        for argument in first.arguments { usage.visit(argument.value) }
        for selection in selections { usage.visit(selection) }

        var head = first.alias.map { $0.value + ": " } ?? ""
        head += first.name.value
        if !first.arguments.isEmpty {
            head += "(" + first.arguments.map { print(ast: $0) }.joined(separator: ", ") + ")"
        }
        var fieldText = head
        if !selections.isEmpty {
            fieldText += " {\n" + selections.map { print(ast: $0) }.joined(separator: "\n") + "\n}"
        }
        let definitions = operation.variableDefinitions.filter { usage.variables.contains($0.variable.name.value) }
        var text = operation.operation.rawValue
        if !definitions.isEmpty {
            text += "(" + definitions.map { print(ast: $0) }.joined(separator: ", ") + ")"
        }
        text += " {\n" + fieldText + "\n}"
        for name in usage.fragmentOrder {
            if let fragment = fragments[name] { text += "\n\n" + print(ast: fragment) }
        }
        self.init(
            text: text, variableNames: definitions.map { $0.variable.name.value },
            responseKey: first.alias?.value ?? first.name.value)
    }

    init(text: String, variableNames: [String], responseKey: String) {
        self.text = text
        self.variableNames = variableNames
        self.responseKey = responseKey
    }

    /// Collects the variables and fragments a selection uses, fragments transitively.
    private struct Usage {
        let fragments: [String: FragmentDefinition]
        var variables: Set<String> = []
        var fragmentOrder: [String] = []
        var seenFragments: Set<String> = []

        mutating func visit(_ selection: any Selection) {
            switch selection {
            case let field as Field:
                for argument in field.arguments { visit(argument.value) }
                visit(field.directives)
                for nested in field.selectionSet?.selections ?? [] { visit(nested) }
            case let inline as InlineFragment:
                visit(inline.directives)
                for nested in inline.selectionSet.selections { visit(nested) }
            case let spread as FragmentSpread:
                visit(spread.directives)
                let name = spread.name.value
                guard seenFragments.insert(name).inserted, let fragment = fragments[name] else { return }
                fragmentOrder.append(name)
                visit(fragment.directives)
                for nested in fragment.selectionSet.selections { visit(nested) }
            default:
                return
            }
        }

        mutating func visit(_ directives: [Directive]) {
            for directive in directives {
                for argument in directive.arguments { visit(argument.value) }
            }
        }

        mutating func visit(_ value: any Value) {
            switch value {
            case let variable as Variable:
                variables.insert(variable.name.value)
            case let list as ListValue:
                for item in list.values { visit(item) }
            case let object as ObjectValue:
                for field in object.fields { visit(field.value) }
            default:
                return
            }
        }
    }
}
