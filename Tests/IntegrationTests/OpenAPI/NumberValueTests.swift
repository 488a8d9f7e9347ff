// Numbers keep their literal text in the JSON model but JSON Schema judges them by value: integer vs
// number, enum/const/uniqueItems equality (1 == 1.0), YAML number spellings, and out-of-range literals.

import RESTGateway
import Testing

@Suite("OpenAPI numbers by value")
struct NumberValueTests {
    private func check(_ schema: String, _ body: String) throws -> [String] {
        try OpenAPITestSupport.bodyMessages(schema, body)
    }

    @Test func integerMeansNoFractionalPartWhateverTheSpelling() throws {
        for integer in ["2.0", "1e2", "-0", "2.50e1", "18446744073709551616"] {
            #expect(try check("{ type: integer }", integer).isEmpty, "\(integer)")
        }
        #expect(try check("{ type: integer }", "1.5") == ["body: must be an integer (got 1.5)"])
        #expect(try check("{ type: integer }", "25e-1") == ["body: must be an integer (got 2.5)"])
        #expect(try check("{ maximum: 2 }", "2.50") == ["body: must be at most 2 (got 2.5)"])
    }

    @Test func enumAndConstCompareNumbersByValueAndObjectsWithoutOrder() throws {
        #expect(try check("{ enum: [1, 2] }", "1.0").isEmpty)
        #expect(try check("{ enum: [1, 2] }", "2e0").isEmpty)
        #expect(try check("{ enum: [1, 2] }", "1.5") == ["body: must be one of 1, 2 (got 1.5)"])
        #expect(try check("{ const: 0.5 }", "5e-1").isEmpty)
        let object = "{ const: { a: 1, b: [1, 2.0] } }"
        #expect(try check(object, #"{"b": [1.0, 2], "a": 1e0}"#).isEmpty)
        #expect(try check(object, #"{"a": 1, "b": [2, 1]}"#) == ["body: must be an object (got an object)"])
        #expect(try check(object, #"{"a": 1, "b": [1, 2], "c": 3}"#) == ["body: must be an object (got an object)"])
        #expect(try check("{ enum: ['1'] }", "1") == ["body: must be one of '1' (got 1)"])
    }

    @Test func uniqueItemsTreatsEqualValuesAsDuplicates() throws {
        let duplicate = "body: must not contain duplicate items (items 0 and 1 are equal)"
        let unique = "{ type: array, uniqueItems: true }"
        #expect(try check(unique, "[1, 1.0]") == [duplicate])
        #expect(try check(unique, "[0, -0.0]") == [duplicate])
        #expect(try check(unique, #"[{"a": 1, "b": 2}, {"b": 2.0, "a": 1}]"#) == [duplicate])
        #expect(try check(unique, #"[1, "1", true, null, [1], {"a": 1}, 1.5]"#).isEmpty)
    }

    @Test func yamlNumberSpellingsBecomeTheirValues() throws {
        #expect(try check("{ enum: [+1, 0x1F, 1.50] }", "31").isEmpty)
        #expect(try check("{ enum: [+1, 0x1F, 1.50] }", "1").isEmpty)
        #expect(try check("{ enum: [+1, 0x1F, 1.50] }", "1.5").isEmpty)
        #expect(try check("{ minimum: 1e1 }", "9") == ["body: must be at least 10 (got 9)"])
        // `.inf` is no JSON number, so it stays a string and the keyword is refused when the document loads.
        let infinite = try #require(throws: OpenAPISpecError.self) {
            try OpenAPITestSupport.bodySpec("{ maximum: .inf }")
        }
        #expect(infinite.reason.hasSuffix("'maximum' must be a number"))
    }

    @Test func numbersBeyondDoubleRangeAreRefused() throws {
        #expect(try check("{}", #"{"a": [1e400]}"#) == ["body: is not valid JSON: number 1e400 is out of range"])
        let document = #"{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "x-big": -1e999, "paths": {}}"#
        let error = try #require(throws: OpenAPISpecError.self) {
            try OpenAPISpec(contents: document, format: .json, file: "big.json")
        }
        #expect(error.code == .invalidSyntax)
        #expect(error.reason == "is not valid JSON: number -1e999 is out of range")
    }
}
