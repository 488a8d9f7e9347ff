// The CloudEvents HTTP binding, sending side, in binary mode: each attribute becomes a percent-encoded
// `ce-*` header, `datacontenttype` the Content-Type, and the data the body.

/// An event as a binary-mode HTTP message.
public struct BinaryModeMessage: Sendable {
    public var headers: [(String, String)]
    public var body: [UInt8]?
}

public enum BinaryModeEncoder {
    /// Headers and body carrying `event` in binary mode.
    public static func encode(_ event: CloudEvent) -> BinaryModeMessage {
        var headers: [(String, String)] = []
        for (name, value) in event.attributes where name != "datacontenttype" {
            headers.append((BinaryModeParser.headerPrefix + name, HeaderValueCoding.encode(value)))
        }
        if let contentType = event.datacontenttype {
            headers.append(("content-type", contentType))
        }
        return BinaryModeMessage(headers: headers, body: event.data)
    }
}
