// The `Decoder` containers behind `StrictYAMLDecoder`: keyed, unkeyed and single-value views of a
// Yams node that record every key they hand out.
import Foundation
import Yams

struct NodeDecoder: Decoder {
    let node: Node
    let codingPath: [any CodingKey]
    let tracker: KeyTracker
    let fileName: String
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let mapping) = node else {
            throw DecodingError.typeMismatch(
                [String: Any].self, .init(codingPath: codingPath, debugDescription: "found \(Self.kind(of: node))"))
        }
        return KeyedDecodingContainer(KeyedNodeContainer<Key>(mapping: mapping, decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else {
            throw DecodingError.typeMismatch(
                [Any].self, .init(codingPath: codingPath, debugDescription: "found \(Self.kind(of: node))"))
        }
        return UnkeyedNodeContainer(nodes: Array(sequence), decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        ScalarNodeContainer(decoder: self)
    }

    func child(_ node: Node, key: any CodingKey) -> NodeDecoder {
        NodeDecoder(node: node, codingPath: codingPath + [key], tracker: tracker, fileName: fileName)
    }

    static func kind(of node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar): return scalar.string.isEmpty ? "an empty value" : "'\(scalar.string)'"
        case .alias: return "an alias"
        }
    }

    // MARK: scalar conversion shared by the containers

    func decodeScalar<T: Decodable>(_ type: T.Type) throws -> T {
        let context = DecodingError.Context(codingPath: codingPath, debugDescription: "found \(Self.kind(of: node))")
        switch type {
        case is String.Type:
            guard case .scalar(let scalar) = node, !isNull else { throw DecodingError.typeMismatch(type, context) }
            return scalar.string as! T
        case is Bool.Type:
            guard let value = node.bool else { throw DecodingError.typeMismatch(type, context) }
            return value as! T
        case is Int.Type:
            guard case .scalar(let scalar) = node,
                let value = Int(scalar.string.replacingOccurrences(of: "_", with: ""))
            else { throw DecodingError.typeMismatch(type, context) }
            return value as! T
        case is Double.Type:
            guard case .scalar(let scalar) = node, let value = Double(scalar.string)
            else { throw DecodingError.typeMismatch(type, context) }
            return value as! T
        default:
            return try T(from: self)
        }
    }

    var isNull: Bool {
        guard case .scalar(let scalar) = node else { return false }
        if scalar.style != .plain { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let mapping: Node.Mapping
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        decoder.tracker.markAll(path: codingPath)
        return mapping.keys.compactMap { $0.string.flatMap(Key.init(stringValue:)) }
    }

    func contains(_ key: Key) -> Bool {
        decoder.tracker.markUsed(path: codingPath, key: key.stringValue)
        return mapping[key.stringValue] != nil
    }

    private func value(for key: Key) throws -> Node {
        decoder.tracker.markUsed(path: codingPath, key: key.stringValue)
        guard let node = mapping[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return node
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        decoder.tracker.markUsed(path: codingPath, key: key.stringValue)
        guard let node = mapping[key.stringValue] else { return true }
        return decoder.child(node, key: key).isNull
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.child(try value(for: key), key: key).decodeScalar(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try decoder.child(try value(for: key), key: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder.child(try value(for: key), key: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder.child(try value(for: key), key: key) }
}

struct UnkeyedNodeContainer: UnkeyedDecodingContainer {
    let nodes: [Node]
    let decoder: NodeDecoder
    var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { nodes.count }
    var isAtEnd: Bool { currentIndex >= nodes.count }

    init(nodes: [Node], decoder: NodeDecoder) {
        self.nodes = nodes
        self.decoder = decoder
    }

    private mutating func next() throws -> NodeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "end of list"))
        }
        defer { currentIndex += 1 }
        return decoder.child(nodes[currentIndex], key: AnyKey(currentIndex))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return true }
        if decoder.child(nodes[currentIndex], key: AnyKey(currentIndex)).isNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeScalar(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    { try next().container(keyedBy: type) }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

struct ScalarNodeContainer: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    func decodeNil() -> Bool { decoder.isNull }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeScalar(type) }
}
