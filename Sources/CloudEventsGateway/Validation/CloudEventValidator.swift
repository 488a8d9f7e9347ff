// Turns a raw event into a valid ``CloudEvent`` or says which attribute is wrong (CloudEvents 1.0):
// required `specversion` ("1.0"), `id`, `source` (URI-reference), `type`; optional `datacontenttype`,
// `dataschema` (URI), `subject`, `time` (RFC 3339); extension names and values; `data` / `data_base64`.
import Foundation

public enum CloudEventValidator {
    /// The only specification version this gateway accepts.
    public static let specVersion = "1.0"
    /// Extension names longer than this are allowed but discouraged by the specification.
    public static let recommendedNameLength = 20

    /// Whether `name` is a valid attribute name: lower-case ASCII letters and digits only.
    public static func isValidAttributeName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func validate(_ raw: RawCloudEvent) throws(CloudEventError) -> CloudEvent {
        let attributes = raw.attributes
        // specversion first: without a version we understand, nothing else can be interpreted.
        let specversion = try requiredString("specversion", in: attributes)
        guard specversion == specVersion else {
            throw CloudEventError.invalid(
                "specversion", "specversion '\(specversion)' is not supported; it must be \"\(specVersion)\"")
        }
        var event = CloudEvent(
            id: try requiredString("id", in: attributes),
            source: try requiredString("source", in: attributes),
            type: try requiredString("type", in: attributes))
        guard URIReference.isValidReference(event.source) else {
            throw CloudEventError.invalid("source", "attribute 'source' must be a URI-reference (RFC 3986)")
        }
        event.datacontenttype = try optionalString("datacontenttype", in: attributes)
        if let contentType = event.datacontenttype, !MediaType.isValid(contentType) {
            throw CloudEventError.invalid(
                "datacontenttype", "attribute 'datacontenttype' must be a media type such as application/json")
        }
        event.dataschema = try optionalString("dataschema", in: attributes)
        if let schema = event.dataschema, !URIReference.isValidAbsolute(schema) {
            throw CloudEventError.invalid("dataschema", "attribute 'dataschema' must be an absolute URI (RFC 3986)")
        }
        event.subject = try optionalString("subject", in: attributes)
        event.time = try optionalString("time", in: attributes)
        if let time = event.time, !RFC3339Timestamp.isValid(time) {
            throw CloudEventError.invalid(
                "time", "attribute 'time' must be an RFC 3339 timestamp such as 2024-05-01T12:30:00Z")
        }
        for name in attributes.keys.sorted() where !CloudEvent.specAttributes.contains(name) {
            event.extensions[name] = try extensionValue(name, attributes[name] ?? .null)
        }
        event.data = try data(of: raw, event: &event)
        return event
    }

    // MARK: attributes

    static func requiredString(_ name: String, in attributes: [String: JSONValue]) throws(CloudEventError) -> String {
        guard let value = try optionalString(name, in: attributes) else {
            throw CloudEventError.invalid(name, "required attribute '\(name)' is missing")
        }
        return value
    }

    /// A spec-defined attribute: absent, or a non-empty string without control characters.
    static func optionalString(_ name: String, in attributes: [String: JSONValue]) throws(CloudEventError) -> String? {
        guard let value = attributes[name] else { return nil }
        guard case .string(let text) = value else {
            throw CloudEventError.invalid(name, "attribute '\(name)' must be a string, not \(value.typeName)")
        }
        guard !text.isEmpty else { throw CloudEventError.invalid(name, "attribute '\(name)' must not be empty") }
        try checkCharacters(name, text)
        return text
    }

    static func checkCharacters(_ name: String, _ text: String) throws(CloudEventError) {
        let forbidden = text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
        if forbidden {
            throw CloudEventError.invalid(name, "attribute '\(name)' contains control characters")
        }
    }

    /// An extension attribute: a valid name, and a string, boolean or 32-bit integer value (canonical form).
    static func extensionValue(_ name: String, _ value: JSONValue) throws(CloudEventError) -> String {
        guard isValidAttributeName(name) else {
            throw CloudEventError.invalid(
                name,
                "extension attribute name '\(name)' is invalid: names use only lower-case letters a-z and "
                    + "digits 0-9 (at most \(recommendedNameLength) characters recommended)")
        }
        guard name != "data" else {
            throw CloudEventError.invalid(name, "'data' is reserved and cannot be an extension attribute")
        }
        switch value {
        case .string(let text):
            try checkCharacters(name, text)
            return text
        case .bool(let flag):
            return flag ? "true" : "false"
        case .number(let literal):
            guard let integer = Int32(literal) else {
                throw CloudEventError.invalid(
                    name, "extension attribute '\(name)' must be a 32-bit integer, not \(literal)")
            }
            return String(integer)
        default:
            throw CloudEventError.invalid(
                name, "extension attribute '\(name)' must be a string, boolean or integer, not \(value.typeName)")
        }
    }

    // MARK: data

    /// The data bytes as a binary-mode body; sets the implied `application/json` content type of JSON data.
    static func data(of raw: RawCloudEvent, event: inout CloudEvent) throws(CloudEventError) -> [UInt8]? {
        guard !raw.hasConflictingData else {
            throw CloudEventError.invalid("data_base64", "an event cannot have both 'data' and 'data_base64'")
        }
        switch raw.data {
        case .none:
            return nil
        case .bytes(let bytes):
            return bytes
        case .json(let value):
            guard let contentType = event.datacontenttype else {
                // The JSON format: without datacontenttype, data is application/json.
                event.datacontenttype = "application/json"
                return value.serialized()
            }
            if !MediaType.isJSON(MediaType.essence(contentType)), case .string(let text) = value {
                return Array(text.utf8)
            }
            return value.serialized()
        case .base64(let value):
            guard case .string(let text) = value else {
                throw CloudEventError.invalid("data_base64", "'data_base64' must be a string, not \(value.typeName)")
            }
            guard let decoded = Data(base64Encoded: text) else {
                throw CloudEventError.invalid("data_base64", "'data_base64' is not valid base64 (RFC 4648)")
            }
            return Array(decoded)
        }
    }
}
