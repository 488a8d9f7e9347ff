// Binary content mode: every `ce-*` header is one attribute (header value percent-decoded), the body is
// the data and Content-Type is `datacontenttype`.

enum BinaryModeParser {
    static let headerPrefix = "ce-"

    /// True when any header is a `ce-*` attribute header.
    static func hasAttributeHeaders(_ headers: [(name: String, value: String)]) -> Bool {
        headers.contains { isAttributeHeader($0.name) }
    }

    static func isAttributeHeader(_ name: String) -> Bool {
        name.utf8.count >= headerPrefix.utf8.count && name.lowercased().hasPrefix(headerPrefix)
    }

    /// Reads the attributes and data of a binary-mode request.
    static func parse(
        headers: [(name: String, value: String)], contentType: String?, body: [UInt8]
    ) throws(CloudEventError) -> RawCloudEvent {
        var attributes: [String: JSONValue] = [:]
        for (name, value) in headers where isAttributeHeader(name) {
            let attribute = String(name.lowercased().dropFirst(headerPrefix.count))
            guard !attribute.isEmpty else {
                throw CloudEventError.invalid(name, "header '\(name)' names no attribute")
            }
            guard attributes[attribute] == nil else {
                throw CloudEventError.invalid(attribute, "attribute '\(attribute)' is given more than once")
            }
            let decoded: String
            do {
                decoded = try HeaderValueCoding.decode(value)
            } catch {
                throw CloudEventError.invalid(attribute, "header '\(headerPrefix)\(attribute)' \(error.reason)")
            }
            attributes[attribute] = .string(decoded)
        }
        if let contentType {
            attributes["datacontenttype"] = .string(contentType)
        }
        return RawCloudEvent(attributes: attributes, data: body.isEmpty ? .none : .bytes(body))
    }
}
