// The hand-written JSON Schema subset, keyword by keyword, on request bodies: messages and field paths.

import RESTGateway
import Testing

@Suite("OpenAPI JSON Schema keywords")
struct SchemaKeywordTests {
    private func check(_ schema: String, _ body: String, version: String = "3.1.0", components: String = "") throws
        -> [String]
    {
        try OpenAPITestSupport.bodyMessages(schema, body, version: version, components: components)
    }

    @Test func typesDistinguishIntegersFromNumbers() throws {
        #expect(try check("{ type: integer }", "1.5") == ["body: must be an integer (got 1.5)"])
        #expect(try check("{ type: integer }", "2.0").isEmpty)
        #expect(try check("{ type: number }", "2").isEmpty)
        #expect(try check("{ type: string }", "12") == ["body: must be a string (got 12)"])
        #expect(try check("{ type: boolean }", #""true""#) == ["body: must be a boolean (got 'true')"])
        #expect(try check("{ type: object }", "[]") == ["body: must be an object (got an array)"])
        #expect(try check("{ type: array }", "{}") == ["body: must be an array (got an object)"])
        #expect(try check("{ type: [string, integer] }", "true") == ["body: must be a string or an integer (got true)"])
        #expect(try check("{ type: [string, integer] }", "3").isEmpty)
    }

    @Test func nullIsAllowedByTypeArraysIn31AndNullableIn30() throws {
        #expect(try check("{ type: [string, 'null'] }", "null").isEmpty)
        #expect(try check("{ type: [string, 'null'] }", "1") == ["body: must be a string or null (got 1)"])
        #expect(try check("{ type: string, nullable: true, minLength: 2 }", "null", version: "3.0.3").isEmpty)
        #expect(try check("{ type: string }", "null", version: "3.0.3") == ["body: must be a string (got null)"])
    }

