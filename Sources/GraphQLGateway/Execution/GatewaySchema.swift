// The executable gateway schema: the SDL built with GraphQLSwift's `buildSchema`, then resolvers
// attached by field name: configured sources on root fields, upstream-value readers on the rest.
// Every mismatch between the SDL and `gateways.graphql.fields` is a start-up error.
import GatewayCore
import GraphQL

/// Why the gateway schema cannot be used.
struct GatewaySchemaError: Error, CustomStringConvertible {
    let description: String
}

enum GatewaySchema {
    /// Builds the schema from `sdl` and wires each root field to its configured source.
    static func make(
        sdl: String, fields: [String: GraphQLFieldSourceConfig], send: @escaping UpstreamSend
    ) throws(GatewaySchemaError) -> GraphQLSchema {
        let schema: GraphQLSchema
        do {
            schema = try buildSchema(source: sdl)
        } catch {
            throw GatewaySchemaError(description: "the schema is not valid SDL: \(error)")
        }
        guard let query = schema.queryType else {
            throw GatewaySchemaError(description: "the schema has no Query type")
        }
        if let subscription = schema.subscriptionType {
            throw GatewaySchemaError(
                description: "type \(subscription.name): subscriptions are not supported over HTTP")
        }
        var sources: [String: FieldSource] = [:]
        for (name, config) in fields {
            sources[name] = try source(for: name, config: config, send: send)
        }
        var wired: Set<String> = []
        for root in [query, schema.mutationType].compactMap({ $0 }) {
            let definitions: GraphQLFieldMap
            do {
                definitions = try root.fields()
            } catch {
                throw GatewaySchemaError(description: "type \(root.name): \(error)")
            }
            for (name, field) in definitions {
                guard let source = sources[name] else {
                    throw GatewaySchemaError(
                        description: "\(root.name).\(name) has no source: add gateways.graphql.fields.\(name)")
                }
                try check(source, for: field, named: "\(root.name).\(name)", isQuery: root === query)
                wired.insert(name)
            }
            attach(to: root) { name in sources[name]?.resolver }
        }
        if let unused = sources.keys.sorted().first(where: { !wired.contains($0) }) {
            throw GatewaySchemaError(
                description: "gateways.graphql.fields.\(unused): the schema has no root field '\(unused)'")
        }
        for case let object as GraphQLObjectType in schema.typeMap.values
        where !object.name.hasPrefix("__") && object !== query && object !== schema.mutationType {
            attach(to: object) { _ in UpstreamValue.resolveNested }
        }
        let problems = validateSchema(schema: schema)
        if !problems.isEmpty {
            throw GatewaySchemaError(description: problems.map(\.message).joined(separator: "; "))
        }
        return schema
    }

    /// The source for one `gateways.graphql.fields` entry.
    static func source(
        for name: String, config: GraphQLFieldSourceConfig, send: @escaping UpstreamSend
    ) throws(GatewaySchemaError) -> FieldSource {
        switch config.kind {
        case .rest:
            guard let path = config.path else {
                throw GatewaySchemaError(description: "gateways.graphql.fields.\(name).path is required for kind rest")
            }
            do {
                return .rest(
                    RESTFieldSource(service: config.service, template: try RESTPathTemplate(parsing: path), send: send))
            } catch {
                throw GatewaySchemaError(description: "gateways.graphql.fields.\(name).path: \(error)")
            }
        case .graphql:
            let path = config.path ?? "/graphql"
            guard path.hasPrefix("/") else {
                throw GatewaySchemaError(
                    description: "gateways.graphql.fields.\(name).path: '\(path)' must start with '/'")
            }
            return .graphql(SubgraphFieldSource(service: config.service, path: path, send: send))
        }
    }

    private static func check(
        _ source: FieldSource, for field: GraphQLField, named: String, isQuery: Bool
    ) throws(GatewaySchemaError) {
        guard case .rest(let rest) = source else { return }
        guard isQuery else {
            throw GatewaySchemaError(description: "\(named): a rest source (HTTP GET) can only back a Query field")
        }
        for placeholder in rest.template.placeholders where field.args[placeholder] == nil {
            throw GatewaySchemaError(
                description: "\(named): the path uses {\(placeholder)} but the field has no argument '\(placeholder)'")
        }
    }

    /// Sets the resolver of each field of `type` (the type's field thunk builds new fields each time,
    /// so it is wrapped; this runs once, before the schema serves requests).
    private static func attach(to type: GraphQLObjectType, resolver: @escaping (String) -> GraphQLFieldResolve?) {
        let original = type.fields
        type.fields = {
            let fields = try original()
            for (name, field) in fields {
                if let resolve = resolver(name) { field.resolve = resolve }
            }
            return fields
        }
    }
}
