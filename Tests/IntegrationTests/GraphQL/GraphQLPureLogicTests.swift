// Unit tests of the GraphQL gateway's pure parts: upstream path templates, query depth, the operation
// re-printed for a subgraph, and reading GraphQL-over-HTTP requests.
import GraphQL
import Testing

@testable import GraphQLGateway

@Suite("GraphQL gateway: REST path templates")
struct GraphQLRESTPathTemplateTests {
    static func arguments(_ pairs: (String, Map)...) -> Map {
        JSONMap.object(pairs.map { ($0.0, $0.1) })
    }

    @Test func placeholdersAreFilledAndPercentEncoded() throws {
        let template = try RESTPathTemplate(parsing: "/users/{id}")
        #expect(template.placeholders == ["id"])
        #expect(try template.fill(arguments: Self.arguments(("id", "1"))) == "/users/1")
        #expect(try template.fill(arguments: Self.arguments(("id", "a b/c?d"))) == "/users/a%20b%2Fc%3Fd")
        #expect(try template.fill(arguments: Self.arguments(("id", "é"))) == "/users/%C3%A9")
        // A dot-segment can never be produced from an argument.
        #expect(try template.fill(arguments: Self.arguments(("id", ".."))) == "/users/%2E%2E")
        #expect(try template.fill(arguments: Self.arguments(("id", .number(Number(42))))) == "/users/42")
    }

    @Test func otherScalarArgumentsBecomeQueryParameters() throws {
        let template = try RESTPathTemplate(parsing: "/orgs/{org}/users")
        let path = try template.fill(
            arguments: Self.arguments(
                ("org", "acme"), ("limit", .number(Number(10))), ("tag", .array(["a", "b c"])), ("skip", .null),
                ("active", .bool(true))))
        #expect(path == "/orgs/acme/users?limit=10&tag=a&tag=b%20c&active=true")
        let withQuery = try RESTPathTemplate(parsing: "/users?sort=name")
        #expect(try withQuery.fill(arguments: Self.arguments(("page", "2"))) == "/users?sort=name&page=2")
    }

    @Test func missingOrNonScalarArgumentsAreRefused() throws {
        let template = try RESTPathTemplate(parsing: "/users/{id}")
        #expect(throws: RESTPathTemplate.FillError.missingArgument("id")) {
            try template.fill(arguments: Self.arguments())
        }
        #expect(throws: RESTPathTemplate.FillError.missingArgument("id")) {
            try template.fill(arguments: Self.arguments(("id", .null)))
        }
        #expect(throws: RESTPathTemplate.FillError.notAScalar("id")) {
            try template.fill(arguments: Self.arguments(("id", .array(["1"]))))
        }
    }

    @Test func badTemplatesAreRefused() {
        for text in ["users/{id}", "/users/{id", "/users/id}", "/users/{}", "/users/{a-b}"] {
            #expect(throws: RESTPathTemplate.ParseError.self) { try RESTPathTemplate(parsing: text) }
        }
    }
}

@Suite("GraphQL gateway: query depth")
struct GraphQLQueryDepthTests {
    static func depth(_ query: String) throws -> Int {
        QueryDepth.maximumDepth(of: try parse(source: query))
    }

    @Test func nestedSelectionsCountOneLevelEach() throws {
        #expect(try Self.depth("{ __typename }") == 1)
        #expect(try Self.depth("{ users { id name } }") == 2)
        #expect(try Self.depth("{ users { id } products { id } }") == 2)
        #expect(try Self.depth("{ a { b { c { d } } } }") == 4)
    }

    @Test func fragmentsAreFollowedWithoutAddingALevel() throws {
        #expect(try Self.depth("{ users { ...U } } fragment U on User { id friends { id } }") == 3)
        #expect(try Self.depth("{ users { ... on User { id friends { id } } } }") == 3)
        #expect(try Self.depth("{ ...Q } fragment Q on Query { users { id } }") == 2)
    }

    @Test func fragmentCyclesAndIntrospectionDoNotCount() throws {
        #expect(try Self.depth("{ users { ...A } } fragment A on User { id ...B } fragment B on User { ...A }") == 2)
        let introspection = "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
        #expect(try Self.depth(introspection) == 0)
    }
}

@Suite("GraphQL gateway: nesting guard")
struct GraphQLQueryNestingTests {
    @Test func bracketsAreCountedOutsideStringsAndComments() {
        #expect(QueryNesting.maximumNesting(of: "{ users { id } }", limit: 10) == 2)
        #expect(QueryNesting.maximumNesting(of: #"{ a(x: [[{ y: 1 }]]) { b } }"#, limit: 10) == 5)
        #expect(QueryNesting.maximumNesting(of: #"{ a(s: "{{{{ \" [[[") }"#, limit: 10) == 2)
        #expect(QueryNesting.maximumNesting(of: "{ a(s: \"\"\"{{{ \\\"\"\" (((\"\"\") }", limit: 10) == 2)
        #expect(QueryNesting.maximumNesting(of: "{ a # {{{{{\n { b } }", limit: 10) == 2)
    }

    @Test func theScanStopsPastTheLimit() {
        let deep = String(repeating: "{a", count: 100_000) + String(repeating: "}", count: 100_000)
        #expect(QueryNesting.maximumNesting(of: deep, limit: 256) == 257)
        #expect(QueryNesting.limit(maxDepth: 10) == 74)
        #expect(QueryNesting.limit(maxDepth: 10_000) == 256)
    }
}

