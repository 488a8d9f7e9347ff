// End-to-end tests of graphql-gateway: real demo-services and gateway processes on port 0, queried
// over GraphQL over HTTP (POST and GET) with AsyncHTTPClient.
import AsyncHTTPClient
import Foundation
import GatewayCore
import NIOCore
import NIOHTTP1
import Testing

@Suite("GraphQL gateway", .serialized)
struct GraphQLGatewayTests {
    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
        var data: [String: Any]? { json?["data"] as? [String: Any] }
        var errors: [[String: Any]] { json?["errors"] as? [[String: Any]] ?? [] }
        var codes: [String] { errors.compactMap { ($0["extensions"] as? [String: Any])?["code"] as? String } }
    }

    static func post(
        _ client: HTTPClient, _ gateway: GatewayProcess, body: String, headers: [(String, String)] = []
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: gateway.baseURL + "/graphql")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(Array(body.utf8))
        return try await send(client, request)
    }

    static func post(
        _ client: HTTPClient, _ gateway: GatewayProcess, query: String, variables: [String: Any]? = nil,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var object: [String: Any] = ["query": query]
        if let variables { object["variables"] = variables }
        let body = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        return try await post(client, gateway, body: body, headers: headers)
    }

    static func get(
        _ client: HTTPClient, _ gateway: GatewayProcess, parameters: [(String, String)],
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var components = URLComponents(string: gateway.baseURL + "/graphql")!
        components.queryItems = parameters.map { URLQueryItem(name: $0.0, value: $0.1) }
        var request = HTTPClientRequest(url: components.url!.absoluteString)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return try await send(client, request)
    }

    static func send(_ client: HTTPClient, _ request: HTTPClientRequest) async throws -> Reply {
        let response = try await client.execute(request, timeout: .seconds(15))
        let buffer = try await response.body.collect(upTo: 1 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: buffer))
    }

    /// Runs `body` against demo-services and a graphql-gateway configured from portico.yaml.
    static func withGateway(
        configure: (String) -> String = { $0 }, _ body: (HTTPClient, GatewayProcess) async throws -> Void
    ) async throws {
        let demo = try await DemoServicesProcess.start()
        let gateway: GatewayProcess
        do {
            gateway = try await GatewayProcess.start("graphql", configYAML: configure(TestConfig.yaml(demo: demo)))
        } catch {
            await demo.stop()
            throw error
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await body(client, gateway)
        } catch {
            try? await client.shutdown()
            await gateway.stop()
            await demo.stop()
            throw error
        }
        try await client.shutdown()
        await gateway.stop()
        await demo.stop()
    }

    @Test func queriesAreAnsweredFromTheUsersServiceAndTheCatalogSubgraph() async throws {
        try await Self.withGateway { client, gateway in
            let both = try await Self.post(
                client, gateway, query: "{ users { id name } products { id name priceCents } }")
            #expect(both.status == 200)
            #expect(both.headers.first(name: "content-type")?.hasPrefix("application/json") == true)
            #expect(both.errors.isEmpty, "\(both.body)")
            let users = both.data?["users"] as? [[String: Any]] ?? []
            #expect(users.first?["id"] as? String == "1")
            #expect(users.first?["name"] as? String == "Ada Lovelace")
            #expect(users.first?["email"] == nil)
            let products = both.data?["products"] as? [[String: Any]] ?? []
            #expect(products.count == 3)
            #expect(products.first?["name"] as? String == "Espresso Machine")
            #expect(products.first?["priceCents"] as? Int == 24_900)

            let one = try await Self.post(
                client, gateway,
                query: "query($p: ID!) { user(id: \"1\") { name email } item: product(id: $p) { name } }",
                variables: ["p": "p2"], headers: [("accept", "application/graphql-response+json")])
            #expect(one.status == 200)
            #expect(one.headers.first(name: "content-type")?.hasPrefix("application/graphql-response+json") == true)
            let user = one.data?["user"] as? [String: Any]
            #expect(user?["email"] as? String == "ada@example.com")
            #expect((one.data?["item"] as? [String: Any])?["name"] as? String == "Coffee Grinder")

            let missing = try await Self.post(
                client, gateway, query: #"{ user(id: "999") { id } product(id: "nope") { id } }"#)
            #expect(missing.status == 200)
            #expect(missing.errors.isEmpty, "\(missing.body)")
            #expect(missing.data?["user"] is NSNull)
            #expect(missing.data?["product"] is NSNull)
        }
    }

    @Test func getRunsQueriesAndRefusesMutations() async throws {
        try await Self.withGateway { client, gateway in
            let query = try await Self.get(
                client, gateway,
                parameters: [("query", "query Q($id: ID!) { user(id: $id) { name } }"), ("variables", #"{"id":"3"}"#)])
            #expect(query.status == 200)
            #expect((query.data?["user"] as? [String: Any])?["name"] as? String == "Alan Turing")

            let mutation = try await Self.get(client, gateway, parameters: [("query", "mutation { users { id } }")])
            #expect(mutation.status == 405)
            #expect(mutation.headers.first(name: "allow") == "POST")
            #expect(mutation.codes == ["BAD_REQUEST"])

            let noQuery = try await Self.get(client, gateway, parameters: [])
            #expect(noQuery.status == 400)
        }
    }

    @Test func badRequestsGetGraphQLErrors() async throws {
        try await Self.withGateway { client, gateway in
            let parse = try await Self.post(
                client, gateway, query: "{ users { id ", headers: [("accept", "application/graphql-response+json")])
            #expect(parse.status == 400)
            #expect(parse.codes == ["GRAPHQL_PARSE_FAILED"])
            #expect(parse.json?["data"] == nil)

            let parseAsJSON = try await Self.post(client, gateway, query: "{ users { id ")
            #expect(parseAsJSON.status == 200)
            #expect(parseAsJSON.codes == ["GRAPHQL_PARSE_FAILED"])

            let invalid = try await Self.post(
                client, gateway, query: "{ users { id password } }",
                headers: [("accept", "application/graphql-response+json")])
            #expect(invalid.status == 400)
            #expect(invalid.codes == ["GRAPHQL_VALIDATION_FAILED"])

            let deep = try await Self.post(
                client, gateway, query: "{ users { id { a { b { c { d { e { f { g { h { i { j } } } } } } } } } } } }")
            #expect(deep.codes == ["QUERY_TOO_DEEP"])
            // Nested far beyond what a recursive parser survives: refused before parsing.
            let nested = String(repeating: "{ a ", count: 50_000) + String(repeating: "}", count: 50_000)
            let hostile = try await Self.post(client, gateway, query: nested)
            #expect(hostile.codes == ["QUERY_TOO_DEEP"])

            let malformed = try await Self.post(client, gateway, body: #"{"query": "{ users { id } }""#)
            #expect(malformed.status == 400)
            #expect(malformed.codes == ["BAD_REQUEST"])

            let tooLarge = try await Self.post(
                client, gateway,
                body: #"{"query":"{ users { id } }","pad":""# + String(repeating: "x", count: 1_100_000) + #""}"#)
            #expect(tooLarge.status == 413)
            #expect(tooLarge.codes == ["PAYLOAD_TOO_LARGE"])
        }
    }

    @Test func authPolicyIsApplied() async throws {
        let schemaLine = "    schema: Protocols/graphql/gateway.graphql"
        let requireJWT: (String) -> String = {
            $0.replacingOccurrences(
                of: schemaLine, with: schemaLine + "\n    auth: { require: jwt, scopes: [\"graphql:read\"] }")
        }
        try await Self.withGateway(configure: requireJWT) { client, gateway in
            let anonymous = try await Self.post(client, gateway, query: "{ users { id } }")
            #expect(anonymous.status == 401)
            #expect(anonymous.codes == ["UNAUTHENTICATED"])

            let noScope = try await TokenMinter.hs256(
                secret: TestConfig.demoSecret, subject: "bob", issuer: "portico-demo", audience: "portico", kid: "demo")
            let forbidden = try await Self.post(
                client, gateway, query: "{ users { id } }", headers: [("authorization", "Bearer \(noScope)")])
            #expect(forbidden.status == 403)
            #expect(forbidden.codes == ["PERMISSION_DENIED"])

            let token = try await TokenMinter.hs256(
                secret: TestConfig.demoSecret, subject: "alice", scopes: ["graphql:read"], issuer: "portico-demo",
                audience: "portico", kid: "demo")
            let allowed = try await Self.post(
                client, gateway, query: "{ users { id } }", headers: [("authorization", "Bearer \(token)")])
            #expect(allowed.status == 200)
            #expect((allowed.data?["users"] as? [Any])?.count == 3)
        }
    }
}
