// One GraphQL request, protocol-independent: guard nesting, parse, pick the operation, refuse mutations where the
// transport forbids them, enforce the depth limit, validate, execute against the gateway schema.
import GatewayCore
import GraphQL
import ServiceClient

/// A GraphQL request as received (from a POST body or GET parameters).
struct GraphQLRequestParameters: Sendable, Equatable {
    var query: String
    var variables: [String: Map]
    var operationName: String?

    init(query: String, variables: [String: Map] = [:], operationName: String? = nil) {
        self.query = query
        self.variables = variables
        self.operationName = operationName
    }
}

/// What became of a request.
enum GraphQLOutcome: Sendable {
    /// The request failed before execution (parse, validation, depth, variables): no `data`.
    case requestErrors([GraphQLError])
    /// The operation ran; `data` may be null when a non-null field failed.
    case executed(data: Map, errors: [GraphQLError])
    /// A mutation arrived on a transport that may only run queries (HTTP GET).
    case mutationNotAllowed
}

struct GraphQLEngine: Sendable {
    let schema: GraphQLSchema
    let maxDepth: Int

    func run(
        _ request: GraphQLRequestParameters, upstream: UpstreamCallContext, allowMutations: Bool
    ) async -> GraphQLOutcome {
        let nestingLimit = QueryNesting.limit(maxDepth: maxDepth)
        if QueryNesting.maximumNesting(of: request.query, limit: nestingLimit) > nestingLimit {
            return .requestErrors([
                .request(
                    "the query nests brackets more than \(nestingLimit) levels deep",
                    code: GraphQLErrorCode.queryTooDeep)
            ])
        }
        let document: Document
        do {
            document = try parse(source: Source(body: request.query, name: "GraphQL request"))
        } catch let error as GraphQLError {
            // The library's message ends with an excerpt of the source; the locations say where.
            let message = error.message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? error.message
            return .requestErrors([.request(message, code: GraphQLErrorCode.parseFailed, locations: error.locations)])
        } catch {
            return .requestErrors([.request("\(error)", code: GraphQLErrorCode.parseFailed)])
        }
        let operation: OperationDefinition
        switch Self.selectOperation(in: document, named: request.operationName) {
        case .success(let selected): operation = selected
        case .failure(let error): return .requestErrors([error])
        }
        switch operation.operation {
        case .query: break
        case .mutation:
            guard allowMutations else { return .mutationNotAllowed }
            if schema.mutationType == nil {
                return .requestErrors([
                    .request("this schema has no mutations", code: GraphQLErrorCode.validationFailed)
                ])
            }
        case .subscription:
            return .requestErrors([
                .request("subscriptions are not supported over HTTP", code: GraphQLErrorCode.validationFailed)
            ])
        }
        let depth = QueryDepth.maximumDepth(of: document)
        if depth > maxDepth {
            return .requestErrors([
                .request(
                    "the query is \(depth) levels deep; the limit is \(maxDepth)", code: GraphQLErrorCode.queryTooDeep)
            ])
        }
        let problems = validate(schema: schema, ast: document)
        if !problems.isEmpty {
            return .requestErrors(problems.map { $0.withCode(GraphQLErrorCode.validationFailed, replacing: true) })
        }
        let scope = RequestScope(upstream: upstream, variables: request.variables)
        let result: GraphQLResult
        do {
            result = try await execute(
                schema: schema, documentAST: document, rootValue: (), context: scope,
                variableValues: request.variables, operationName: request.operationName)
        } catch {
            return .executed(data: .null, errors: [.request("execution failed", code: GraphQLErrorCode.internalError)])
        }
        let errors = result.errors + scope.reportedErrors
        if let data = result.data { return .executed(data: data, errors: errors) }
        // No data: either the variables were refused before execution (no path), or a non-null root
        // field failed and nulled the whole result (the error has the field's path).
        if errors.contains(where: { !$0.path.elements.isEmpty }) { return .executed(data: .null, errors: errors) }
        return .requestErrors(errors.map { $0.withCode(GraphQLErrorCode.badUserInput) })
    }

    /// The operation to run: the one named, or the only one.
    static func selectOperation(in document: Document, named name: String?) -> Result<OperationDefinition, GraphQLError>
    {
        let operations = document.definitions.compactMap { $0 as? OperationDefinition }
        if let name {
            guard let match = operations.first(where: { $0.name?.value == name }) else {
                return .failure(
                    .request("unknown operation named \"\(name)\"", code: GraphQLErrorCode.operationResolutionFailure))
            }
            return .success(match)
        }
        switch operations.count {
        case 0:
            return .failure(
                .request("the document contains no operation", code: GraphQLErrorCode.operationResolutionFailure))
        case 1:
            return .success(operations[0])
        default:
            return .failure(
                .request(
                    "the document contains several operations: send operationName",
                    code: GraphQLErrorCode.operationResolutionFailure))
        }
    }
}
