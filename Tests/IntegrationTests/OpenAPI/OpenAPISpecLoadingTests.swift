// Loading OpenAPI documents: 3.0 and 3.1, YAML and JSON, local references, and the errors for documents
// that cannot be used.

import Foundation
import RESTGateway
import Testing

@Suite("OpenAPI loading")
struct OpenAPISpecLoadingTests {
    static let petstore30YAML = """
        openapi: 3.0.3
        info: { title: Pets 3.0, version: "1" }
        paths:
          /pets:
            get:
              operationId: listPets
              parameters:
                - $ref: '#/components/parameters/Limit'
              responses: { "200": { description: ok } }
            post:
              operationId: createPet
              requestBody: { $ref: '#/components/requestBodies/NewPet' }
              responses: { "201": { description: created } }
        components:
          parameters:
            Limit: { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 100 } }
          requestBodies:
            NewPet:
              required: true
              content:
                application/json:
                  schema: { $ref: '#/components/schemas/Pet' }
          schemas:
            Pet:
              type: object
              required: [name]
              properties:
                name: { type: string, minLength: 1 }
                tag: { type: string, nullable: true }
                age: { type: integer, minimum: 0, exclusiveMinimum: true }
        """

    static let petstore31JSON = """
        {
          "openapi": "3.1.0",
          "info": { "title": "Pets 3.1", "version": "1" },
          "paths": {
            "/pets/{petId}": {
              "put": {
                "operationId": "updatePet",
                "parameters": [ { "name": "petId", "in": "path", "required": true, "schema": { "type": "integer" } } ],
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Pet" } } } },
                "responses": { "200": { "description": "ok" } }
              }
            }
          },
          "components": {
            "schemas": {
              "Pet": {
                "type": "object",
                "properties": { "tag": { "type": ["string", "null"] }, "age": { "type": "integer", "exclusiveMinimum": 0 } }
              }
            }
          }
        }
        """

