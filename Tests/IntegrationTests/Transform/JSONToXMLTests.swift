// JSON → XML: root choice, arrays, attributes and text, escaping, invalid names, and round trips
// through XML and back.
import GatewayCore
import Testing

@testable import RESTGateway

@Suite struct JSONToXMLTests {
    let toXML = BodyShapeConfig(convert: .jsonToXml)

    @Test func aSingleKeyBecomesTheRoot() throws {
        let out = try applyTransform(toXML, #"{"user":{"id":1,"name":"Ada","admin":false,"nick":null}}"#)
        #expect(
            out.body == expectedXMLDeclaration + "<user><id>1</id><name>Ada</name><admin>false</admin><nick/></user>")
        #expect(out.contentType == "application/xml")
    }

    @Test func otherDocumentsAreWrappedInRootOrXmlRoot() throws {
        #expect(
            try applyTransform(toXML, #"{"a":1,"b":2}"#).body == expectedXMLDeclaration
                + "<root><a>1</a><b>2</b></root>")
        #expect(
            try applyTransform(toXML, #"[1,{"x":"y"}]"#).body == expectedXMLDeclaration
                + "<root><item>1</item><item><x>y</x></item></root>")
        #expect(try applyTransform(toXML, #""hi""#).body == expectedXMLDeclaration + "<root>hi</root>")
        #expect(
            try applyTransform(toXML, #"{"items":[1,2]}"#).body == expectedXMLDeclaration
                + "<root><items>1</items><items>2</items></root>")
        let configured = BodyShapeConfig(convert: .jsonToXml, xmlRoot: "request")
        #expect(
            try applyTransform(configured, #"{"user":"x"}"#).body == expectedXMLDeclaration
                + "<request><user>x</user></request>")
    }

    @Test func arraysRepeatTheElementAndNestedArraysUseItem() throws {
        let out = try applyTransform(toXML, #"{"order":{"line":[{"sku":"a"},{"sku":"b"}],"grid":[[1,2],[3]]}}"#)
        #expect(
            out.body == expectedXMLDeclaration
                + "<order><line><sku>a</sku></line><line><sku>b</sku></line>"
                + "<grid><item>1</item><item>2</item></grid><grid><item>3</item></grid></order>")
    }

    @Test func atKeysBecomeAttributesAndHashTextBecomesText() throws {
        let out = try applyTransform(
            toXML, ##"{"total":{"@currency":"EUR","@exact":true,"#text":12.5},"e":{"@id":"1"}}"##)
        #expect(
            out.body == expectedXMLDeclaration
                + #"<root><total currency="EUR" exact="true">12.5</total><e id="1"/></root>"#)
    }

    @Test func textAndAttributeValuesAreEscaped() throws {
        let out = try applyTransform(toXML, ##"{"a":{"@q":"\"<&>'\n\t","#text":"x < y && z > \"w\"\r\n"}}"##)
        #expect(
            out.body == expectedXMLDeclaration
                + #"<a q="&quot;&lt;&amp;&gt;'&#10;&#9;">x &lt; y &amp;&amp; z &gt; "w"&#13;"#
                + "\n</a>")
    }

    @Test func keysInInputOrderBecomeElementsInThatOrder() throws {
        let out = try applyTransform(toXML, #"{"r":{"z":1,"a":2,"m":3}}"#)
        #expect(out.body == expectedXMLDeclaration + "<r><z>1</z><a>2</a><m>3</m></r>")
    }

    @Test func anInvalidNameIsAnErrorNamingTheKey() {
        let error = transformFailure(toXML, #"{"r":{"a b":1}}"#)
        #expect(error?.code == .notConvertible)
        #expect(
            error?.description == "the request body cannot be converted to XML: 'a b' is not a valid XML element name")
        #expect(
            transformFailure(toXML, #"{"r":{"1st":1}}"#, side: .response)?.description
                == "the response body cannot be converted to XML: '1st' is not a valid XML element name")
        #expect(
            transformFailure(toXML, #"{"r":{"@a b":1}}"#)?.description
                == "the request body cannot be converted to XML: 'a b' (from '@a b') is not a valid XML attribute name")
        #expect(
            transformFailure(toXML, #"{"r":{"@a":[1]}}"#)?.description
                == "the request body cannot be converted to XML: '@a' must be a string, number, boolean or null to become an attribute or text"
        )
    }

    @Test func controlCharactersCannotBeCarried() {
        #expect(
            transformFailure(toXML, #"{"r":"bell\u0007"}"#)?.description
                == "the request body cannot be converted to XML: the text contains U+0007, which XML 1.0 cannot carry")
    }

    @Test func shapingHappensBeforeConversionAndNestNamesTheRoot() throws {
        let shape = BodyShapeConfig(convert: .jsonToXml, deny: ["password"], rename: ["id": "userId"], nest: "user")
        let out = try applyTransform(shape, #"{"id":1,"password":"p"}"#)
        #expect(out.body == expectedXMLDeclaration + "<user><userId>1</userId></user>")
    }

    @Test func roundTripThroughXMLKeepsTheConvention() throws {
        let json =
            ##"{"order":{"@id":"7","item":[{"#text":"Pen","@sku":"a"},"Ink & <paper>"],"note":"","total":{"#text":"12.50","@currency":"EUR"}}}"##
        let xml = try applyTransform(toXML, json)
        let back = try applyTransform(.init(convert: .xmlToJson), xml.body, contentType: xml.contentType)
        #expect(back.body == json)
    }

    @Test func roundTripTurnsScalarsIntoStrings() throws {
        let xml = try applyTransform(toXML, #"{"r":{"n":1,"b":true,"z":null,"s":"x"}}"#)
        let back = try applyTransform(.init(convert: .xmlToJson), xml.body, contentType: xml.contentType)
        #expect(back.body == #"{"r":{"b":"true","n":"1","s":"x","z":""}}"#)
    }
}