    @Test func propertiesRequiredAndAdditionalProperties() throws {
        let schema = """
            { type: object, required: [name, email], additionalProperties: false,
              properties: { name: { type: string }, email: { type: string, format: email } } }
            """
        let failures = try OpenAPITestSupport.bodySpec(schema).operations[0].validator.validate(
            pathParameters: [:], query: nil, header: { _ in nil }, contentType: "application/json",
            body: Array(#"{"email": "x", "nick": "n"}"#.utf8))
        #expect(failures.map(\.field) == ["body.name", "body.email", "body.nick"])
        #expect(
            failures.map(\.message) == [
                "body: missing required property 'name'", "body.email: must be an email address",
                "body: unexpected property 'nick'",
            ])
        #expect(failures.map(\.kind) == [.missing, .invalid, .invalid])
        #expect(
            try check("{ type: object, additionalProperties: { type: integer } }", #"{"a": 1, "b": "2"}"#) == [
                "body.b: must be an integer (got '2')"
            ])
        #expect(
            try check(
                "{ patternProperties: { '^x-': { type: string } }, additionalProperties: false }",
                #"{"x-a": 1, "y": 2}"#)
                == ["body.x-a: must be a string (got 1)", "body: unexpected property 'y'"])
        #expect(
            try check("{ minProperties: 2, maxProperties: 3 }", #"{"a": 1}"#) == [
                "body: must have at least 2 properties (got 1)"
            ])
    }

    @Test func nestedFieldPathsThroughArraysAndObjects() throws {
        let schema = """
            { type: object, properties: { items: { type: array, items: { $ref: '#/components/schemas/Item' } } } }
            """
        let components =
            "    Item: { type: object, required: [price], properties: { price: { type: number, minimum: 0 } } }"
        #expect(
            try check(schema, #"{"items": [{"price": -1}, {"price": 2}, {}]}"#, components: components) == [
                "body.items[0].price: must be at least 0 (got -1)", "body.items[2]: missing required property 'price'",
            ])
    }

    @Test func arrayKeywords() throws {
        #expect(try check("{ type: array, minItems: 2 }", "[1]") == ["body: must have at least 2 items (got 1)"])
        #expect(try check("{ type: array, maxItems: 1 }", "[1, 2]") == ["body: must have at most 1 item (got 2)"])
        #expect(
            try check("{ uniqueItems: true }", #"[{"a": 1, "b": [1]}, 2, {"b": [1.0], "a": 1}]"#) == [
                "body: must not contain duplicate items (items 0 and 2 are equal)"
            ])
        #expect(try check("{ uniqueItems: true }", "[1, true, '1']".replacingOccurrences(of: "'", with: "\"")).isEmpty)
        #expect(
            try check("{ prefixItems: [{ type: string }], items: { type: integer } }", #"["a", 1, "b"]"#) == [
                "body[2]: must be an integer (got 'b')"
            ])
    }

    @Test func enumAndConst() throws {
        #expect(
            try check("{ enum: [red, 1, null] }", #""blue""#) == ["body: must be one of 'red', 1, null (got 'blue')"])
        #expect(try check("{ enum: [red, 1, null] }", "1.0").isEmpty)
        #expect(try check("{ const: { a: [1] } }", #"{"a": [1]}"#).isEmpty)
        #expect(try check("{ const: 5 }", "4") == ["body: must be 5 (got 4)"])
    }

    @Test func numericKeywords() throws {
        #expect(try check("{ minimum: 1.5 }", "1") == ["body: must be at least 1.5 (got 1)"])
        #expect(try check("{ maximum: 3 }", "3.5") == ["body: must be at most 3 (got 3.5)"])
        #expect(try check("{ exclusiveMinimum: 1 }", "1") == ["body: must be greater than 1 (got 1)"])
        #expect(try check("{ exclusiveMaximum: 1 }", "1") == ["body: must be less than 1 (got 1)"])
        #expect(try check("{ multipleOf: 0.01 }", "19.99").isEmpty)
        #expect(try check("{ multipleOf: 0.5 }", "1.2") == ["body: must be a multiple of 0.5 (got 1.2)"])
        #expect(
            try check("{ type: integer, format: int32 }", "3000000000") == [
                "body: must be a int32 integer (got 3000000000)"
            ])
        #expect(try check("{ minimum: 5 }", #""text""#).isEmpty)  // Numeric keywords ignore other types.
    }

    @Test func stringKeywords() throws {
        #expect(try check("{ minLength: 3 }", #""né""#) == ["body: must be at least 3 characters long (got 2)"])
        #expect(try check("{ maxLength: 1 }", #""😀😀""#) == ["body: must be at most 1 character long (got 2)"])
        #expect(
            try check("{ pattern: '\\d{3}' }", #""ab12""#) == ["body: must match the pattern '\\d{3}' (got 'ab12')"])
        #expect(try check("{ pattern: '\\d{3}' }", #""x123y""#).isEmpty)  // Unanchored, as JSON Schema says.
    }

    @Test(arguments: [
        (
            "date-time", "2024-02-29T23:59:60.5+05:30", "2023-02-29T10:00:00Z",
            "must be a date-time such as 2024-05-01T12:30:00Z (RFC 3339)"
        ),
        (
            "date-time", "2024-05-01t12:30:00z", "2024-05-01T12:30:00",
            "must be a date-time such as 2024-05-01T12:30:00Z (RFC 3339)"
        ),
        ("date", "2000-02-29", "2024-13-01", "must be a date such as 2024-05-01"),
        ("email", "ada.lovelace+1@example.co.uk", "ada@@example.com", "must be an email address"),
        ("email", "a@[127.0.0.1]", "ada.@example.com", "must be an email address"),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000", "must be a UUID"),
        ("ipv4", "192.168.0.1", "192.168.0.256", "must be an IPv4 address"),
        ("ipv4", "10.0.0.1", "010.0.0.1", "must be an IPv4 address"),
        ("ipv6", "2001:db8::1", "2001:db8:::1", "must be an IPv6 address"),
        ("ipv6", "::ffff:192.0.2.1", "12345::", "must be an IPv6 address"),
        ("uri", "https://example.com/a?b=c#d", "/relative/path", "must be an absolute URI"),
        ("uri", "urn:isbn:0451450523", "http://exa mple.com", "must be an absolute URI"),
    ])
    func formats(format: String, valid: String, invalid: String, message: String) throws {
        let schema = "{ type: string, format: \(format) }"
        #expect(try check(schema, "\"\(valid)\"").isEmpty)
        #expect(try check(schema, "\"\(invalid)\"") == ["body: \(message)"])
    }

    @Test func unknownFormatsPass() throws {
        #expect(try check("{ type: string, format: password }", #""x""#).isEmpty)
    }

    @Test func allOfAnyOfOneOfAndNot() throws {
        #expect(try check("{ allOf: [{ minimum: 2 }, { maximum: 1 }] }", "5") == ["body: must be at most 1 (got 5)"])
        #expect(
            try check("{ anyOf: [{ type: string }, { minimum: 10 }] }", "3") == [
                "body: must match at least one of the 2 alternatives in anyOf"
            ])
        #expect(try check("{ anyOf: [{ type: string }, { minimum: 10 }] }", "30").isEmpty)
        let oneOf = "{ oneOf: [{ type: integer }, { minimum: 2 }] }"
        #expect(try check(oneOf, "1").isEmpty)
        #expect(
            try check(oneOf, "3") == [
                "body: must match exactly one of the 2 alternatives in oneOf (matched alternatives 1 and 2)"
            ])
        #expect(
            try check(oneOf, "1.5") == ["body: must match exactly one of the 2 alternatives in oneOf (matched none)"])
        #expect(try check("{ not: { type: string } }", #""s""#) == ["body: must not match the schema in 'not'"])
    }

    @Test func oneOfWithADiscriminatorReportsTheChosenAlternative() throws {
        let components = """
                Cat: { type: object, required: [kind, lives], properties: { kind: { const: cat }, lives: { type: integer } } }
                Dog: { type: object, required: [kind, bark], properties: { kind: { const: dog }, bark: { type: boolean } } }
            """
        let schema = """
            { oneOf: [{ $ref: '#/components/schemas/Cat' }, { $ref: '#/components/schemas/Dog' }],
              discriminator: { propertyName: kind, mapping: { cat: Cat, dog: '#/components/schemas/Dog' } } }
            """
        #expect(try check(schema, #"{"kind": "dog", "bark": true}"#, components: components).isEmpty)
        #expect(
            try check(schema, #"{"kind": "cat", "lives": "nine"}"#, components: components) == [
                "body.lives: must be an integer (got 'nine')"
            ])
        #expect(
            try check(schema, #"{"kind": "cow"}"#, components: components) == [
                "body.kind: must be one of 'cat', 'dog' (got 'cow')"
            ])
        #expect(try check(schema, #"{}"#, components: components) == ["body: missing required property 'kind'"])
    }

    @Test func readOnlyPropertiesAreIgnoredInRequests() throws {
        let schema = """
            { type: object, required: [id, name],
              properties: { id: { type: string, readOnly: true }, name: { type: string } } }
            """
        #expect(try check(schema, #"{"name": "a"}"#).isEmpty)
        #expect(try check(schema, #"{"id": 5, "name": "a"}"#).isEmpty)
    }

    @Test func failuresStopAtTheCap() throws {
        let spec = try OpenAPITestSupport.bodySpec("{ type: array, items: { type: integer } }")
        var validator = spec.operations[0].validator
        let body = Array(("[" + Array(repeating: #""x""#, count: 50).joined(separator: ",") + "]").utf8)
        func run() -> [ValidationFailure] {
            validator.validate(
                pathParameters: [:], query: nil, header: { _ in nil }, contentType: "application/json", body: body)
        }
        #expect(run().count == 20)
        #expect(run().last?.field == "body[19]")
        validator.maxFailures = 3
        #expect(run().map(\.field) == ["body[0]", "body[1]", "body[2]"])
    }
}
