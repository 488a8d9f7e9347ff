// Malformed JSON bodies: each error names what is wrong and where, and the side it happened on.
import GatewayCore
import Testing

@testable import RESTGateway

@Suite struct JSONParsingTests {
    let shape = BodyShapeConfig(deny: ["x"])

    @Test(arguments: [
        (#"{"a":1,}"#, "expected a string key, found character '}' at line 1, column 8"),
        ("{\"a\":1,\n  \"b\" 2}", "expected ':' after a key, found character '2' at line 2, column 7"),
        (#"{"a":tru}"#, "unexpected character 't' at line 1, column 6"),
        (#"{"a":01}"#, "expected ',' or '}' in an object, found character '1' at line 1, column 7"),
        (#"[1,2"#, "expected ',' or ']' in an array, found end of input at line 1, column 5"),
        (#"{"a":"x"#, "unterminated string at line 1, column 6"),
        ("{\"a\":\"\u{1}\"}", "control character U+0001 in a string (escape it) at line 1, column 7"),
        (#"{"a":"\q"}"#, #"invalid escape '\q' at line 1, column 8"#),
        (#"{"a":"\ud800"}"#, #"a \u escape is an unpaired surrogate at line 1, column 13"#),
        (#"{"a":-}"#, "a number needs digits at line 1, column 7"),
        (#"{"a":1.}"#, "a number needs digits after '.' at line 1, column 8"),
        (#"{} {}"#, "unexpected character '{' after the value at line 1, column 4"),
        ("  ", "unexpected end of input at line 1, column 3"),
    ])
    func malformedJSONIsDescribed(body: String, reason: String) {
        let error = transformFailure(shape, body)
        #expect(error?.code == .invalidJSON)
        #expect(error?.description == "the request body is not valid JSON: \(reason)")
    }

    @Test func invalidUTF8IsRefused() throws {
        let transformer = BodyTransformer(shape, side: .response)
        #expect(throws: BodyTransformError.self) {
            try transformer.apply([0x22, 0xC3, 0x28, 0x22], contentType: "application/json")
        }
        do {
            _ = try transformer.apply([0x22, 0xC3, 0x28, 0x22], contentType: "application/json")
        } catch {
            #expect(
                error.description
                    == "the response body is not valid JSON: a string is not valid UTF-8 at line 1, column 1")
        }
    }

    @Test func surrogatePairsAndBOMAreAccepted() throws {
        let out = try applyTransform(shape, "\u{FEFF}" + #"{"e":"\ud83d\ude00"}"#)
        #expect(out.body == #"{"e":"😀"}"#)
    }

    @Test func nestingBeyondTheLimitIsRefused() throws {
        let deep = String(repeating: "[", count: 5) + String(repeating: "]", count: 5)
        #expect(try applyTransform(shape, deep, maxDepth: 5).body == "[[[[[]]]]]")
        let error = transformFailure(shape, "[" + deep + "]", maxDepth: 5)
        #expect(error?.code == .tooDeep)
        #expect(error?.description == "the request body nests deeper than 5 levels")
        let hostile = String(repeating: "[", count: 100_000)
        #expect(transformFailure(shape, hostile)?.description == "the request body nests deeper than 64 levels")
    }

    @Test func duplicateKeysKeepTheLastValue() throws {
        #expect(try applyTransform(shape, #"{"a":1,"a":2}"#).body == #"{"a":2}"#)
    }
}
