// JSON⇄XML conversion: the documented convention both ways, escaping, round trips, and the refusals
// (DOCTYPE, encodings, depth) and parse errors of XML input.
import GatewayCore
import Testing

@testable import RESTGateway

@Suite struct XMLToJSONTests {
    let toJSON = BodyShapeConfig(convert: .xmlToJson)

    @Test func rootElementBecomesTheOnlyKeyAndTextIsAString() throws {
        let out = try applyTransform(
            toJSON, "<user><id>1</id><name> Ada </name></user>", contentType: "application/xml")
        #expect(out.body == #"{"user":{"id":"1","name":" Ada "}}"#)
        #expect(out.contentType == "application/json")
    }

    @Test func attributesRepeatedSiblingsTextAndEmptyElements() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <order id="7" status="open">
              <item sku="a">Pen</item>
              <note/>
              <item sku="b"/>
              <item>Ink &amp; paper</item>
              <total currency="EUR">12.50</total>
            </order>
            """
        let out = try applyTransform(toJSON, xml, contentType: "text/xml; charset=utf-8")
        #expect(
            out.body
                == ##"{"order":{"@id":"7","@status":"open","item":[{"#text":"Pen","@sku":"a"},{"@sku":"b"},"Ink & paper"],"note":"","total":{"#text":"12.50","@currency":"EUR"}}}"##
        )
    }

    @Test func mixedContentTextIsTrimmedAndCDATAIsText() throws {
        let out = try applyTransform(toJSON, "<p>\n  Hello <b>world</b>\n</p>", contentType: nil)
        #expect(out.body == ##"{"p":{"#text":"Hello","b":"world"}}"##)
        let cdata = try applyTransform(toJSON, "<a><![CDATA[x < y & z]]></a>", contentType: "application/soap+xml")
        #expect(cdata.body == #"{"a":"x < y & z"}"#)
    }

    @Test func qualifiedNamesAreKeptAsWritten() throws {
        let xml = #"<soap:Envelope xmlns:soap="urn:s"><soap:Body><m:get xmlns:m="urn:m"/></soap:Body></soap:Envelope>"#
        let out = try applyTransform(toJSON, xml, contentType: "application/xml")
        #expect(out.body == #"{"soap:Envelope":{"@xmlns:soap":"urn:s","soap:Body":{"m:get":{"@xmlns:m":"urn:m"}}}}"#)
    }

    @Test func shapingPathsStartAtTheRootElement() throws {
        let shape = BodyShapeConfig(
            convert: .xmlToJson, deny: ["user.password", "user.item.@secret"], rename: ["user.id": "userId"])
        let xml = #"<user><id>1</id><password>p</password><item secret="s" n="1"/><item n="2"/></user>"#
        let out = try applyTransform(shape, xml, contentType: "application/xml")
        #expect(out.body == #"{"user":{"item":[{"@n":"1"},{"@n":"2"}],"userId":"1"}}"#)
    }

    @Test func doctypeIsRefused() {
        let bomb = """
            <?xml version="1.0"?>
            <!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
            <lolz>&lol2;</lolz>
            """
        let error = transformFailure(toJSON, bomb, contentType: "application/xml", side: .response)
        #expect(error?.code == .refusedMarkup)
        #expect(
            error?.description
                == "the response body declares a DOCTYPE, which is refused (DTDs and entities are not processed)")
        let external = #"<!doctype a SYSTEM "file:///etc/passwd"><a>&x;</a>"#
        #expect(transformFailure(toJSON, external, contentType: "application/xml")?.code == .refusedMarkup)
    }

    @Test func utf16AndOtherEncodingsAreRefused() throws {
        let transformer = BodyTransformer(toJSON, side: .response)
        let utf16 = Array("<a/>".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(throws: BodyTransformError.self) { try transformer.apply(utf16, contentType: "application/xml") }
        let error = transformFailure(
            toJSON, #"<?xml version="1.0" encoding="UTF-7"?><a/>"#, contentType: "application/xml")
        #expect(
            error?.description
                == "the request body declares encoding 'UTF-7'; only UTF-8, US-ASCII and ISO-8859-1 are accepted")
        let latin1: [UInt8] =
            Array(#"<?xml version="1.0" encoding="ISO-8859-1"?><a>caf"#.utf8) + [0xE9] + Array("</a>".utf8)
        let out = try transformer.apply(latin1, contentType: "application/xml")
        #expect(String(decoding: out.body, as: UTF8.self) == #"{"a":"café"}"#)
    }

    @Test(arguments: [
        (
            "<a>\n  <b>\n</a>",
            "the response body is not well-formed XML at line 3: a closing tag does not match its opening tag"
        ),
        ("<a></a><b/>", "the response body is not well-formed XML at line 1: extra content after the root element"),
        (
            "<a>AT&T</a>",
            "the response body is not well-formed XML at line 1: a '<' or '&' not followed by a valid name (write &lt; and &amp; in text)"
        ),
        (
            "<a x=1/>",
            "the response body is not well-formed XML at line 1: an attribute value without quotes or without its closing quote"
        ),
        (
            "<a>&nbsp;</a>",
            "the response body is not well-formed XML at line 1: an undeclared entity (only &amp; &lt; &gt; &quot; &apos; are known)"
        ),
        ("<a", "the response body is not well-formed XML at line 1: there is no complete root element"),
        ("<a>\n<b>", "the response body is not well-formed XML at line 2: the document ends before </b>"),
        ("hello", "the response body is not well-formed XML at line 1: text before the root element"),
        ("\n\n", "the response body is not well-formed XML at line 3: there is no root element"),
    ])
    func malformedXMLIsDescribed(body: String, message: String) {
        let error = transformFailure(toJSON, body, contentType: "application/xml", side: .response)
        #expect(error?.code == .invalidXML)
        #expect(error?.description == message)
    }

    @Test func nestingBeyondTheLimitIsRefused() throws {
        let nested = { (depth: Int) in
            String(repeating: "<a>", count: depth) + String(repeating: "</a>", count: depth)
        }
        #expect(throws: Never.self) {
            try applyTransform(toJSON, nested(4), contentType: "application/xml", maxDepth: 4)
        }
        let error = transformFailure(toJSON, nested(5), contentType: "application/xml", maxDepth: 4)
        #expect(error?.description == "the request body nests deeper than 4 levels")
        #expect(transformFailure(toJSON, nested(10_000), contentType: "application/xml")?.code == .tooDeep)
    }

    @Test func refusesANonXMLContentType() {
        let error = transformFailure(toJSON, "<a/>", contentType: "application/json")
        #expect(error?.description == "the request body is application/json; expected an XML body")
    }

    @Test func convertsOnManyTasksAtOnce() async throws {
        let transformer = BodyTransformer(toJSON, side: .response)
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<32 {
                group.addTask {
                    let xml = Array("<n><v>\(index)</v></n>".utf8)
                    return String(
                        decoding: try transformer.apply(xml, contentType: "application/xml").body, as: UTF8.self)
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(results == Set((0..<32).map { #"{"n":{"v":"\#($0)"}}"# }))
    }
}
