// Where a root field's value comes from (`gateways.graphql.fields`): a REST resource or a GraphQL
// subgraph, reached through ServiceClient with the caller's identity and trace propagated.
import GatewayCore
import GraphQL
import ServiceClient

/// Sends one buffered request to a declared service (``ServiceClient/send`` in production).
typealias UpstreamSend =
    @Sendable (UpstreamRequest, String, UpstreamCallContext) async throws(GatewayError)
    -> UpstreamResponse

/// The resolver behind one configured root field.
enum FieldSource: Sendable {
    case rest(RESTFieldSource)
    case graphql(SubgraphFieldSource)

    var service: String {
        switch self {
        case .rest(let source): return source.service
        case .graphql(let source): return source.service
        }
    }

    /// The resolver to attach to the root field.
    var resolver: GraphQLFieldResolve {
        { _, arguments, context, info in
            guard let scope = context as? RequestScope else {
                throw GraphQLError.field("no request scope", code: GraphQLErrorCode.internalError, info: info)
            }
            switch self {
            case .rest(let source): return try await source.resolve(arguments: arguments, scope: scope, info: info)
            case .graphql(let source): return try await source.resolve(scope: scope, info: info)
            }
        }
    }
}

/// `kind: rest`: GET the filled path; the JSON body is the field's value.
struct RESTFieldSource: Sendable {
    let service: String
    let template: RESTPathTemplate
    let send: UpstreamSend

    func resolve(arguments: Map, scope: RequestScope, info: GraphQLResolveInfo) async throws -> (any Sendable)? {
        let path: String
        do {
            path = try template.fill(arguments: arguments)
        } catch {
            throw GraphQLError.field(error.description, code: GraphQLErrorCode.badUserInput, info: info)
        }
        let request = UpstreamRequest(method: "GET", path: path, headers: [("Accept", "application/json")])
        let response: UpstreamResponse
        do {
            response = try await send(request, service, scope.upstream)
        } catch {
            throw GraphQLError.field(error, service: service, info: info)
        }
        switch response.status {
        case 200..<300:
            if response.body.isEmpty { return nil }
            guard let value = try? JSONMap.decode(response.body) else {
                throw GraphQLError.field(
                    "the \(service) service answered a body that is not JSON",
                    code: GraphQLErrorCode.code(for: .upstreamError), info: info,
                    extensions: ["service": .string(service)])
            }
            return UpstreamValue.wrap(value, as: info.returnType, keys: .fieldName)
        case 404 where !(info.returnType is GraphQLNonNull):
            return nil
        default:
            throw Self.statusError(response.status, service: service, info: info)
        }
    }

    /// A field error for an upstream answer that is not a success.
    static func statusError(_ status: Int, service: String, info: GraphQLResolveInfo) -> GraphQLError {
        let code: String
        switch status {
        case 401: code = GraphQLErrorCode.code(for: .unauthenticated)
        case 403: code = GraphQLErrorCode.code(for: .permissionDenied)
        case 404: code = GraphQLErrorCode.notFound
        case 429: code = GraphQLErrorCode.code(for: .rateLimited)
        default: code = GraphQLErrorCode.code(for: .upstreamError)
        }
        return GraphQLError.field(
            "the \(service) service answered HTTP \(status)", code: code, info: info,
            extensions: ["service": .string(service), "upstreamStatus": .number(Number(status))])
    }
}

/// `kind: graphql`: forward the client's selection of the field to a subgraph and take
/// `data.<responseKey>`; the subgraph's errors join the response's errors.
struct SubgraphFieldSource: Sendable {
    let service: String
    let path: String
    let send: UpstreamSend

    private struct Body: Encodable {
        let query: String
        let variables: [String: Map]?
    }

    func resolve(scope: RequestScope, info: GraphQLResolveInfo) async throws -> (any Sendable)? {
        let operation = SubgraphOperation(fields: info.fieldASTs, operation: info.operation, fragments: info.fragments)
        var variables: [String: Map] = [:]
        for name in operation.variableNames { variables[name] = scope.variables[name] }
        let body: [UInt8]
        do {
            body = try JSONMap.encode(Body(query: operation.text, variables: variables.isEmpty ? nil : variables))
        } catch {
            throw GraphQLError.field(
                "cannot encode the subgraph request", code: GraphQLErrorCode.internalError, info: info)
        }
        let request = UpstreamRequest(
            method: "POST", path: path,
            headers: [
                ("Content-Type", "application/json"),
                ("Accept", "application/graphql-response+json, application/json;q=0.9"),
            ],
            body: body)
        let response: UpstreamResponse
        do {
            response = try await send(request, service, scope.upstream)
        } catch {
            throw GraphQLError.field(error, service: service, info: info)
        }
        guard let decoded = try? JSONMap.decode(response.body), case .dictionary(let result) = decoded,
            result["data"] != nil || result["errors"] != nil
        else {
            if (200..<300).contains(response.status) {
                throw GraphQLError.field(
                    "the \(service) subgraph answered something that is not a GraphQL response",
                    code: GraphQLErrorCode.code(for: .upstreamError), info: info,
                    extensions: ["service": .string(service)])
            }
            throw RESTFieldSource.statusError(response.status, service: service, info: info)
        }
        let errors = (result["errors"]?.array ?? []).map { Self.subgraphError($0, service: service, info: info) }
        let value = result["data"]?.dictionary?[operation.responseKey] ?? .null
        if value.isNull || value.isUndefined {
            guard !errors.isEmpty else { return nil }
            // The field fails with the subgraph's error for it (else its first); the rest are reported.
            let own = errors.firstIndex { $0.path.elements == info.path.elements } ?? errors.startIndex
            var others = errors
            let error = others.remove(at: own)
            scope.report(others)
            throw error
        }
        scope.report(errors)
        return UpstreamValue.wrap(value, as: info.returnType, keys: .responseKey)
    }

    /// One entry of a subgraph's `errors`, as an error of the gateway's response: same message and
    /// path (the subgraph answered under the same response key), the subgraph's extensions plus
    /// `service`, and `code` SUBGRAPH_ERROR when the subgraph gave none. Subgraph locations refer to
    /// the forwarded document, so the root field's location is used instead.
    static func subgraphError(_ entry: Map, service: String, info: GraphQLResolveInfo) -> GraphQLError {
        let message = entry.dictionary?["message"]?.string ?? "the \(service) subgraph reported an error"
        var path: [any IndexPathElement] = []
        for element in entry.dictionary?["path"]?.array ?? [] {
            if let key = element.string {
                path.append(key)
            } else if case .number(let number) = element {
                path.append(number.intValue)
            }
        }
        var extensions: [String: Map] = [:]
        for (key, value) in entry.dictionary?["extensions"]?.dictionary ?? [:] { extensions[key] = value }
        extensions["service"] = .string(service)
        if extensions["code"] == nil { extensions["code"] = .string(GraphQLErrorCode.subgraphError) }
        let located = GraphQLError(message: message, nodes: info.fieldASTs)
        return GraphQLError(
            message: message, locations: located.locations, path: path.isEmpty ? info.path : IndexPath(path),
            extensions: extensions)
    }
}
