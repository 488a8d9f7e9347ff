// Reads a YAML document into a JSONValue tree with Yams (mapping order kept, anchors resolved,
// scalars typed by YAML's core schema), so that YAML and JSON documents share one raw form. Numbers
// become JSON literals (`+1` → `1`, `0x1F` → `31`); `.inf`, `.nan` and out-of-range numbers stay strings.

import GatewayCore
import Yams

enum YAMLDocumentParser {
    static func parse(_ text: String) throws(DocumentProblem) -> JSONValue {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw DocumentProblem(.invalidSyntax, "is not valid YAML: \(error)")
        }
        guard let root else { throw DocumentProblem(.notOpenAPI, "is empty") }
        return try convert(root, depth: 0)
    }

    private static func convert(_ node: Node, depth: Int) throws(DocumentProblem) -> JSONValue {
        guard depth < 256 else { throw DocumentProblem(.invalidSyntax, "nests deeper than 256 levels") }
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case .int:
                return JSONValue.normalisedNumber(scalar.string, exact: node.int, value: node.float)
                    ?? .string(scalar.string)
            case .float: return JSONValue.normalisedNumber(scalar.string, value: node.float) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            var array: [JSONValue] = []
            for element in sequence { array.append(try convert(element, depth: depth + 1)) }
            return .array(array)
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping {
                guard case .scalar(let name) = key else {
                    throw DocumentProblem(.invalidSyntax, "has a mapping key that is not a string (line \(line(key)))")
                }
                object[name.string] = try convert(value, depth: depth + 1)
            }
            return .object(object)
        case .alias:
            throw DocumentProblem(.invalidSyntax, "has an unresolved YAML alias (line \(line(node)))")
        }
    }

    private static func line(_ node: Node) -> String { node.mark.map { String($0.line) } ?? "?" }
}
