// In-process tests of GraphQL execution in the gateway: the real gateway SDL and resolvers, with the
// upstream calls answered by a fake so that every failure mode can be produced on demand.
import Foundation
import GatewayCore
import GraphQL
import ServiceClient
import Synchronization
import Testing

@testable import GraphQLGateway

/// Answers upstream calls from a closure and records them.
final class FakeUpstreams: Sendable {
    typealias Handler = @Sendable (String, UpstreamRequest) throws(GatewayError) -> UpstreamResponse
    let handler: Handler
    let calls = Mutex<[(service: String, request: UpstreamRequest, context: UpstreamCallContext)]>([])

    init(_ handler: @escaping Handler) { self.handler = handler }

    var send: UpstreamSend {
        { request, service, context async throws(GatewayError) -> UpstreamResponse in
            self.calls.withLock { $0.append((service, request, context)) }
            return try self.handler(service, request)
        }
    }

    static func json(_ text: String, status: Int = 200) -> UpstreamResponse {
        UpstreamResponse(status: status, headers: [("content-type", "application/json")], body: Array(text.utf8))
    }

    /// The demo services: users over REST, the catalog as a subgraph echoing canned data.
    static func demo(
        catalog: @escaping @Sendable (String) -> UpstreamResponse = { _ in json(#"{"data":{}}"#) }
    )
        -> FakeUpstreams
    {
        FakeUpstreams { service, request throws(GatewayError) in
            switch (service, request.path) {
            case ("users", "/users"):
                return json(#"[{"id":"1","name":"Ada Lovelace","email":"ada@example.com"},{"id":2,"name":"Grace"}]"#)
            case ("users", "/users/1"):
                return json(#"{"id":"1","name":"Ada Lovelace","email":"ada@example.com"}"#)
            case ("users", _):
                return json(#"{"title":"Not Found"}"#, status: 404)
            case ("catalog", "/graphql"):
                return catalog(String(decoding: request.body ?? [], as: UTF8.self))
            default:
                throw GatewayError(.internalError, "unexpected call \(service) \(request.path)")
            }
        }
    }
}

@Suite("GraphQL gateway: execution")
struct GraphQLEngineTests {
    static let fields = """
        {"users":{"service":"users","kind":"rest","path":"/users"},
         "user":{"service":"users","kind":"rest","path":"/users/{id}"},
         "products":{"service":"catalog","kind":"graphql","path":"/graphql"},
         "product":{"service":"catalog","kind":"graphql"}}
        """

    static func engine(_ upstreams: FakeUpstreams, maxDepth: Int = 10) throws -> GraphQLEngine {
        let sdl = try String(
            contentsOf: BuildProducts.repositoryRoot.appendingPathComponent("Protocols/graphql/gateway.graphql"),
            encoding: .utf8)
        let config = try JSONDecoder().decode([String: GraphQLFieldSourceConfig].self, from: Data(fields.utf8))
        return GraphQLEngine(
            schema: try GatewaySchema.make(sdl: sdl, fields: config, send: upstreams.send), maxDepth: maxDepth)
    }

    static func run(
        _ engine: GraphQLEngine, _ query: String, variables: [String: Map] = [:], allowMutations: Bool = true,
        upstream: UpstreamCallContext = UpstreamCallContext(requestID: "t")
    ) async -> GraphQLOutcome {
        await engine.run(
            GraphQLRequestParameters(query: query, variables: variables), upstream: upstream,
            allowMutations: allowMutations)
    }

    static func executed(_ outcome: GraphQLOutcome) throws -> (data: Map, errors: [GraphQLError]) {
        guard case .executed(let data, let errors) = outcome else {
            Issue.record("expected an executed outcome, got \(outcome)")
            throw CancellationError()
        }
        return (data, errors)
    }

    static func requestErrors(_ outcome: GraphQLOutcome) -> [GraphQLError] {
        guard case .requestErrors(let errors) = outcome else {
            Issue.record("expected request errors, got \(outcome)")
            return []
        }
        return errors
    }

    @Test func restAndSubgraphFieldsAreResolved() async throws {
        let upstreams = FakeUpstreams.demo { _ in
            FakeUpstreams.json(#"{"data":{"products":[{"id":"p1","name":"Espresso Machine","priceCents":24900}]}}"#)
        }
        let result = try Self.executed(
            await Self.run(try Self.engine(upstreams), "{ users { id name } products { id name priceCents } }"))
        #expect(result.errors.isEmpty)
        #expect(result.data["users"] == [["id": "1", "name": "Ada Lovelace"], ["id": "2", "name": "Grace"]])
        #expect(result.data["products"] == [["id": "p1", "name": "Espresso Machine", "priceCents": 24900]])
        let subgraphCall = try #require(upstreams.calls.withLock { $0.first { $0.service == "catalog" } })
        #expect(subgraphCall.request.method == "POST")
        let body = try JSONMap.decode(subgraphCall.request.body ?? [])
        let text = body["query"].string ?? ""
        #expect(GraphQLSubgraphOperationTests.squeezed(text) == "query { products { id name priceCents } }")
    }

    @Test func aliasesAreHonouredForBothKindsOfSource() async throws {
        let upstreams = FakeUpstreams.demo { _ in
            FakeUpstreams.json(#"{"data":{"p":{"label":"Coffee Grinder","id":"p2"}}}"#)
        }
        let result = try Self.executed(
            await Self.run(
                try Self.engine(upstreams),
                #"{ u: user(id: "1") { n: name email } p: product(id: "p2") { id label: name } }"#))
        #expect(result.errors.isEmpty)
        #expect(result.data["u"] == ["n": "Ada Lovelace", "email": "ada@example.com"])
        #expect(result.data["p"] == ["id": "p2", "label": "Coffee Grinder"])
    }

    @Test func unknownUserIsNullWithoutError() async throws {
        let upstreams = FakeUpstreams.demo()
        let result = try Self.executed(await Self.run(try Self.engine(upstreams), #"{ user(id: "999") { id } }"#))
        #expect(result.errors.isEmpty)
        #expect(result.data == ["user": nil])
        #expect(upstreams.calls.withLock { $0.map(\.request.path) } == ["/users/999"])
    }

    @Test func variablesAreForwardedToTheSubgraph() async throws {
        let upstreams = FakeUpstreams.demo { _ in FakeUpstreams.json(#"{"data":{"product":{"name":"Milk Frother"}}}"#) }
        let result = try Self.executed(
            await Self.run(
                try Self.engine(upstreams),
                "query($id: ID!, $other: ID!) { product(id: $id) { name } user(id: $other) { id } }",
                variables: ["id": "p3", "other": "x"]))
        #expect(result.data == ["product": ["name": "Milk Frother"], "user": nil])
        // Only the variables the forwarded field uses go to the subgraph.
        let call = try #require(upstreams.calls.withLock { $0.first { $0.service == "catalog" } })
        let body = try JSONMap.decode(call.request.body ?? [])
        #expect(body["variables"] == ["id": "p3"])
        #expect(body["query"].string?.hasPrefix("query($id: ID!)") == true)
    }

    @Test func callerIdentityAndRequestIDReachEveryUpstream() async throws {
        let upstreams = FakeUpstreams.demo { _ in FakeUpstreams.json(#"{"data":{"products":[]}}"#) }
        let identity = Identity(subject: "alice", scopes: ["users:read"], method: .jwt)
        _ = try Self.executed(
            await Self.run(
                try Self.engine(upstreams), "{ users { id } products { id } }",
                upstream: UpstreamCallContext(requestID: "req-1", identity: identity)))
        let calls = upstreams.calls.withLock { $0 }
        #expect(calls.count == 2)
        for call in calls {
            #expect(call.context.identity == identity)
            #expect(call.context.requestID == "req-1")
        }
    }

    @Test func upstreamFailuresBecomeFieldErrors() async throws {
        let upstreams = FakeUpstreams { service, request throws(GatewayError) in
            if request.path == "/users" { throw GatewayError(.upstreamConnectFailed, "connection refused") }
            throw GatewayError(.upstreamTimeout, "no answer within 10s")
        }
        let engine = try Self.engine(upstreams)
        // A nullable field: null, with an error at its path.
        let user = try Self.executed(await Self.run(engine, #"{ user(id: "1") { id } }"#))
        #expect(user.data == ["user": nil])
        #expect(user.errors.count == 1)
        #expect(user.errors.first?.extensions["code"] == "UPSTREAM_TIMEOUT")
        #expect(user.errors.first?.path.elements == [.key("user")])
        // A non-null root field: the whole data is null.
        let users = try Self.executed(await Self.run(engine, "{ users { id } }"))
        #expect(users.data == .null)
        #expect(users.errors.first?.extensions["code"] == "UPSTREAM_CONNECT_FAILED")
        #expect(users.errors.first?.extensions["service"] == "users")
    }

    @Test func unusableUpstreamAnswersBecomeFieldErrors() async throws {
        let upstreams = FakeUpstreams { service, _ throws(GatewayError) in
            service == "users" ? FakeUpstreams.json("<html>", status: 200) : FakeUpstreams.json("oops", status: 503)
        }
        let engine = try Self.engine(upstreams)
        let user = try Self.executed(await Self.run(engine, #"{ user(id: "1") { id } }"#))
        #expect(user.errors.first?.extensions["code"] == "UPSTREAM_ERROR")
        let product = try Self.executed(await Self.run(engine, #"{ product(id: "p1") { id } }"#))
        #expect(product.data == ["product": nil])
        #expect(product.errors.first?.extensions["upstreamStatus"] == 503)
    }

    @Test func subgraphErrorsAreMergedWithPaths() async throws {
        let upstreams = FakeUpstreams.demo { body in
            if body.contains("products") {
                return FakeUpstreams.json(
                    #"{"data":{"products":[{"id":"p1"}]},"errors":[{"message":"slow","path":["products",0],"#
                        + #""locations":[{"line":9,"column":9}]}]}"#)
            }
            return FakeUpstreams.json(
                #"{"data":{"product":null},"errors":[{"message":"boom","path":["product"],"extensions":{"code":"X"}}]}"#
            )
        }
        let result = try Self.executed(
            await Self.run(try Self.engine(upstreams), #"{ products { id } product(id: "p1") { id } }"#))
        #expect(result.data == ["products": [["id": "p1"]], "product": nil])
        let slow = try #require(result.errors.first { $0.message == "slow" })
        #expect(slow.path.elements == [.key("products"), .index(0)])
        #expect(slow.extensions["code"] == "SUBGRAPH_ERROR")
        #expect(slow.extensions["service"] == "catalog")
        #expect(slow.locations == [SourceLocation(line: 1, column: 3)])
        let boom = try #require(result.errors.first { $0.message == "boom" })
        #expect(boom.path.elements == [.key("product")])
        #expect(boom.extensions["code"] == "X")
    }

    @Test func requestErrorsCarryCodes() async throws {
        let engine = try Self.engine(.demo(), maxDepth: 3)
        #expect(
            Self.requestErrors(await Self.run(engine, "{ users { id ")).first?.extensions["code"]
                == "GRAPHQL_PARSE_FAILED")
        let invalid = Self.requestErrors(await Self.run(engine, "{ users { id nope } }"))
        #expect(invalid.first?.extensions["code"] == "GRAPHQL_VALIDATION_FAILED")
        #expect(invalid.first?.locations.isEmpty == false)
        let deep = Self.requestErrors(await Self.run(engine, "{ users { id { a { b } } } }"))
        #expect(deep.first?.extensions["code"] == "QUERY_TOO_DEEP")
        let missingVariable = Self.requestErrors(
            await Self.run(engine, "query($id: ID!) { user(id: $id) { id } }"))
        #expect(missingVariable.first?.extensions["code"] == "BAD_USER_INPUT")
        let ambiguous = Self.requestErrors(await Self.run(engine, "query A { users { id } } query B { users { id } }"))
        #expect(ambiguous.first?.extensions["code"] == "OPERATION_RESOLUTION_FAILURE")
        let mutation = "mutation { users { id } }"
        guard case .mutationNotAllowed = await Self.run(engine, mutation, allowMutations: false) else {
            Issue.record("a mutation over GET must be refused")
            return
        }
        #expect(
            Self.requestErrors(await Self.run(engine, mutation)).first?.extensions["code"]
                == "GRAPHQL_VALIDATION_FAILED")
    }

    @Test func schemaAndFieldConfigMustAgree() throws {
        let send = FakeUpstreams.demo().send
        let rest = try JSONDecoder().decode(
            GraphQLFieldSourceConfig.self, from: Data(#"{"service":"users","kind":"rest","path":"/users/{id}"}"#.utf8))
        let sdl = "type Query { user(id: ID!): String, other: String }"
        #expect(throws: GatewaySchemaError.self) {
            try GatewaySchema.make(sdl: sdl, fields: ["user": rest], send: send)
        }
        #expect(throws: GatewaySchemaError.self) {
            try GatewaySchema.make(sdl: "type Query { user: String }", fields: ["user": rest], send: send)
        }
        #expect(throws: GatewaySchemaError.self) {
            try GatewaySchema.make(sdl: "type Query { a: String }", fields: ["a": rest, "b": rest], send: send)
        }
        #expect(throws: GatewaySchemaError.self) {
            try GatewaySchema.make(sdl: "type Query {", fields: [:], send: send)
        }
        _ = try GatewaySchema.make(sdl: "type Query { user(id: ID!): String }", fields: ["user": rest], send: send)
    }
}
