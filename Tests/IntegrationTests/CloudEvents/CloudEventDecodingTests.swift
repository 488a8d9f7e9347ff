// Unit tests of the CloudEvents HTTP binding, receiving side: content-mode detection and the parsing and
// validation of binary, structured and batched requests. No sockets.
import Foundation
import Testing

@testable import CloudEventsGateway

@Suite("CloudEvents decoding")
struct CloudEventDecodingTests {
    static let required = ["specversion": "1.0", "id": "e-1", "source": "/shop/orders", "type": "shop.order.created"]

    func binary(
        _ attributes: [String: String] = required, contentType: String? = "application/json",
        body: String = "{\"a\":1}",
        extra: [(String, String)] = []
    ) throws(CloudEventError) -> CloudEventsHTTPDecoder.Decoded {
        var headers = attributes.map { (name: "ce-\($0.key)", value: $0.value) }
        headers += extra.map { (name: $0.0, value: $0.1) }
        if let contentType { headers.append((name: "content-type", value: contentType)) }
        return try CloudEventsHTTPDecoder.decode(
            contentType: contentType, headers: headers, body: Array(body.utf8), maxBatchSize: 10)
    }

    func structured(_ json: String, contentType: String = "application/cloudevents+json") throws(CloudEventError)
        -> CloudEventsHTTPDecoder.Decoded
    {
        try CloudEventsHTTPDecoder.decode(
            contentType: contentType, headers: [(name: "content-type", value: contentType)], body: Array(json.utf8),
            maxBatchSize: 3)
    }

    /// The error a decode throws (fails the test when it does not throw).
    func rejection(_ decode: () throws(CloudEventError) -> CloudEventsHTTPDecoder.Decoded) -> CloudEventError? {
        do {
            let decoded = try decode()
            Issue.record("expected a rejection, got \(decoded)")
            return nil
        } catch {
            return error
        }
    }

    // MARK: binary mode

    @Test func binaryModeEvent() throws {
        let decoded = try binary(
            Self.required.merging(["time": "2024-05-01T12:30:00.25+02:00", "subject": "o-1", "tenant": "acme"]) { $1 })
        #expect(decoded.mode == .binary)
        let event = try #require(decoded.events.first)
        #expect(event.id == "e-1" && event.source == "/shop/orders" && event.type == "shop.order.created")
        #expect(event.datacontenttype == "application/json")
        #expect(event.subject == "o-1" && event.time == "2024-05-01T12:30:00.25+02:00")
        #expect(event.extensions == ["tenant": "acme"])
        #expect(event.data == Array("{\"a\":1}".utf8))
    }

