// Parameter rules: presence, type coercion, numeric and string keywords, enums, patterns, arrays in
// each serialization style, objects, headers and JSON-content parameters.

import RESTGateway
import Testing

@Suite("OpenAPI parameter validation")
struct ParameterValidationTests {
    typealias Support = OpenAPITestSupport

    @Test func requiredParametersMustBePresentAndUnknownQueryParametersAreAllowed() throws {
        let validator = try Support.parameterSpec([
            "{ name: id, in: path, required: true, schema: { type: string } }",
            "{ name: limit, in: query, required: true, schema: { type: integer } }",
            "{ name: X-Tenant, in: header, required: true, schema: { type: string } }",
        ])
        let failures = validator.validate(
            pathParameters: [:], query: "other=1", header: { _ in nil }, contentType: nil, body: nil)
        #expect(failures.map(\.field) == ["path.id", "query.limit", "header.x-tenant"])
        #expect(
            failures.map(\.message) == [
                "path: missing required parameter 'id'", "query: missing required parameter 'limit'",
                "header: missing required header 'X-Tenant'",
            ])
        #expect(failures.allSatisfy { $0.kind == .missing })
        #expect(validator.messages(path: ["id": "1"], query: "limit=5&other=x", headers: ["x-tenant": "acme"]).isEmpty)
    }

    @Test func valuesAreCoercedPerSchemaType() throws {
        let validator = try Support.parameterSpec([
            "{ name: id, in: path, required: true, schema: { type: integer } }",
            "{ name: limit, in: query, schema: { type: integer } }",
            "{ name: ratio, in: query, schema: { type: number } }",
            "{ name: flag, in: query, schema: { type: boolean } }",
            "{ name: name, in: query, schema: { type: string } }",
        ])
        #expect(
            validator.messages(path: ["id": "7"], query: "limit=abc&ratio=0x10&flag=yes&name=123") == [
                "query.limit: must be an integer (got 'abc')", "query.ratio: must be a number (got '0x10')",
                "query.flag: must be a boolean (got 'yes')",
            ])
        #expect(validator.messages(path: ["id": "1.5"]) == ["path.id: must be an integer (got 1.5)"])
        #expect(validator.messages(path: ["id": "2.0"], query: "limit=-3&ratio=1e3&flag=false").isEmpty)
    }

    @Test func numericBoundsAndMultiples() throws {
        let validator = try Support.parameterSpec([
            "{ name: id, in: path, required: true, schema: { type: integer, minimum: 1, maximum: 10 } }",
            "{ name: a, in: query, schema: { type: number, exclusiveMinimum: 0, exclusiveMaximum: 1 } }",
            "{ name: b, in: query, schema: { type: integer, multipleOf: 5 } }",
        ])
        #expect(
            validator.messages(path: ["id": "0"], query: "a=1&b=7") == [
                "path.id: must be at least 1 (got 0)", "query.a: must be less than 1 (got 1)",
                "query.b: must be a multiple of 5 (got 7)",
            ])
        #expect(
            validator.messages(path: ["id": "11"], query: "a=0") == [
                "path.id: must be at most 10 (got 11)", "query.a: must be greater than 0 (got 0)",
            ])
        #expect(validator.messages(path: ["id": "10"], query: "a=0.5&b=-15").isEmpty)
    }

    @Test func threeZeroBooleanExclusiveBounds() throws {
        let validator = try Support.parameterSpec(
            ["{ name: id, in: path, required: true, schema: { type: integer, maximum: 5, exclusiveMaximum: true } }"],
            version: "3.0.3")
        #expect(validator.messages(path: ["id": "5"]) == ["path.id: must be less than 5 (got 5)"])
        #expect(validator.messages(path: ["id": "4"]).isEmpty)
    }

    @Test func stringLengthsPatternsAndEnums() throws {
        let validator = try Support.parameterSpec([
            "{ name: id, in: path, required: true, schema: { type: string, pattern: '^[a-z]+$' } }",
            "{ name: code, in: query, schema: { type: string, minLength: 2, maxLength: 3 } }",
            "{ name: sort, in: query, schema: { type: string, enum: [asc, desc] } }",
            "{ name: level, in: query, schema: { type: integer, enum: [1, 2] } }",
        ])
        #expect(
            validator.messages(path: ["id": "ABC"], query: "code=x&sort=up&level=3") == [
                "path.id: must match the pattern '^[a-z]+$' (got 'ABC')",
                "query.code: must be at least 2 characters long (got 1)",
                "query.sort: must be one of 'asc', 'desc' (got 'up')", "query.level: must be one of 1, 2 (got 3)",
            ])
        #expect(validator.messages(path: ["id": "abc"], query: "code=%C3%A9t%C3%A9&sort=desc&level=2").isEmpty)
        #expect(
            validator.messages(path: ["id": "abc"], query: "code=abcd") == [
                "query.code: must be at most 3 characters long (got 4)"
            ])
    }

    @Test func queryArraysUseRepeatedKeysByDefault() throws {
        let validator = try Support.parameterSpec([
            "{ name: id, in: path, required: true, schema: { type: string } }",
            "{ name: tag, in: query, schema: { type: array, items: { type: integer }, maxItems: 2, uniqueItems: true } }",
        ])
        #expect(validator.messages(path: ["id": "x"], query: "tag=1&tag=2").isEmpty)
        #expect(
            validator.messages(path: ["id": "x"], query: "tag=1&tag=b") == [
                "query.tag[1]: must be an integer (got 'b')"
            ])
        #expect(
            validator.messages(path: ["id": "x"], query: "tag=1&tag=2&tag=3") == [
                "query.tag: must have at most 2 items (got 3)"
            ])
        #expect(
            validator.messages(path: ["id": "x"], query: "tag=1&tag=1") == [
                "query.tag: must not contain duplicate items (items 0 and 1 are equal)"
            ])
    }

    @Test func queryArraysInOtherStyles() throws {
        let validator = try Support.parameterSpec([
            "{ name: id, in: path, required: true, schema: { type: array, items: { type: integer } } }",
            "{ name: csv, in: query, explode: false, schema: { type: array, items: { type: integer } } }",
            "{ name: spaced, in: query, style: spaceDelimited, explode: false, schema: { type: array, items: { type: integer } } }",
            "{ name: piped, in: query, style: pipeDelimited, explode: false, schema: { type: array, minItems: 3 } }",
        ])
        #expect(validator.messages(path: ["id": "1,2"], query: "csv=1,2,3&spaced=4%205&piped=a|b|c").isEmpty)
        #expect(
            validator.messages(path: ["id": "1,x"], query: "csv=1,y&spaced=4+z&piped=a|b") == [
                "path.id[1]: must be an integer (got 'x')", "query.csv[1]: must be an integer (got 'y')",
                "query.spaced[1]: must be an integer (got 'z')", "query.piped: must have at least 3 items (got 2)",
            ])
    }

    @Test func objectParametersInFormAndDeepObjectStyles() throws {
        let object = "{ type: object, required: [min], properties: { min: { type: integer }, max: { type: integer } } }"
        let validator = try Support.parameterSpec([
            "{ name: id, in: path, required: true, schema: { type: string } }",
            "{ name: range, in: query, style: deepObject, explode: true, schema: \(object) }",
            "{ name: flat, in: query, schema: { type: object, properties: { color: { type: string, enum: [red] } } } }",
        ])
        #expect(validator.messages(path: ["id": "x"], query: "range%5Bmin%5D=1&range[max]=2&color=red").isEmpty)
        #expect(
            validator.messages(path: ["id": "x"], query: "range[min]=a&range[max]=2&color=blue") == [
                "query.range.min: must be an integer (got 'a')", "query.flat.color: must be one of 'red' (got 'blue')",
            ])
        #expect(
            validator.messages(path: ["id": "x"], query: "range[max]=2") == [
                "query.range: missing required property 'min'"
            ])
    }

    @Test func headerParametersAndJSONContentParameters() throws {
        let validator = try Support.parameterSpec([
            "{ name: id, in: path, required: true, schema: { type: string, format: uuid } }",
            "{ name: X-Rate, in: header, schema: { type: array, items: { type: integer, maximum: 9 } } }",
            "{ name: filter, in: query, content: { application/json: { schema: { type: object, required: [q] } } } }",
            "{ name: Accept, in: header, required: true, schema: { type: integer } }",
        ])
        #expect(
            validator.messages(
                path: ["id": "3F2504E0-4F89-11D3-9A0C-0305E82C3301"], query: #"filter=%7B%22q%22%3A1%7D"#,
                headers: ["x-rate": "1,2"]
            ).isEmpty)
        #expect(
            validator.messages(path: ["id": "nope"], query: "filter=%7B%7D", headers: ["X-Rate": "1,10"]) == [
                "path.id: must be a UUID", "query.filter: missing required property 'q'",
                "header.x-rate[1]: must be at most 9 (got 10)",
            ])
        #expect(
            validator.messages(path: ["id": "3F2504E0-4F89-11D3-9A0C-0305E82C3301"], query: "filter={") == [
                "query.filter: is not valid JSON: expected a string key, found end of input at line 1, column 2"
            ])
    }

    @Test func allowEmptyValueSkipsValidationOfAnEmptyValue() throws {
        let validator = try Support.parameterSpec([
            "{ name: id, in: path, required: true, schema: { type: string } }",
            "{ name: a, in: query, allowEmptyValue: true, schema: { type: integer } }",
            "{ name: b, in: query, schema: { type: integer } }",
        ])
        #expect(validator.messages(path: ["id": "x"], query: "a=&b=") == ["query.b: must be an integer (got '')"])
    }
}
