// The shaping steps of a body transformation, applied to a parsed document in this order:
// allow → deny → rename → nest. Paths are dotted (`user.name`); a step that meets an array applies
// to every element, so `items.id` reaches the `id` of each element of `items`.
import GatewayCore

/// One side's allow, deny, rename and nest settings, compiled.
///
/// - allow: only the listed paths are kept, with the objects and arrays that lead to them (these stay
///   even when nothing below them matched). Allowing a parent keeps its whole subtree. Where a path
///   expects an object but meets a scalar, the scalar is dropped; a document that is itself a scalar
///   is left as it is.
/// - deny: the listed paths are removed.
/// - rename: the key at the end of each path gets a new name at the same level, keeping its position;
///   a member that already had the new name is replaced. Deeper paths are renamed first, so a parent
///   and its children can both be renamed by their original paths.
/// - nest: the document becomes the only member of a new object under this key.
///
/// Paths that do not exist in a document are ignored.
struct JSONShaper: Sendable {
    /// A set of paths stored as a tree of keys; `isEnd` marks a listed path.
    struct PathTree: Sendable {
        var isEnd = false
        var children: [String: PathTree] = [:]

        init(_ paths: [[String]]) {
            for path in paths { insert(path[...]) }
        }

        private mutating func insert(_ path: ArraySlice<String>) {
            guard let first = path.first else {
                isEnd = true
                return
            }
            children[first, default: PathTree([])].insert(path.dropFirst())
        }
    }

    private let allow: PathTree?
    private let deny: PathTree?
    private let renames: [(path: [String], newKey: String)]
    private let nest: String?

    init(_ config: BodyShapeConfig) {
        allow = config.allow.map { PathTree($0.map(Self.segments)) }
        deny = config.deny.isEmpty ? nil : PathTree(config.deny.map(Self.segments))
        renames = config.rename.map { (Self.segments($0.key), $0.value) }
            .sorted { $0.0.count != $1.0.count ? $0.0.count > $1.0.count : $0.0.lexicographicallyPrecedes($1.0) }
            .map { (path: $0.0, newKey: $0.1) }
        nest = config.nest
    }

    static func segments(_ path: String) -> [String] {
        path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    func apply(_ document: JSONValue) -> JSONValue {
        var value = document
        if let allow { value = Self.keep(value, allow) ?? value }
        if let deny { Self.remove(deny, from: &value) }
        for rename in renames { Self.rename(rename.path[...], to: rename.newKey, in: &value) }
        if let nest { value = .object(JSONObject([(nest, value)])) }
        return value
    }

    /// The part of `value` that `tree` allows, or nil when none of it is a container the tree reaches.
    private static func keep(_ value: JSONValue, _ tree: PathTree) -> JSONValue? {
        if tree.isEnd { return value }
        switch value {
        case .object(let object):
            var kept = JSONObject()
            for member in object.members {
                if let child = tree.children[member.key], let value = keep(member.value, child) {
                    kept[member.key] = value
                }
            }
            return .object(kept)
        case .array(let items):
            return .array(items.compactMap { keep($0, tree) })
        default:
            return nil
        }
    }

    /// Removes every path of `tree` from `value` in one walk (one pass over each object touched).
    private static func remove(_ tree: PathTree, from value: inout JSONValue) {
        switch value {
        case .object(var object):
            value = .null  // leaves `object` uniquely referenced, so editing it does not copy
            var doomed: Set<String> = []
            for (key, child) in tree.children {
                if child.isEnd {
                    doomed.insert(key)
                } else {
                    object.modifyValue(forKey: key) { remove(child, from: &$0) }
                }
            }
            object.removeValues(forKeys: doomed)
            value = .object(object)
        case .array(var items):
            value = .null
            for index in items.indices { remove(tree, from: &items[index]) }
            value = .array(items)
        default:
            break
        }
    }

    private static func rename(_ path: ArraySlice<String>, to newKey: String, in value: inout JSONValue) {
        edit(path, in: &value) { object, key in object.renameKey(key, to: newKey) }
    }

    /// Walks `path` through objects (and through every element of arrays) and calls `change` on each
    /// object that holds the last key.
    private static func edit(
        _ path: ArraySlice<String>, in value: inout JSONValue, _ change: (inout JSONObject, String) -> Void
    ) {
        guard let key = path.first else { return }
        switch value {
        case .object(var object):
            value = .null  // leaves `object` uniquely referenced, so editing it does not copy
            if path.count == 1 {
                change(&object, key)
            } else {
                object.modifyValue(forKey: key) { edit(path.dropFirst(), in: &$0, change) }
            }
            value = .object(object)
        case .array(var items):
            value = .null
            for index in items.indices { edit(path, in: &items[index], change) }
            value = .array(items)
        default:
            break
        }
    }
}
