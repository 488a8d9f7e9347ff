// The demo "catalog" GraphQL subgraph served over HTTP (GraphQL over HTTP, application/json):
// POST /graphql with {query, variables, operationName}, GET /graphql?query=…, and GET /healthz.

import Foundation
import GraphQL
public import Hummingbird
public import Logging

/// Executes GraphQL requests against the catalog schema and maps them to HTTP responses.
struct CatalogHTTPHandler: Sendable {
    let schema: GraphQLSchema

    /// `POST /graphql`: a JSON body `{query, variables?, operationName?}`. The Content-Type is not checked, so that
    /// `curl -d '{"query":"{ products { id } }"}'` (sent as form-urlencoded) works too.
    func post(_ request: Request) async -> Response {
        let data: Data
        switch await DemoHTTP.readBody(request) {
        case .success(let body): data = body
        case .failure(let failure): return failure.response
        }
        guard let body = try? JSONDecoder().decode(PostBody.self, from: data) else {
            return Self.requestError("body must be a JSON object with a string \"query\"", status: .badRequest)
        }
        return await execute(query: body.query, variables: body.variables ?? [:], operationName: body.operationName)
    }

    /// `GET /graphql?query=…&variables=<json>&operationName=…`. Only queries are allowed over GET.
    func get(_ request: Request) async -> Response {
        let parameters = request.uri.queryParameters
        guard let query = parameters["query"].map(String.init), !query.isEmpty else {
            return Self.requestError("missing query parameter \"query\"", status: .badRequest)
        }
        var variables: [String: Map] = [:]
        if let text = parameters["variables"].map(String.init), !text.isEmpty {
            guard let decoded = try? JSONDecoder().decode([String: Map].self, from: Data(text.utf8)) else {
                return Self.requestError("\"variables\" must be a JSON object", status: .badRequest)
            }
            variables = decoded
        }
        let operationName = parameters["operationName"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        if Self.isMutation(query: query, operationName: operationName) {
            var response = Self.requestError("mutations are not allowed over GET", status: .methodNotAllowed)
            response.headers[.allow] = "POST"
            return response
        }
        return await execute(query: query, variables: variables, operationName: operationName)
    }

    /// Runs the operation. Every well-formed request answers 200 with `{data?, errors?}`.
    func execute(query: String, variables: [String: Map], operationName: String?) async -> Response {
        let result: GraphQLResult
        do {
            result = try await graphql(
                schema: schema,
                request: query,
                variableValues: variables,
                operationName: operationName
            )
        } catch let error as GraphQLError {
            result = GraphQLResult(errors: [error])
        } catch {
            result = GraphQLResult(errors: [GraphQLError(message: String(describing: error))])
        }
        guard let data = try? GraphQLJSONEncoder().encode(result) else {
            return Self.requestError("could not encode the result", status: .internalServerError)
        }
        return DemoHTTP.json(data: data)
    }

    /// True if the selected operation of `query` is a mutation (or subscription): not allowed over GET.
    static func isMutation(query: String, operationName: String?) -> Bool {
        guard let document = try? parse(source: Source(body: query, name: "GraphQL request")) else { return false }
        let operations = document.definitions.compactMap { $0 as? OperationDefinition }
        let selected = operations.first { operation in
            operationName == nil || operation.name?.value == operationName
        }
        guard let selected else { return false }
        return selected.operation != .query
    }

    /// A request-level failure as a GraphQL response `{"errors":[{"message":…}]}`.
    static func requestError(_ message: String, status: HTTPResponse.Status) -> Response {
        let result = GraphQLResult(errors: [GraphQLError(message: message)])
        let data = (try? GraphQLJSONEncoder().encode(result)) ?? Data(#"{"errors":[{"message":"bad request"}]}"#.utf8)
        return DemoHTTP.json(data: data, status: status)
    }

    struct PostBody: Decodable {
        var query: String
        var variables: [String: Map]?
        var operationName: String?
    }
}

/// Builds the catalog GraphQL service as a Hummingbird application.
///
/// - Parameters:
///   - host: address to bind (default `127.0.0.1`).
///   - port: port to bind (default 9103); `0` binds an ephemeral port.
///   - store: the products served.
///   - logger: the application's logger (default label `demo-services.catalog`).
///   - onServerRunning: called once the server listens, with the port actually bound.
/// - Throws: if the schema cannot be built (a programming error).
public func makeCatalogApplication(
    host: String = "127.0.0.1",
    port: Int = 9103,
    store: CatalogStore = CatalogStore(),
    logger: Logger? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> DemoApplication {
    let handler = CatalogHTTPHandler(schema: try CatalogSchema.make(store: store))
    let router = Router(context: BasicRequestContext.self)
    DemoHTTP.addHealth(to: router, service: "catalog")
    router.post("/graphql") { request, _ in await handler.post(request) }
    router.get("/graphql") { request, _ in await handler.get(request) }
    return DemoHTTP.application(
        router: router, name: "catalog", host: host, port: port, logger: logger, onServerRunning: onServerRunning)
}