    @Test func binaryModeHeaderNamesAreCaseInsensitiveAndValuesPercentDecoded() throws {
        let headers: [(name: String, value: String)] = [
            ("CE-SpecVersion", "1.0"), ("Ce-Id", "e-1"), ("ce-source", "/a"), ("ce-type", "t"),
            ("ce-subject", "Euro%20%E2%82%AC"), ("ce-note", "\"quoted \\\"x\\\"\""),
        ]
        let event = try #require(
            try CloudEventsHTTPDecoder.decode(contentType: nil, headers: headers, body: [], maxBatchSize: 1).events
                .first)
        #expect(event.subject == "Euro €")
        #expect(event.extensions["note"] == "quoted \"x\"")
        #expect(event.data == nil && event.datacontenttype == nil)
    }

    @Test(arguments: ["id", "source", "specversion", "type"])
    func binaryModeMissingRequiredAttribute(_ name: String) {
        var attributes = Self.required
        attributes[name] = nil
        let error = rejection { () throws(CloudEventError) in try binary(attributes) }
        #expect(error?.kind == .invalid)
        #expect(error?.attribute == name)
        #expect(error?.gatewayError.details["attribute"] == name)
        #expect(error?.gatewayError.code.httpStatus == 400)
    }

    @Test func binaryModeEmptyRequiredAttribute() {
        let error = rejection { () throws(CloudEventError) in try binary(Self.required.merging(["type": ""]) { $1 }) }
        #expect(error?.attribute == "type")
    }

    @Test func binaryModeInvalidPercentEncodingIsRejected() {
        for value in ["100%", "%zz", "%C0%A0"] {
            let error = rejection { () throws(CloudEventError) in
                try binary(Self.required.merging(["subject": value]) { $1 })
            }
            #expect(error?.attribute == "subject", "value \(value)")
        }
    }

    @Test func binaryModeBadExtensionName() {
        let error = rejection { () throws(CloudEventError) in
            try binary(Self.required.merging(["my_ext": "x"]) { $1 })
        }
        #expect(error?.attribute == "my_ext")
        #expect(error?.message.contains("lower-case") == true)
    }

    @Test func longExtensionNamesAreAcceptedButReservedOnesAreNot() throws {
        let long = String(repeating: "a", count: 25)
        #expect(try binary(Self.required.merging([long: "x"]) { $1 }).events.first?.extensions[long] == "x")
        let error = rejection { () throws(CloudEventError) in try binary(Self.required.merging(["data": "x"]) { $1 }) }
        #expect(error?.attribute == "data")
    }

    @Test func requestWithoutCloudEventIsUnsupportedMediaType() {
        let error = rejection { () throws(CloudEventError) in
            try CloudEventsHTTPDecoder.decode(
                contentType: "application/json", headers: [(name: "content-type", value: "application/json")],
                body: Array("{}".utf8), maxBatchSize: 1)
        }
        #expect(error?.kind == .unsupportedMediaType)
        #expect(error?.gatewayError.code.httpStatus == 415)
    }

    @Test(arguments: ["application/cloudevents+xml", "application/cloudevents", "application/cloudevents-batch+avro"])
    func otherEventFormatsAreUnsupported(_ contentType: String) {
        let error = rejection { () throws(CloudEventError) in try structured("{}", contentType: contentType) }
        #expect(error?.gatewayError.code.httpStatus == 415)
    }

    // MARK: structured mode

    @Test func structuredModeEventWithJSONData() throws {
        let decoded = try structured(
            #"{"specversion":"1.0","id":"e-2","source":"urn:shop:orders","type":"shop.order.created","#
                + #""time":"2024-02-29T23:59:60Z","tenant":"acme","priority":5,"urgent":true,"unset":null,"#
                + #""data":{"orderId":"o-1","totalCents":1250,"ratio":1.50}}"#,
            contentType: "application/cloudevents+json; charset=utf-8")
        #expect(decoded.mode == .structured)
        let event = try #require(decoded.events.first)
        #expect(event.source == "urn:shop:orders")
        #expect(event.extensions == ["tenant": "acme", "priority": "5", "urgent": "true"])
        #expect(event.datacontenttype == "application/json")  // implied by the JSON format
        #expect(event.data == Array(#"{"orderId":"o-1","totalCents":1250,"ratio":1.50}"#.utf8))
    }

    @Test func structuredModeStringDataWithNonJSONContentTypeIsTheText() throws {
        let event = try #require(
            try structured(
                #"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","#
                    + #""data":"hi \"you\""}"#
            ).events.first)
        #expect(event.data == Array("hi \"you\"".utf8))
    }

    @Test func structuredModeDataBase64IsDecoded() throws {
        let payload: [UInt8] = [0x00, 0xFF, 0x10, 0x80]
        let event = try #require(
            try structured(
                #"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","#
                    + #""data_base64":"\#(Data(payload).base64EncodedString())"}"#
            ).events.first)
        #expect(event.data == payload)
        #expect(event.datacontenttype == "application/octet-stream")
    }

    @Test func structuredModeBadDataBase64() {
        for member in [#""data_base64":"not base64!""#, #""data_base64":42"#, #""data":{},"data_base64":"AA==""#] {
            let error = rejection { () throws(CloudEventError) in
                try structured(#"{"specversion":"1.0","id":"1","source":"/s","type":"t",\#(member)}"#)
            }
            #expect(error?.attribute == "data_base64", "\(member)")
        }
    }

    @Test(arguments: ["id", "source", "specversion", "type"])
    func structuredModeMissingRequiredAttribute(_ name: String) {
        var members = Self.required
        members[name] = nil
        let json = "{" + members.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}"
        let error = rejection { () throws(CloudEventError) in try structured(json) }
        #expect(error?.attribute == name)
        #expect(error?.message.contains(name) == true)
    }

    @Test func structuredModeNullRequiredAttributeIsMissing() {
        let error = rejection { () throws(CloudEventError) in
            try structured(#"{"specversion":"1.0","id":null,"source":"/s","type":"t"}"#)
        }
        #expect(error?.attribute == "id")
    }

    @Test func structuredModeNonStringRequiredAttribute() {
        let error = rejection { () throws(CloudEventError) in
            try structured(#"{"specversion":"1.0","id":7,"source":"/s","type":"t"}"#)
        }
        #expect(error?.attribute == "id")
    }

    @Test(arguments: ["0.3", "1", "2.0", "1.0 "])
    func badSpecVersion(_ version: String) {
        let error = rejection { () throws(CloudEventError) in
            try structured(#"{"specversion":"\#(version)","id":"1","source":"/s","type":"t"}"#)
        }
        #expect(error?.attribute == "specversion")
        #expect(error?.message.contains("1.0") == true)
    }

    @Test(arguments: [
        "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00",
        "2024-05-01T24:00:00Z", "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+2:00", "yesterday", "",
    ])
    func badTime(_ time: String) {
        let error = rejection { () throws(CloudEventError) in
            try structured(#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"\#(time)"}"#)
        }
        #expect(error?.attribute == "time")
    }

    @Test(arguments: ["2024-05-01T12:00:00Z", "2024-05-01t12:00:00.123456789z", "2024-02-29T12:00:00-07:30"])
    func goodTime(_ time: String) throws {
        let event = try structured(#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"\#(time)"}"#)
        #expect(event.events.first?.time == time)
    }

    @Test func badSourceAndDataSchema() {
        for (member, attribute) in [
            (#""source":"has space""#, "source"), (#""source":"1abc:x""#, "source"), (#""source":"/a%zz""#, "source"),
            (#""source":"/s","dataschema":"relative/path""#, "dataschema"),
        ] {
            let error = rejection { () throws(CloudEventError) in
                try structured(#"{"specversion":"1.0","id":"1","type":"t",\#(member)}"#)
            }
            #expect(error?.attribute == attribute, "\(member)")
        }
    }

    @Test func badExtensionNamesAndValues() {
        for (member, attribute) in [
            (#""Tenant":"x""#, "Tenant"), (#""my-ext":"x""#, "my-ext"), (#""ext":{"a":1}"#, "ext"),
            (#""ext":1.5"#, "ext"), (#""ext":4294967296"#, "ext"), (#""ext":[1]"#, "ext"),
        ] {
            let error = rejection { () throws(CloudEventError) in
                try structured(#"{"specversion":"1.0","id":"1","source":"/s","type":"t",\#(member)}"#)
            }
            #expect(error?.attribute == attribute, "\(member)")
        }
    }

    @Test func malformedStructuredBodies() {
        for body in ["", "{", "[]", "\"event\"", "{\"id\":\"\u{01}\"}", String(repeating: "[", count: 5000)] {
            let error = rejection { () throws(CloudEventError) in try structured(body) }
            #expect(error?.kind == .invalid, "\(body.prefix(20))")
        }
    }

    /// The example of the demo event type's JSON Schema, sent with that schema as `dataschema`, is accepted.
    @Test func demoEventTypeSchemaExample() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Protocols/cloudevents/shop.order.created.json")
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let id = try #require(schema["$id"] as? String)
        let example = try #require((schema["examples"] as? [Any])?.first)
        let data = String(decoding: try JSONSerialization.data(withJSONObject: example), as: UTF8.self)
        let event = try #require(
            try structured(
                #"{"specversion":"1.0","id":"o-1001","source":"/shop/orders","type":"shop.order.created","#
                    + #""dataschema":"\#(id)","data":\#(data)}"#
            ).events.first)
        #expect(event.dataschema == id)
        #expect(CloudEventFilter(prefix: ["type": "shop."]).matches(event))
    }

    // MARK: batched mode

    func batch(_ json: String) throws(CloudEventError) -> CloudEventsHTTPDecoder.Decoded {
        try structured(json, contentType: "application/cloudevents-batch+json")
    }

    @Test func batchedModeEvents() throws {
        let decoded = try batch(
            #"[{"specversion":"1.0","id":"1","source":"/s","type":"a","data":[1,2]},"#
                + #"{"specversion":"1.0","id":"2","source":"/s","type":"b","data_base64":"aGk="}]"#)
        #expect(decoded.mode == .batched)
        #expect(decoded.events.map(\.id) == ["1", "2"])
        #expect(decoded.events[0].data == Array("[1,2]".utf8))
        #expect(decoded.events[1].data == Array("hi".utf8))
    }

    @Test func batchWithOneInvalidEventIsRejectedWhole() {
        let error = rejection { () throws(CloudEventError) in
            try batch(
                #"[{"specversion":"1.0","id":"1","source":"/s","type":"a"},"#
                    + #"{"specversion":"1.0","id":"2","source":"/s"}]"#)
        }
        #expect(error?.attribute == "type")
        #expect(error?.index == 1)
        #expect(error?.gatewayError.details == ["attribute": "type", "index": "1"])
        #expect(error?.message.contains("whole batch was rejected") == true)
    }

    @Test func emptyBatchIsBadRequest() {
        let error = rejection { () throws(CloudEventError) in try batch("[]") }
        #expect(error?.gatewayError.code.httpStatus == 400)
    }

    @Test func oversizedBatchIsTooLarge() {
        let event = #"{"specversion":"1.0","id":"1","source":"/s","type":"a"}"#
        let error = rejection { () throws(CloudEventError) in
            try batch("[" + Array(repeating: event, count: 4).joined(separator: ",") + "]")
        }
        #expect(error?.kind == .batchTooLarge)
        #expect(error?.gatewayError.code.httpStatus == 413)
    }

    @Test func batchEntriesMustBeObjects() {
        let error = rejection { () throws(CloudEventError) in
            try batch(#"[{"specversion":"1.0","id":"1","source":"/s","type":"a"}, 7]"#)
        }
        #expect(error?.index == 1)
        #expect(error?.kind == .invalid)
    }

    @Test func problemDetailsNameTheAttribute() throws {
        let error = try #require(rejection { () throws(CloudEventError) in try batch(#"[{"specversion":"1.0"}]"#) })
        let body = error.gatewayError.problemDetails(instance: "/", requestID: "r-1")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(object["status"] as? Int == 400)
        #expect(object["attribute"] as? String == "id")
        #expect(object["index"] as? String == "0")
    }
}
