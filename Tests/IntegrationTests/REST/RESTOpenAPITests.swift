// Routes generated from an OpenAPI document, through the demo deployment's rest-gateway: every
// operation of Protocols/openapi/users.yaml is served under /v1, and requests that do not match the
// document are refused with a problem naming the field before they reach the users service.
import Foundation
import GatewayCore
import Testing

@Suite("REST routes from OpenAPI", .serialized)
struct RESTOpenAPITests {
    @Test func operationsBecomeValidatedRoutes() async throws {
        let demo = try await DemoServicesProcess.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: TestConfig.yaml(demo: demo))
        let base = gateway.baseURL
        #expect(try await RESTGatewayTests.get("\(base)/v1/users").status == 200)
        let one = try await RESTGatewayTests.get("\(base)/v1/users/2")
        #expect(RESTGatewayTests.json(one.body)["name"] as? String == "Grace Hopper")

        // The document's security: createUser needs a JWT with users:write.
        let writer = try await TokenMinter.hs256(
            secret: TestConfig.demoSecret, subject: "alice", scopes: ["users:write"], issuer: "portico-demo",
            audience: "portico", kid: "demo")
        let noScope = try await TokenMinter.hs256(
            secret: TestConfig.demoSecret, subject: "bob", issuer: "portico-demo", audience: "portico", kid: "demo")
        let good = Array(#"{"name":"Lin","email":"lin@example.com"}"#.utf8)
        let json = ("Content-Type", "application/json")
        #expect(
            try await RESTGatewayTests.get("\(base)/v1/users", headers: [json], method: .POST, body: good).status == 401
        )
        #expect(
            try await RESTGatewayTests.get(
                "\(base)/v1/users", headers: [json, ("Authorization", "Bearer \(noScope)")], method: .POST, body: good
            ).status == 403)
        let auth = ("Authorization", "Bearer \(writer)")
        #expect(
            try await RESTGatewayTests.get("\(base)/v1/users", headers: [json, auth], method: .POST, body: good).status
                == 201)

        // Body checked against the schema: the failing field is named.
        let missing = try await RESTGatewayTests.get(
            "\(base)/v1/users", headers: [json, auth], method: .POST, body: Array(#"{"email":"x@example.com"}"#.utf8))
        #expect(missing.status == 400)
        #expect(RESTGatewayTests.json(missing.body)["field"] as? String == "body.name")
        let badEmail = try await RESTGatewayTests.get(
            "\(base)/v1/users", headers: [json, auth], method: .POST,
            body: Array(#"{"name":"Lin","email":"not an address"}"#.utf8))
        #expect(badEmail.status == 400)
        #expect(RESTGatewayTests.json(badEmail.body)["field"] as? String == "body.email")
        let noBody = try await RESTGatewayTests.get("\(base)/v1/users", headers: [json, auth], method: .POST)
        #expect(noBody.status == 400)
        let wrongType = try await RESTGatewayTests.get(
            "\(base)/v1/users", headers: [("Content-Type", "text/plain"), auth], method: .POST, body: good)
        #expect(wrongType.status == 415)

        // The generated routes are listed on the admin listener.
        let routes = try await Resilience.call(gateway.adminURL + "/routes").text
        #expect(routes.contains("v1-createUser"))
        await gateway.stop()
        await demo.stop()
    }

    static let itemsSpec = """
        openapi: 3.0.3
        info: { title: items, version: "1" }
        paths:
          /echo/items/{id}:
            get:
              operationId: getItem
              parameters:
                - { name: id, in: path, required: true, schema: { type: integer } }
                - { name: limit, in: query, schema: { type: integer, maximum: 10 } }
                - { name: X-Tenant, in: header, required: true, schema: { type: string, enum: [a, b] } }
              responses: { "200": { description: the item } }
        """

    @Test func parametersAreCheckedBeforeTheService() async throws {
        let upstream = try await TestUpstream.start()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portico-openapi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let spec = dir.appendingPathComponent("items.yaml").path
        try Self.itemsSpec.write(toFile: spec, atomically: true, encoding: .utf8)
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  echo: { endpoints: ["http://127.0.0.1:\(upstream.port)"] }
                gateways:
                  rest:
                    openapi: [{ spec: "\(spec)", service: echo, pathPrefix: /api }]
                """)
        let tenant = ("X-Tenant", "a")
        let ok = try await Resilience.call(gateway.baseURL + "/api/echo/items/7?limit=3", headers: [tenant])
        #expect(ok.status == 200)
        let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(ok.body))
        #expect(echoed.path == "/echo/items/7?limit=3")
        for (url, field) in [
            ("/api/echo/items/abc", "path.id"), ("/api/echo/items/7?limit=11", "query.limit"),
            ("/api/echo/items/7?limit=x", "query.limit"),
        ] {
            let reply = try await Resilience.call(gateway.baseURL + url, headers: [tenant])
            #expect(reply.status == 400)
            #expect(RESTGatewayTests.json(reply.body)["field"] as? String == field)
        }
        let noTenant = try await Resilience.call(gateway.baseURL + "/api/echo/items/7")
        #expect(noTenant.status == 400)
        #expect(RESTGatewayTests.json(noTenant.body)["field"] as? String == "header.x-tenant")
        await gateway.stop()
        upstream.stop()
    }

    @Test func gatewayctlListsAndValidatesGeneratedRoutes() async throws {
        let root = BuildProducts.repositoryRoot.path
        let routes = try RunningProcess(
            name: "gatewayctl", executable: "gatewayctl",
            arguments: ["routes", "--gateway", "rest", "--config", "\(root)/portico.yaml"])
        #expect(await routes.waitForExit(timeout: .seconds(20)) == 0)
        #expect(routes.output.contains("v1-createUser"))
        #expect(routes.output.contains("jwt scopes=users:write"))
        let validate = try RunningProcess(
            name: "gatewayctl", executable: "gatewayctl", arguments: ["validate", "\(root)/portico.yaml"])
        #expect(await validate.waitForExit(timeout: .seconds(20)) == 0)
    }

    @Test func aBrokenDocumentStopsTheGatewayWithItsName() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portico-openapi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let spec = dir.appendingPathComponent("broken.yaml").path
        try
            "openapi: 3.1.0\ninfo: { title: t, version: '1' }\npaths:\n  /x:\n    get:\n      parameters: [{ $ref: '#/components/parameters/nope' }]\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let yaml = """
            services:
              echo: { endpoints: ["http://127.0.0.1:1"] }
            gateways:
              rest:
                openapi: [{ spec: "\(spec)", service: echo, auth: { require: none } }]
            """
        let path = try TestConfig.write(yaml)
        let process = try RunningProcess(
            name: "rest-gateway", executable: "rest-gateway", arguments: ["--config", path])
        let status = await process.waitForExit()
        #expect(status == 2)
        #expect(process.output.contains("broken.yaml"))
    }
}
