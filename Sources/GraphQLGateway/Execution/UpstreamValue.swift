// Upstream JSON as values the GraphQL executor can complete: objects are wrapped with how their keys
// are named, lists become arrays, scalars stay `Map`. Every non-root object field of the gateway
// schema reads its value with ``UpstreamValue/resolveNested``.
import GraphQL

/// An upstream JSON object standing for a GraphQL object value.
struct UpstreamObject: Sendable {
    /// How the object's keys relate to the client's selection.
    enum Keys: Sendable {
        /// Keyed by field name (a REST body): `name` is read for `alias: name`.
        case fieldName
        /// Keyed by response key (a subgraph's `data`, which answered the client's own selection).
        case responseKey
    }

    let fields: Map
    let keys: Keys
}

enum UpstreamValue {
    /// `value` shaped for `type`: null becomes nil, lists become arrays of items shaped for the item
    /// type, objects become ``UpstreamObject``; leaves stay `Map` for the scalar's serializer.
    static func wrap(_ value: Map, as type: any GraphQLType, keys: UpstreamObject.Keys) -> (any Sendable)? {
        if value.isNull || value.isUndefined { return nil }
        switch type {
        case let nonNull as GraphQLNonNull:
            return wrap(value, as: nonNull.ofType, keys: keys)
        case let list as GraphQLList:
            guard case .array(let items) = value else { return value }
            return items.map { wrap($0, as: list.ofType, keys: keys) } as [(any Sendable)?]
        case is any GraphQLLeafType:
            return value
        default:
            guard case .dictionary = value else { return value }
            return UpstreamObject(fields: value, keys: keys)
        }
    }

    /// The resolver of every field of a non-root object type.
    static let resolveNested: GraphQLFieldResolve = { source, _, _, info in
        guard let object = source as? UpstreamObject, case .dictionary(let fields) = object.fields else { return nil }
        let key: String
        switch object.keys {
        case .fieldName: key = info.fieldName
        case .responseKey: key = info.fieldASTs.first?.alias?.value ?? info.fieldName
        }
        guard let value = fields[key] else { return nil }
        return wrap(value, as: info.returnType, keys: object.keys)
    }
}
