// Operation listing: methods, paths, names, security hints, parameter merging, and the demo users.yaml.

import Foundation
import RESTGateway
import Testing

@Suite("OpenAPI operations")
struct OpenAPIOperationTests {
    static let document = """
        openapi: 3.1.0
        info: { title: ops, version: "1" }
        security:
          - apiKey: []
        paths:
          /users/{id}:
            parameters:
              - { name: id, in: path, required: true, schema: { type: string } }
              - { name: verbose, in: query, schema: { type: boolean } }
            get:
              parameters:
                - { name: id, in: path, required: true, schema: { type: integer } }
              responses: { "200": { description: ok } }
            delete:
              operationId: deleteUser
              security:
                - bearer: ["users:write"]
                  apiKey: []
                - oauth: [admin]
              responses: { "204": { description: gone } }
          /:
            options:
              security:
                - {}
                - bearer: []
              responses: { "200": { description: ok } }
            head:
              security: []
              responses: { "200": { description: ok } }
        components:
          securitySchemes:
            oauth:
              type: oauth2
              flows: { clientCredentials: { tokenUrl: "https://auth.example/token", scopes: { admin: all } } }
            bearer: { type: http, scheme: bearer }
            apiKey: { type: apiKey, in: header, name: X-API-Key }
        """

    @Test func listsOperationsWithUppercaseMethodsAndSanitisedNames() throws {
        let spec = try OpenAPISpec(contents: Self.document, format: .yaml, file: "ops.yaml")
        #expect(
            spec.operations.map { "\($0.method) \($0.path)" } == [
                "GET /users/{id}", "DELETE /users/{id}", "HEAD /", "OPTIONS /",
            ])
        #expect(spec.operations.map(\.name) == ["GET_users_id", "deleteUser", "HEAD_root", "OPTIONS_root"])
        #expect(spec.operations.map(\.operationId) == [nil, "deleteUser", nil, nil])
    }

    @Test func securityRequirementsGiveTheAuthHint() throws {
        let spec = try OpenAPISpec(contents: Self.document, format: .yaml, file: "ops.yaml")
        let get = try #require(spec.operation(method: "GET", path: "/users/{id}"))
        #expect(get.requiresAuth)  // The document-level requirement applies.
        #expect(get.securitySchemes == ["apiKey"])
        let delete = try #require(spec.operation(named: "deleteUser"))
        #expect(delete.requiresAuth)
        #expect(delete.securitySchemes == ["oauth", "bearer", "apiKey"])
        #expect(delete.securityRequirements == [["bearer": ["users:write"], "apiKey": []], ["oauth": ["admin"]]])
        let options = try #require(spec.operation(method: "OPTIONS", path: "/"))
        #expect(!options.requiresAuth)  // `{}` allows anonymous calls.
        #expect(options.securitySchemes == ["bearer"])
        let head = try #require(spec.operation(method: "HEAD", path: "/"))
        #expect(!head.requiresAuth)  // `security: []` overrides the document's requirement.
        #expect(head.securitySchemes.isEmpty)
    }

    @Test func operationParametersOverridePathParametersByNameAndLocation() throws {
        let spec = try OpenAPISpec(contents: Self.document, format: .yaml, file: "ops.yaml")
        let get = try #require(spec.operation(method: "GET", path: "/users/{id}")).validator
        // The operation's integer `id` replaced the path item's string `id`; `verbose` is inherited.
        #expect(
            get.messages(path: ["id": "abc"], query: "verbose=maybe") == [
                "path.id: must be an integer (got 'abc')", "query.verbose: must be a boolean (got 'maybe')",
            ])
        let delete = try #require(spec.operation(named: "deleteUser")).validator
        #expect(delete.messages(path: ["id": "abc"]).isEmpty)
    }

    @Test func theDemoUsersDocumentDescribesTheUsersService() throws {
        let path = OpenAPITestSupport.packageRoot.appendingPathComponent("Protocols/openapi/users.yaml").path
        let spec = try OpenAPISpec(path: path)
        #expect(spec.version == "3.1.0")
        #expect(
            spec.operations.map { "\($0.method) \($0.path) \($0.name)" } == [
                "GET /users listUsers", "POST /users createUser", "GET /users/{id} getUser",
            ])
        let create = try #require(spec.operation(named: "createUser"))
        #expect(create.requiresAuth)
        #expect(create.securityRequirements == [["bearerAuth": ["users:write"]]])
        #expect(create.validator.acceptedContentTypes == ["application/json"])
        #expect(!(try #require(spec.operation(named: "listUsers"))).requiresAuth)

        func post(_ body: String?, contentType: String? = "application/json") -> [ValidationFailure] {
            create.validator.validate(
                pathParameters: [:], query: nil, header: { _ in nil }, contentType: contentType,
                body: body.map { Array($0.utf8) })
        }
        #expect(post(#"{"name": "Barbara Liskov", "email": "barbara@example.com"}"#).isEmpty)
        #expect(post(#"{"id": "9", "name": "B", "email": "b@example.com", "extra": true}"#).isEmpty)
        #expect(post(nil).map(\.message) == ["body: a request body is required"])
        #expect(
            post(#"{"name": "  ", "email": "nope"}"#).map(\.message) == [
                "body.name: must match the pattern '\\S' (got '  ')", "body.email: must be an email address",
            ])
        #expect(post(#"{"email": "b@example.com"}"#).map(\.field) == ["body.name"])
        #expect(post("name=B", contentType: "application/x-www-form-urlencoded").map(\.kind) == [.unsupportedMediaType])
        let get = try #require(spec.operation(named: "getUser")).validator
        #expect(get.messages(path: ["id": "1"]).isEmpty)
        #expect(get.messages(path: ["id": ""]) == ["path.id: must be at least 1 character long (got 0)"])
    }
}