@Suite("GraphQL gateway: subgraph operations")
struct GraphQLSubgraphOperationTests {
    /// The subgraph operation for the root field with response key `key` of `query`.
    static func operation(_ query: String, key: String) throws -> SubgraphOperation {
        let document = try parse(source: query)
        let operation = try #require(document.definitions.compactMap { $0 as? OperationDefinition }.first)
        let fields = operation.selectionSet.selections.compactMap { $0 as? Field }
            .filter { ($0.alias?.value ?? $0.name.value) == key }
        return SubgraphOperation(fields: fields, operation: operation, fragments: document.fragments)
    }

    /// Whitespace-insensitive comparison.
    static func squeezed(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    @Test func aliasArgumentsAndUsedVariablesAreKept() throws {
        let op = try Self.operation(
            "query Q($id: ID!, $unused: Int, $flag: Boolean = true) { "
                + "p: product(id: $id) { id label: name priceCents @include(if: $flag) } users { id } }",
            key: "p")
        #expect(op.responseKey == "p")
        #expect(op.variableNames == ["id", "flag"])
        #expect(
            Self.squeezed(op.text)
                == "query($id: ID!, $flag: Boolean = true) { p: product(id: $id) { id label: name "
                + "priceCents @include(if: $flag) } }")
        // The result is itself a valid document.
        _ = try parse(source: op.text)
    }

    @Test func fragmentsAreIncludedTransitivelyWithTheirVariables() throws {
        let op = try Self.operation(
            "query($n: Int) { products { ...P } } fragment P on Product { id ...Q } "
                + "fragment Q on Product { name(n: $n) } fragment Unused on Product { id }",
            key: "products")
        #expect(op.variableNames == ["n"])
        let text = Self.squeezed(op.text)
        #expect(text.hasPrefix("query($n: Int) { products { ...P } }"))
        #expect(text.contains("fragment P on Product { id ...Q }"))
        #expect(text.contains("fragment Q on Product { name(n: $n) }"))
        #expect(!text.contains("Unused"))
    }

    @Test func repeatedSelectionsOfOneKeyAreMergedAndLiteralsSurvive() throws {
        let op = try Self.operation(
            #"{ product(id: "p\"1") { id } product(id: "p\"1") { name } }"#, key: "product")
        #expect(op.variableNames.isEmpty)
        #expect(Self.squeezed(op.text) == #"query { product(id: "p\"1") { id name } }"#)
    }

    @Test func rootDirectivesAreNotForwarded() throws {
        let op = try Self.operation(#"query($s: Boolean!) { products @skip(if: $s) { id } }"#, key: "products")
        #expect(op.variableNames.isEmpty)
        #expect(Self.squeezed(op.text) == "query { products { id } }")
    }
}

@Suite("GraphQL gateway: reading HTTP requests")
struct GraphQLHTTPRequestTests {
    @Test func postBodiesAreRead() throws {
        let body = #"{"query":"query Q($id: ID!) { user(id: $id) { id } }","variables":{"id":"1"},"operationName":"Q"}"#
        let parameters = try GraphQLHTTPRequest.parameters(jsonBody: Array(body.utf8))
        #expect(parameters.query == "query Q($id: ID!) { user(id: $id) { id } }")
        #expect(parameters.variables == ["id": "1"])
        #expect(parameters.operationName == "Q")
        let minimal = try GraphQLHTTPRequest.parameters(
            jsonBody: Array(#"{"query":"{ users { id } }","variables":null,"operationName":null}"#.utf8))
        #expect(minimal.variables.isEmpty && minimal.operationName == nil)
    }

    @Test func malformedPostBodiesAreRefused() {
        let bodies = [
            "{not json", "[1,2]", #"{"variables":{}}"#, #"{"query":42}"#, #"{"query":"{ a }","variables":[1]}"#,
            #"{"query":"{ a }","operationName":1}"#, #"{"query":"{ a }","extensions":"x"}"#, "",
        ]
        for body in bodies {
            #expect(throws: MalformedGraphQLRequest.self, "\(body)") {
                try GraphQLHTTPRequest.parameters(jsonBody: Array(body.utf8))
            }
        }
    }

    @Test func getParametersAreFormDecoded() throws {
        let parameters = try GraphQLHTTPRequest.parameters(
            queryString:
                "query=query+Q(%24id%3A+ID!)%7Buser(id%3A%24id)%7Bname%7D%7D&variables=%7B%22id%22%3A%221%22%7D"
                + "&operationName=Q")
        #expect(parameters.query == "query Q($id: ID!){user(id:$id){name}}")
        #expect(parameters.variables == ["id": "1"])
        #expect(parameters.operationName == "Q")
        #expect(throws: MalformedGraphQLRequest.self) { try GraphQLHTTPRequest.parameters(queryString: nil) }
        #expect(throws: MalformedGraphQLRequest.self) {
            try GraphQLHTTPRequest.parameters(queryString: "query=%7Ba%7D&variables=nope")
        }
    }

    @Test func responseMediaTypeIsNegotiated() {
        #expect(GraphQLResponseMediaType.negotiate(accept: nil) == .json)
        #expect(GraphQLResponseMediaType.negotiate(accept: "*/*") == .json)
        #expect(GraphQLResponseMediaType.negotiate(accept: "application/json") == .json)
        #expect(GraphQLResponseMediaType.negotiate(accept: "application/graphql-response+json") == .graphQLResponse)
        #expect(
            GraphQLResponseMediaType.negotiate(accept: "application/graphql-response+json, application/json;q=0.9")
                == .graphQLResponse)
        #expect(
            GraphQLResponseMediaType.negotiate(accept: "application/graphql-response+json;q=0.5, application/json")
                == .json)
        #expect(GraphQLResponseMediaType.negotiate(accept: "application/graphql-response+json;q=0") == .json)
        #expect(GraphQLHTTPHandler.isJSON("application/json; charset=utf-8"))
        #expect(!GraphQLHTTPHandler.isJSON("application/x-www-form-urlencoded"))
    }
}