    @Test func loads30YAMLFromAFileAndResolvesParameterAndBodyReferences() throws {
        let spec = try OpenAPISpec(path: try OpenAPITestSupport.write(Self.petstore30YAML, name: "pets.yaml"))
        #expect(spec.version == "3.0.3")
        #expect(spec.title == "Pets 3.0")
        #expect(spec.operations.map(\.name) == ["listPets", "createPet"])
        let list = try #require(spec.operation(method: "get", path: "/pets")).validator
        #expect(list.messages(query: "limit=0") == ["query.limit: must be at least 1 (got 0)"])
        let create = try #require(spec.operation(named: "createPet")).validator
        #expect(create.requiresBody)
        let failures = create.validate(
            pathParameters: [:], query: nil, header: { _ in nil }, contentType: "application/json",
            body: Array(#"{"tag": null, "age": 0}"#.utf8))
        #expect(failures.map(\.field) == ["body.name", "body.age"])
        #expect(
            failures.map(\.message) == [
                "body: missing required property 'name'", "body.age: must be greater than 0 (got 0)",
            ])
    }

    @Test func loads30JSON() throws {
        let json = """
            {"openapi": "3.0.0", "info": {"title": "j", "version": "1"},
             "paths": {"/a": {"get": {"parameters": [{"name": "q", "in": "query", "required": true,
               "schema": {"type": "string", "nullable": true}}], "responses": {"200": {"description": "ok"}}}}}}
            """
        let spec = try OpenAPISpec(path: try OpenAPITestSupport.write(json, name: "a.json"))
        let validator = try #require(spec.operations.first).validator
        #expect(validator.messages(query: "") == ["query: missing required parameter 'q'"])
        #expect(validator.messages(query: "q=x").isEmpty)
    }

    @Test func loads31JSONFromAFile() throws {
        let spec = try OpenAPISpec(path: try OpenAPITestSupport.write(Self.petstore31JSON, name: "pets.json"))
        #expect(spec.version == "3.1.0")
        let update = try #require(spec.operation(method: "PUT", path: "/pets/{petId}"))
        #expect(update.operationId == "updatePet")
        let failures = update.validator.validate(
            pathParameters: ["petId": "seven"], query: nil, header: { _ in nil }, contentType: "application/json",
            body: Array(#"{"tag": null, "age": 0}"#.utf8))
        #expect(
            failures.map(\.message) == [
                "path.petId: must be an integer (got 'seven')", "body.age: must be greater than 0 (got 0)",
            ])
    }

    @Test func loads31YAMLInMemory() throws {
        let spec = try OpenAPITestSupport.bodySpec("{ type: [string, integer] }")
        #expect(spec.version == "3.1.0")
        #expect(spec.file == "body.yaml")
    }

    @Test func recursiveSchemasValidateThroughTheCycle() throws {
        let components = """
                Node:
                  type: object
                  properties:
                    value: { type: integer }
                    next: { $ref: '#/components/schemas/Node' }
            """
        let messages = try OpenAPITestSupport.bodyMessages(
            "{ $ref: '#/components/schemas/Node' }", #"{"value": 1, "next": {"value": 2, "next": {"value": "x"}}}"#,
            components: components)
        #expect(messages == ["body.next.next.value: must be an integer (got 'x')"])
    }

    @Test func threeOneAppliesKeywordsBesideRefButThreeZeroIgnoresThem() throws {
        let components = "    Short: { type: string, maxLength: 3 }"
        let schema = "{ $ref: '#/components/schemas/Short', minLength: 2 }"
        #expect(
            try OpenAPITestSupport.bodyMessages(schema, #""a""#, components: components) == [
                "body: must be at least 2 characters long (got 1)"
            ])
        #expect(try OpenAPITestSupport.bodyMessages(schema, #""a""#, version: "3.0.3", components: components).isEmpty)
    }

    @Test func loads32AndListsTheQueryMethod() throws {
        let yaml = """
            openapi: 3.2.0
            info: { title: t, version: "1" }
            paths: { /search: { query: { operationId: search, responses: { "200": { description: ok } } } } }
            """
        let spec = try OpenAPISpec(contents: yaml, format: .yaml, file: "q.yaml")
        #expect(spec.operations.map { "\($0.method) \($0.path) \($0.name)" } == ["QUERY /search search"])
    }

    // MARK: errors

    private func loadError(_ contents: String, name: String = "doc.yaml") throws -> OpenAPISpecError {
        let path = try OpenAPITestSupport.write(contents, name: name)
        return try #require(throws: OpenAPISpecError.self) { try OpenAPISpec(path: path) }
    }

    @Test func aDocumentWithoutOpenAPIFieldIsNotOpenAPI() throws {
        let error = try loadError("title: hello\nitems: [1, 2]\n")
        #expect(error.code == .notOpenAPI)
        #expect(error.description.hasSuffix("doc.yaml: is not an OpenAPI document (it has no 'openapi' field)"))
    }

    @Test func swaggerAndOtherVersionsAreUnsupported() throws {
        let swagger = try loadError("swagger: \"2.0\"\ninfo: { title: t, version: \"1\" }\npaths: {}\n")
        #expect(swagger.code == .unsupportedVersion)
        #expect(swagger.reason.contains("is a Swagger 2.0 document"))
        let four = try loadError("openapi: 4.0.0\ninfo: { title: t, version: \"1\" }\npaths: {}\n")
        #expect(four.code == .unsupportedVersion)
        #expect(four.reason.hasPrefix("OpenAPI version '4.0.0' is not supported"))
        let unquoted = try loadError("openapi: 3.1\ninfo: { title: t, version: \"1\" }\npaths: {}\n")
        #expect(unquoted.code == .notOpenAPI)
        #expect(unquoted.reason.contains("must be a version string"))
    }

    @Test func unresolvableAndExternalReferencesAreErrors() throws {
        let missing = try loadError(
            Self.petstore30YAML.replacingOccurrences(of: "#/components/schemas/Pet", with: "#/components/schemas/Cat"))
        #expect(missing.code == .unresolvableReference)
        #expect(missing.reason.contains("'#/components/schemas/Cat'"))
        #expect(missing.reason.contains("#/components/requestBodies/NewPet/content/application~1json/schema"))
        let external = try loadError(
            Self.petstore30YAML.replacingOccurrences(of: "#/components/schemas/Pet", with: "pet.yaml#/Pet"))
        #expect(external.code == .externalReference)
        #expect(external.reason.hasPrefix("external $ref 'pet.yaml#/Pet'"))
        let parameter = try loadError(
            Self.petstore30YAML.replacingOccurrences(
                of: "#/components/parameters/Limit", with: "#/components/parameters/Lim"))
        #expect(parameter.code == .unresolvableReference)
    }

    @Test func syntaxStructureAndFileErrorsNameTheFile() throws {
        let yaml = try loadError("openapi: [3.1.0\n")
        #expect(yaml.code == .invalidSyntax)
        #expect(yaml.reason.hasPrefix("is not valid YAML"))
        let json = try loadError(#"{"openapi": "3.1.0",}"#, name: "doc.json")
        #expect(json.code == .invalidSyntax)
        #expect(json.reason.hasPrefix("is not valid JSON"))
        let structure = try loadError("openapi: 3.1.0\ninfo: { version: \"1\" }\npaths: {}\n")
        #expect(structure.code == .invalidDocument)
        #expect(structure.reason.contains("title"))
        let pattern = try loadError(
            Self.petstore30YAML.replacingOccurrences(of: "minLength: 1 }", with: "pattern: '[a-' }"))
        #expect(pattern.code == .invalidSchema)
        #expect(pattern.reason.contains("'[a-' is not a valid regular expression"))
        let missingFile = try #require(throws: OpenAPISpecError.self) { try OpenAPISpec(path: "/nonexistent/x.yaml") }
        #expect(missingFile.code == .unreadableFile)
        #expect(missingFile.description == "/nonexistent/x.yaml: no such file")
        let text = try #require(throws: OpenAPISpecError.self) { try OpenAPISpec(path: "/tmp/spec.txt") }
        #expect(text.code == .unsupportedFileType)
    }

    @Test func duplicateOperationIdsAreRefused() throws {
        let error = try loadError(Self.petstore30YAML.replacingOccurrences(of: "createPet", with: "listPets"))
        #expect(error.code == .invalidDocument)
        #expect(error.reason == "operationId 'listPets' is used by more than one operation")
    }
}

@Suite("OpenAPI reference checks")
struct OpenAPIReferenceCheckTests {
    @Test func brokenReferencesOutsideOperationsAreReportedButExampleValuesAreNot() throws {
        let document = """
            openapi: 3.1.0
            info: { title: refs, version: "1" }
            paths:
              /a:
                get:
                  responses:
                    "200":
                      description: ok
                      content:
                        application/json:
                          schema: { $ref: '#/components/schemas/Missing' }
            components:
              schemas:
                Doc:
                  type: object
                  example: { $ref: 'not/a/reference' }
                  properties:
                    example: { $ref: '#/components/schemas/Doc' }
            """
        let error = try #require(throws: OpenAPISpecError.self) {
            try OpenAPISpec(contents: document, format: .yaml, file: "refs.yaml")
        }
        #expect(error.code == .unresolvableReference)
        #expect(
            error.description
                == "refs.yaml: unresolvable $ref '#/components/schemas/Missing' at "
                + "#/paths/~1a/get/responses/200/content/application~1json/schema: the document has nothing at "
                + "#/components/schemas/Missing")
        let fixed = document.replacingOccurrences(of: "Missing", with: "Doc")
        #expect(try OpenAPISpec(contents: fixed, format: .yaml, file: "refs.yaml").operations.count == 1)
    }
}
