// Decoding of `transform:` with its defaults, and the semantic problems the validator reports.
import Foundation
import GatewayCore
import Testing

@Suite struct BodyTransformConfigTests {
    private func decode(_ json: String) throws -> BodyTransformConfig {
        try JSONDecoder().decode(BodyTransformConfig.self, from: Data(json.utf8))
    }

    private func problems(_ json: String) throws -> [String] {
        BodyTransformConfig.problems(try decode(json)).map { $0.path.joined(separator: ".") + ": " + $0.message }
    }

    @Test func defaults() throws {
        let config = try decode("{}")
        #expect(config.maxBodySize.bytes == 1 << 20)
        #expect(config.maxDepth == 64)
        #expect(config.request == nil && config.response == nil)
        let shape = try decode(#"{"request":{}}"#).request
        #expect(shape == BodyShapeConfig())
        #expect(shape?.isIdentity == true)
    }

    @Test func decodesEveryKey() throws {
        let config = try decode(
            #"""
            {"maxBodySize":"64KiB","maxDepth":10,
             "request":{"convert":"jsonToXml","allow":["user.name","items.id"],"deny":["password"],
                        "rename":{"user.name":"fullName"},"nest":"data","xmlRoot":"request"},
             "response":{"convert":"xmlToJson"}}
            """#)
        #expect(config.maxBodySize.bytes == 64 << 10 && config.maxDepth == 10)
        #expect(
            config.request
                == BodyShapeConfig(
                    convert: .jsonToXml, allow: ["user.name", "items.id"], deny: ["password"],
                    rename: ["user.name": "fullName"], nest: "data", xmlRoot: "request"))
        #expect(config.response?.convert == .xmlToJson)
        #expect(config.response?.isIdentity == false)
        #expect(try problems(#"{"request":{"convert":"jsonToXml","xmlRoot":"request","allow":["a"]}}"#).isEmpty)
    }

    @Test func reportsProblemsWithTheirPaths() throws {
        let found = try problems(
            #"""
            {"maxDepth":0,
             "request":{"allow":["user..name","id"],"deny":["id",""],"rename":{"a":"","b":"x.y","id":"z"},
                        "nest":"","xmlRoot":"r"},
             "response":{"convert":"jsonToXml","allow":[],"xmlRoot":"a b","rename":{"c":"1c"}}}
            """#)
        #expect(
            found == [
                "maxDepth: must be between 1 and 512",
                "request.allow: 'user..name' has an empty segment",
                "request.deny: 'id' is both allowed and denied",
                "request.deny: a path is empty",
                "request.rename.a: the new name is empty",
                "request.rename.b: 'x.y' must be a key name, not a path",
                "request.rename.id: 'id' is denied, so renaming it has no effect",
                "request.nest: must not be empty",
                "request.xmlRoot: is only used with convert: jsonToXml",
                "response.allow: is empty, so every field would be dropped",
                "response.rename.c: '1c' is not a valid XML element name",
                "response.xmlRoot: 'a b' is not a valid XML element name",
            ])
    }

    @Test func nestMustBeAnXMLNameWhenItBecomesTheRoot() throws {
        #expect(
            try problems(#"{"request":{"convert":"jsonToXml","nest":"my data"}}"#)
                == ["request.nest: 'my data' is not a valid XML element name"])
        #expect(try problems(#"{"request":{"convert":"jsonToXml","nest":"my data","xmlRoot":"r"}}"#).isEmpty)
    }

    @Test(arguments: [
        ("a", true), ("soap:Envelope", true), ("_x-1.2", true), ("été", true), ("a b", false), ("1a", false),
        ("", false), ("-a", false), ("a>b", false),
    ])
    func xmlNames(name: String, valid: Bool) {
        #expect(BodyTransformConfig.isXMLName(name) == valid)
    }
}
