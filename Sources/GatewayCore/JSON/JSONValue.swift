// The JSON document model the gateways share (REST's transformation engine, the WebSocket gateway's
// messages): a JSON value whose objects keep their members in input order (so JSON→XML keeps element
// order) and whose numbers keep their literal text (so `1.10` and 2^64 come out exactly as they went in).

/// A JSON value.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number as written in the input (already checked against the JSON grammar).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON object: members in insertion order with an index by key. Setting an existing key replaces
/// its value in place.
public struct JSONObject: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue
    }

    public private(set) var members: [Member] = []
    private var index: [String: Int] = [:]

    public init() {}

    public init(_ pairs: [(String, JSONValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get { index[key].map { members[$0].value } }
        set {
            if let newValue {
                if let position = index[key] {
                    members[position].value = newValue
                } else {
                    index[key] = members.count
                    members.append(Member(key: key, value: newValue))
                }
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// Applies `body` to the value at `key` in place (no copy of the value).
    public mutating func modifyValue(forKey key: String, _ body: (inout JSONValue) -> Void) {
        guard let position = index[key] else { return }
        body(&members[position].value)
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let position = index.removeValue(forKey: key) else { return nil }
        let removed = members.remove(at: position)
        for later in position..<members.count { index[members[later].key] = later }
        return removed.value
    }

    /// Removes every member whose key is in `keys`, in one pass.
    public mutating func removeValues(forKeys keys: Set<String>) {
        guard keys.contains(where: { index[$0] != nil }) else { return }
        members.removeAll { keys.contains($0.key) }
        index = Dictionary(uniqueKeysWithValues: members.enumerated().map { ($0.element.key, $0.offset) })
    }

    /// Renames `key` to `newKey`, keeping its position; a member already called `newKey` is replaced.
    public mutating func renameKey(_ key: String, to newKey: String) {
        guard key != newKey, let position = index[key] else { return }
        let value = members[position].value
        removeValue(forKey: newKey)
        guard let current = index.removeValue(forKey: key) else { return }
        members[current] = Member(key: newKey, value: value)
        index[newKey] = current
    }
}

extension JSONValue {
    /// Parses JSON text (any value at the top level, at most 64 levels deep); nil when it is not JSON.
    public static func parse(_ bytes: some Collection<UInt8>) -> JSONValue? {
        try? JSONReader.parse(Array(bytes), maxDepth: 64)
    }

    /// The member `key` of an object; nil for a missing member or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// Compact JSON text for this value (keys sorted).
    public var jsonText: String {
        String(decoding: (try? JSONWriter.write(self, limit: .max, sizeHint: 64)) ?? Array("null".utf8), as: UTF8.self)
    }
}
