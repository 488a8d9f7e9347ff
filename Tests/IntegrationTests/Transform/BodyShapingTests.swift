// Allow, deny, rename and nest on JSON bodies: paths through objects and arrays, order of the steps,
// pass-through cases and content type handling.
import GatewayCore
import Testing

@testable import RESTGateway

@Suite struct BodyShapingTests {
    let user =
        #"{"user":{"name":"Ada","ssn":"123","age":36},"password":"x","items":[{"id":1,"price":2},{"id":2,"price":3}]}"#

    @Test func allowKeepsOnlyListedPathsAndTheirContainers() throws {
        let out = try applyTransform(.init(allow: ["user.name", "items.id"]), user)
        #expect(out.body == #"{"items":[{"id":1},{"id":2}],"user":{"name":"Ada"}}"#)
        #expect(out.contentType == "application/json")
    }

    @Test func allowOnAParentKeepsItsSubtree() throws {
        let out = try applyTransform(.init(allow: ["user"]), user)
        #expect(out.body == #"{"user":{"age":36,"name":"Ada","ssn":"123"}}"#)
    }

    @Test func allowDropsScalarsWhereAPathExpectsAnObject() throws {
        let out = try applyTransform(
            .init(allow: ["tags.name", "missing.field"]), #"{"tags":["a",{"name":"b","x":1}],"k":1}"#)
        #expect(out.body == #"{"tags":[{"name":"b"}]}"#)
    }

    @Test func allowOnATopLevelArrayAppliesToEachElement() throws {
        let out = try applyTransform(.init(allow: ["id"]), #"[{"id":1,"x":2},{"id":3}]"#)
        #expect(out.body == #"[{"id":1},{"id":3}]"#)
    }

    @Test func denyRemovesPathsInObjectsAndArrayElements() throws {
        let out = try applyTransform(.init(deny: ["password", "user.ssn", "items.price", "no.such.path"]), user)
        #expect(out.body == #"{"items":[{"id":1},{"id":2}],"user":{"age":36,"name":"Ada"}}"#)
    }

    @Test func denyReachesArraysNestedInArrays() throws {
        let out = try applyTransform(.init(deny: ["rows.secret"]), #"{"rows":[[{"secret":1,"a":1}],[{"secret":2}]]}"#)
        #expect(out.body == #"{"rows":[[{"a":1}],[{}]]}"#)
    }

    @Test func renameChangesTheKeyAtTheSameLevel() throws {
        let out = try applyTransform(.init(rename: ["user.name": "fullName", "items.id": "itemId"]), user)
        #expect(
            out.body
                == #"{"items":[{"itemId":1,"price":2},{"itemId":2,"price":3}],"password":"x","user":{"age":36,"fullName":"Ada","ssn":"123"}}"#
        )
    }

    @Test func renameOfAParentAndItsChildUsesOriginalPaths() throws {
        let out = try applyTransform(
            .init(rename: ["user": "person", "user.name": "fullName"]), #"{"user":{"name":"Ada"}}"#)
        #expect(out.body == #"{"person":{"fullName":"Ada"}}"#)
    }

    @Test func renameOntoAnExistingKeyReplacesIt() throws {
        let out = try applyTransform(.init(rename: ["a": "b"]), #"{"a":1,"b":2}"#)
        #expect(out.body == #"{"b":1}"#)
    }

    @Test func nestWrapsTheShapedDocument() throws {
        let out = try applyTransform(.init(deny: ["password"], nest: "data"), #"{"password":"x","id":7}"#)
        #expect(out.body == #"{"data":{"id":7}}"#)
    }

    @Test func stepsRunInOrderAllowDenyRenameNest() throws {
        let shape = BodyShapeConfig(
            allow: ["user"], deny: ["user.ssn"], rename: ["user.name": "fullName"], nest: "payload")
        let out = try applyTransform(shape, user)
        #expect(out.body == #"{"payload":{"user":{"age":36,"fullName":"Ada"}}}"#)
    }

    @Test func numbersAndStringsComeOutExactly() throws {
        let body = #"{"big":18446744073709551617,"dec":1.10,"exp":-2E+3,"s":"é\n\"\u0001/","t":true,"n":null}"#
        let out = try applyTransform(.init(deny: ["x"]), body)
        #expect(
            out.body == #"{"big":18446744073709551617,"dec":1.10,"exp":-2E+3,"n":null,"s":"é\n\"\u0001/","t":true}"#)
    }

    @Test func emptyBodyAndIdentityPassThrough() throws {
        let shaping = BodyTransformer(.init(deny: ["a"]), side: .request)
        let empty = try shaping.apply([], contentType: "text/plain")
        #expect(empty.body.isEmpty && empty.contentType == "text/plain")

        let identity = BodyTransformer(.init(), side: .request)
        #expect(identity.isIdentity && !shaping.isIdentity)
        let raw = Array("not json at all".utf8)
        #expect(try identity.apply(raw, contentType: "text/plain").body == raw)
    }

    @Test func keepsAJSONSubtypeAndAcceptsAMissingContentType() throws {
        let problem = try applyTransform(.init(deny: ["a"]), #"{"a":1,"b":2}"#, contentType: "application/problem+json")
        #expect(problem.contentType == "application/problem+json")
        let untyped = try applyTransform(.init(deny: ["a"]), #"{"a":1,"b":2}"#, contentType: nil)
        #expect(untyped.body == #"{"b":2}"# && untyped.contentType == "application/json")
    }

    @Test func refusesANonJSONContentType() {
        let error = transformFailure(.init(deny: ["a"]), "hello", contentType: "text/plain; charset=utf-8")
        #expect(error?.code == .unexpectedContentType)
        #expect(error?.description == "the request body is text/plain; expected a JSON body")
        #expect(error?.status == 400)
    }

    @Test func refusesABodyOverTheLimitNamingTheSize() {
        let error = transformFailure(
            .init(deny: ["a"]), #"{"a":"\#(String(repeating: "x", count: 2000))"}"#, side: .response, maxBodySize: 1024)
        #expect(error?.description == "the response body is larger than 1 KiB")
        #expect(error?.status == 502)
    }

    @Test func refusesOutputThatGrowsPastFourTimesTheLimit() {
        let items = Array(repeating: "1", count: 400).joined(separator: ",")
        let longName = String(repeating: "n", count: 60)
        let error = transformFailure(
            .init(rename: ["a": longName]), "[\(Array(repeating: #"{"a":1}"#, count: 100).joined(separator: ","))]",
            maxBodySize: 1024)
        #expect(error?.code == .tooLarge)
        #expect(error?.description == "the request body would be larger than 4 KiB")
        #expect(transformFailure(.init(deny: ["x"]), "[\(items)]", maxBodySize: 1024) == nil)
    }

    @Test func wholeConfigPicksTheSide() throws {
        let config = BodyTransformConfig(
            maxBodySize: .init(bytes: 2048), request: .init(deny: ["a"]), response: nil)
        let request = BodyTransformer(config, side: .request)
        let response = BodyTransformer(config, side: .response)
        #expect(!request.isIdentity && response.isIdentity)
        #expect(request.maxBodySize == 2048)
    }
}
