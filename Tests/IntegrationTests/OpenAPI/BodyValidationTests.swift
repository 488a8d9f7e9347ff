// Request bodies: presence, media types (with wildcards, answered 415 by the gateway), JSON syntax.

import RESTGateway
import Testing

@Suite("OpenAPI request body validation")
struct BodyValidationTests {
    static let document = """
        openapi: 3.1.0
        info: { title: bodies, version: "1" }
        paths:
          /json:
            post:
              requestBody:
                required: true
                content:
                  application/json: { schema: { type: object, required: [a] } }
                  application/*+json: { schema: { type: object, required: [b] } }
              responses: { "200": { description: ok } }
          /optional:
            put:
              requestBody:
                content:
                  text/*: {}
              responses: { "200": { description: ok } }
          /anything:
            patch:
              requestBody:
                content:
                  "*/*": { schema: { type: array } }
              responses: { "200": { description: ok } }
        """

    private func failures(_ path: String, _ body: String?, contentType: String?) throws -> [ValidationFailure] {
        let spec = try OpenAPISpec(contents: Self.document, format: .yaml, file: "bodies.yaml")
        let operation = try #require(spec.operations.first { $0.path == path })
        return operation.validator.validate(
            pathParameters: [:], query: nil, header: { _ in nil }, contentType: contentType,
            body: body.map { Array($0.utf8) })
    }

    @Test func aRequiredBodyMustBePresentAndNotEmpty() throws {
        for body in [nil, ""] as [String?] {
            let result = try failures("/json", body, contentType: "application/json")
            #expect(
                result == [
                    ValidationFailure(kind: .missing, field: "body", message: "body: a request body is required")
                ])
        }
        #expect(try failures("/optional", nil, contentType: nil).isEmpty)
    }

    @Test func theContentTypeMustBeDeclaredOrMatchAWildcard() throws {
        let wrong = try failures("/json", "a=1", contentType: "application/x-www-form-urlencoded")
        #expect(wrong.map(\.kind) == [.unsupportedMediaType])
        #expect(wrong.map(\.field) == ["body"])
        #expect(
            wrong.map(\.message) == [
                "body: content type 'application/x-www-form-urlencoded' is not supported "
                    + "(expected application/json, application/*+json)"
            ])
        let absent = try failures("/json", "{}", contentType: nil)
        #expect(absent.map(\.kind) == [.unsupportedMediaType])
        #expect(
            absent.map(\.message) == [
                "body: a Content-Type header is required (expected application/json, application/*+json)"
            ])
        #expect(try failures("/optional", "hello", contentType: "text/plain; charset=utf-8").isEmpty)
        #expect(try failures("/optional", "hello", contentType: "image/png").map(\.kind) == [.unsupportedMediaType])
        #expect(try failures("/anything", "[1]", contentType: "application/vnd.x+json").isEmpty)
        #expect(try failures("/anything", "binary", contentType: "application/octet-stream").isEmpty)
    }

    @Test func theMostSpecificMediaTypeChoosesTheSchema() throws {
        #expect(try failures("/json", #"{"a": 1}"#, contentType: "Application/JSON; charset=utf-8").isEmpty)
        #expect(
            try failures("/json", #"{"a": 1}"#, contentType: "application/merge-patch+json").map(\.message) == [
                "body: missing required property 'b'"
            ])
        #expect(
            try failures("/anything", #"{}"#, contentType: "application/json").map(\.message) == [
                "body: must be an array (got an object)"
            ])
    }

    @Test func invalidJSONIsReportedWithItsPosition() throws {
        let result = try failures("/json", #"{"a": 1,}"#, contentType: "application/json")
        #expect(result.map(\.kind) == [.invalid])
        #expect(
            result.map(\.message) == [
                "body: is not valid JSON: expected a string key, found character '}' at line 1, column 9"
            ])
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(
            try failures("/anything", deep, contentType: "application/json").map(\.message) == [
                "body: is not valid JSON: it nests deeper than 256 levels"
            ])
    }
}
