// The OpenAPI document as written (a JSONValue tree), with JSON Pointer lookup and local `$ref` following.
// Schemas are validated from this tree; OpenAPIKit's typed model drops keywords a validator needs.

import Foundation
import GatewayCore

/// The raw document and the rules for following `$ref`s inside it.
struct RawDocument: Sendable {
    let root: JSONValue

    /// A node together with the JSON Pointer it was found at.
    struct Located: Sendable {
        let node: JSONValue
        let pointer: String

        func child(_ key: String) -> Located? {
            node[key].map { Located(node: $0, pointer: pointer + "/" + RawDocument.escape(key)) }
        }

        func element(_ index: Int) -> Located? {
            guard let array = node.arrayValue, array.indices.contains(index) else { return nil }
            return Located(node: array[index], pointer: pointer + "/\(index)")
        }
    }

    var located: Located { Located(node: root, pointer: "") }

    /// Escapes one JSON Pointer token (`~` → `~0`, `/` → `~1`).
    static func escape(_ token: String) -> String {
        token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// How a pointer is shown in messages ("#/paths/~1users/get" rather than an empty root).
    static func display(_ pointer: String) -> String { "#" + pointer }

    /// The node a local reference such as `#/components/schemas/User` names.
    func target(of reference: String, at pointer: String) throws(DocumentProblem) -> Located {
        guard reference.hasPrefix("#") else {
            throw DocumentProblem(
                .externalReference,
                "external $ref '\(reference)' at \(Self.display(pointer)) is not supported; only references "
                    + "inside the document ('#/...') are")
        }
        let fragment = String(reference.dropFirst()).removingPercentEncoding ?? String(reference.dropFirst())
        guard fragment.isEmpty || fragment.hasPrefix("/") else {
            throw DocumentProblem(
                .unresolvableReference,
                "$ref '\(reference)' at \(Self.display(pointer)) uses an anchor; only JSON Pointer references "
                    + "('#/...') are supported")
        }
        var current = located
        if fragment.isEmpty { return current }
        for rawToken in fragment.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = rawToken.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            let next: Located?
            switch current.node {
            case .object: next = current.child(token)
            case .array: next = Int(token).flatMap { current.element($0) }
            default: next = nil
            }
            guard let next else {
                throw DocumentProblem(
                    .unresolvableReference,
                    "unresolvable $ref '\(reference)' at \(Self.display(pointer)): the document has nothing at "
                        + "\(Self.display(current.pointer + "/" + Self.escape(token)))")
            }
            current = next
        }
        return current
    }

    /// Follows `$ref` until reaching an object that is not a reference (parameters, request bodies, path items).
    func resolve(_ start: Located) throws(DocumentProblem) -> Located {
        var current = start
        var seen: Set<String> = []
        while let reference = current.node["$ref"] {
            guard let text = reference.stringValue else {
                throw DocumentProblem(.invalidDocument, "$ref at \(Self.display(current.pointer)) must be a string")
            }
            guard seen.insert(current.pointer).inserted else {
                throw DocumentProblem(
                    .unresolvableReference,
                    "$ref '\(text)' at \(Self.display(start.pointer)) is part of a reference loop")
            }
            current = try target(of: text, at: current.pointer)
        }
        return current
    }
}
