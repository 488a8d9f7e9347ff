// A strict `Decoder` over Yams' node tree: every config struct stays a plain `Decodable` with defaults,
// and this decoder adds what `YAMLDecoder` lacks: an error for every key nobody asked for, and every
// error located as `file:line: key.path: message`. Written by hand because no available library
// reports unknown keys with their line numbers.
import Foundation
import Yams

/// A configuration error located in its source file.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int?
    public var path: String
    public var message: String

    public init(file: String, line: Int?, path: String, message: String) {
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// Several configuration errors found in one pass.
public struct ConfigErrors: Error, CustomStringConvertible, Sendable {
    public var errors: [ConfigError]
    public init(_ errors: [ConfigError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Decodes `Decodable` values from YAML, rejecting unknown keys.
public struct StrictYAMLDecoder {
    public var fileName: String

    public init(fileName: String) {
        self.fileName = fileName
    }

    public func decode<T: Decodable>(_ type: T.Type, from yaml: String) throws -> T {
        let root: Node
        do {
            root = try Yams.compose(yaml: yaml) ?? Node.mapping(.init([]))
        } catch let error as YamlError {
            throw ConfigErrors([
                ConfigError(file: fileName, line: Self.line(of: error), path: "", message: "invalid YAML: \(error)")
            ])
        }
        let tracker = KeyTracker()
        let decoder = NodeDecoder(node: root, codingPath: [], tracker: tracker, fileName: fileName)
        let value: T
        do {
            value = try T(from: decoder)
        } catch let error as ConfigError {
            throw ConfigErrors([error])
        } catch let error as DecodingError {
            throw ConfigErrors([self.locate(error, root: root)])
        }
        let unknown = tracker.unknownKeys(root: root, fileName: fileName)
        if !unknown.isEmpty { throw ConfigErrors(unknown) }
        return value
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    private func locate(_ error: DecodingError, root: Node) -> ConfigError {
        let (path, message): ([any CodingKey], String)
        switch error {
        case .typeMismatch(let type, let context):
            path = context.codingPath
            message = "expected \(Self.describe(type)); \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            path = context.codingPath
            message = "missing value, expected \(Self.describe(type))"
        case .keyNotFound(let key, let context):
            path = context.codingPath + [key]
            message = "required key is missing"
        case .dataCorrupted(let context):
            path = context.codingPath
            message = context.debugDescription
        @unknown default:
            path = []
            message = "\(error)"
        }
        // A missing key has no node of its own: report the line of its parent.
        var node: Node? = root
        var line = root.mark?.line
        for key in path {
            guard let current = node else { break }
            node = Self.child(of: current, key: key)
            if let mark = node?.mark { line = mark.line }
        }
        return ConfigError(file: fileName, line: line, path: Self.render(path), message: message)
    }

    static func child(of node: Node, key: any CodingKey) -> Node? {
        switch node {
        case .mapping(let mapping): return mapping[key.stringValue]
        case .sequence(let sequence):
            guard let index = key.intValue, index < sequence.count else { return nil }
            return sequence[index]
        default: return nil
        }
    }

    static func render(_ path: [any CodingKey]) -> String {
        var result = ""
        for key in path {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return result
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type: return "an integer"
        case is Bool.Type: return "a boolean (true or false)"
        case is Double.Type: return "a number"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "a mapping" }
            return name
        }
    }
}

/// Records which mapping keys the decoded types asked for.
final class KeyTracker {
    private var used: [String: Set<String>] = [:]
    private var wholeMappings: Set<String> = []

    func markUsed(path: [any CodingKey], key: String) {
        used[StrictYAMLDecoder.render(path), default: []].insert(key)
    }

    /// A dictionary-typed value consumes all its keys.
    func markAll(path: [any CodingKey]) {
        wholeMappings.insert(StrictYAMLDecoder.render(path))
    }

    func unknownKeys(root: Node, fileName: String) -> [ConfigError] {
        var errors: [ConfigError] = []
        walk(root, path: [], fileName: fileName, errors: &errors)
        return errors
    }

    private func walk(_ node: Node, path: [any CodingKey], fileName: String, errors: inout [ConfigError]) {
        let rendered = StrictYAMLDecoder.render(path)
        switch node {
        case .mapping(let mapping):
            let visited = used[rendered]
            let whole = wholeMappings.contains(rendered)
            for (keyNode, value) in mapping {
                let key = keyNode.string ?? ""
                let childPath = path + [AnyKey(key)]
                if whole || visited?.contains(key) == true {
                    walk(value, path: childPath, fileName: fileName, errors: &errors)
                } else if visited != nil {
                    let known = visited.map { " (known keys here: \($0.sorted().joined(separator: ", ")))" } ?? ""
                    errors.append(
                        ConfigError(
                            file: fileName, line: keyNode.mark?.line, path: StrictYAMLDecoder.render(childPath),
                            message: "unknown key\(known)"))
                }
            }
        case .sequence(let sequence):
            for (index, element) in sequence.enumerated() {
                walk(element, path: path + [AnyKey(index)], fileName: fileName, errors: &errors)
            }
        default:
            break
        }
    }
}

public struct AnyKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int?
    public init(_ string: String) { self.stringValue = string; self.intValue = nil }
    public init(_ int: Int) { self.stringValue = "\(int)"; self.intValue = int }
    public init?(stringValue: String) { self.init(stringValue) }
    public init?(intValue: Int) { self.init(intValue) }
}
