// JSON → XML for `convert: jsonToXml`: the mirror image of the XMLToJSON convention, written by hand
// because Foundation's XMLDocument is not available on Linux and a writer is a few lines of escaping.
import GatewayCore

/// Converts a `JSONValue` to an XML document (UTF-8, with an XML declaration) by this convention:
/// - Object members become child elements, in the object's order. A member whose value is an array
///   becomes one element per item, each named after the key; an item that is itself an array becomes
///   an element holding `<item>` elements.
/// - `"@name"` members become attributes and `"#text"` members become text; their values must be
///   strings, numbers, booleans or null.
/// - Strings are escaped; numbers and booleans are written as their JSON text; null (and an empty
///   object) becomes an empty element `<key/>`.
/// - The root: with `xmlRoot` configured the document is always wrapped in it. Without, a top-level
///   object with exactly one member that is an element (not `@`/`#text`) and not an array uses that
///   member's key as the root; anything else is wrapped in `<root>`. A top-level array becomes
///   `<item>` elements under the root.
/// - A key that is not a valid XML name, or text with a character XML 1.0 cannot carry (a control
///   character other than tab, line feed and carriage return), is an error naming it.
enum JSONToXML {
    static let defaultRoot = "root"

    static func convert(_ document: JSONValue, xmlRoot: String?, limit: Int, sizeHint: Int) throws(TransformFailure)
        -> [UInt8]
    {
        var out = OutputBuffer(limit: limit, reserving: sizeHint * 2)
        try out.put("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        let (name, value) = root(of: document, xmlRoot: xmlRoot)
        try writeElement(name, value, to: &out)
        return out.bytes
    }

    private static func root(of document: JSONValue, xmlRoot: String?) -> (String, JSONValue) {
        if let xmlRoot { return (xmlRoot, document) }
        if case .object(let object) = document, object.count == 1, let only = object.members.first,
            !only.key.hasPrefix("@"), only.key != "#text"
        {
            if case .array = only.value { return (defaultRoot, document) }
            return (only.key, only.value)
        }
        return (defaultRoot, document)
    }

    /// Writes `value` as the member `name` of an object: an array gives one element per item.
    private static func writeMember(_ name: String, _ value: JSONValue, to out: inout OutputBuffer)
        throws(TransformFailure)
    {
        if case .array(let items) = value {
            for item in items { try writeElement(name, item, to: &out) }
        } else {
            try writeElement(name, value, to: &out)
        }
    }

    /// Writes one element called `name` whose content is `value`.
    private static func writeElement(_ name: String, _ value: JSONValue, to out: inout OutputBuffer)
        throws(TransformFailure)
    {
        guard BodyTransformConfig.isXMLName(name) else {
            throw .notConvertible("'\(name)' is not a valid XML element name")
        }
        try out.put("<" + name)
        switch value {
        case .null:
            try out.put("/>")
            return
        case .bool, .number, .string:
            try out.put(">")
            try appendText(scalarText(value, member: name), to: &out)
        case .array(let items):
            try out.put(">")
            for item in items { try writeMember("item", item, to: &out) }
        case .object(let object):
            var text: String?
            var children: [JSONObject.Member] = []
            for member in object.members {
                if member.key.hasPrefix("@") {
                    let attribute = String(member.key.dropFirst())
                    guard BodyTransformConfig.isXMLName(attribute) else {
                        throw .notConvertible("'\(attribute)' (from '\(member.key)') is not a valid XML attribute name")
                    }
                    try out.put(" " + attribute + "=\"")
                    try appendEscaped(scalarText(member.value, member: member.key), attribute: true, to: &out)
                    try out.put("\"")
                } else if member.key == "#text" {
                    text = try scalarText(member.value, member: member.key)
                } else {
                    children.append(member)
                }
            }
            if children.isEmpty && (text ?? "").isEmpty {
                try out.put("/>")
                return
            }
            try out.put(">")
            if let text { try appendText(text, to: &out) }
            for child in children { try writeMember(child.key, child.value, to: &out) }
        }
        try out.put("</" + name + ">")
    }

    /// The text of a string, number, boolean or null; other values cannot be attributes or text.
    private static func scalarText(_ value: JSONValue, member: String) throws(TransformFailure) -> String {
        switch value {
        case .null: return ""
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let text): return text
        case .string(let text): return text
        case .array, .object:
            throw .notConvertible(
                "'\(member)' must be a string, number, boolean or null to become an attribute or text")
        }
    }

    private static func appendText(_ text: String, to out: inout OutputBuffer) throws(TransformFailure) {
        try appendEscaped(text, attribute: false, to: &out)
    }

    /// Escapes markup characters; in attributes also quotes and whitespace that would be normalised.
    private static func appendEscaped(_ text: String, attribute: Bool, to out: inout OutputBuffer)
        throws(TransformFailure)
    {
        if text.unicodeScalars.contains(where: { $0.value == 0xFFFE || $0.value == 0xFFFF }) {
            throw .notConvertible("the text contains U+FFFE or U+FFFF, which XML 1.0 cannot carry")
        }
        // Byte-wise is safe: every byte of a multi-byte UTF-8 sequence is 0x80 or above.
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): try out.put("&amp;")
            case UInt8(ascii: "<"): try out.put("&lt;")
            case UInt8(ascii: ">"): try out.put("&gt;")
            case UInt8(ascii: "\"") where attribute: try out.put("&quot;")
            case 0x0D: try out.put("&#13;")
            case 0x09 where attribute: try out.put("&#9;")
            case 0x0A where attribute: try out.put("&#10;")
            case 0x09, 0x0A: try out.put(byte)
            case 0..<0x20:
                let code = String(byte, radix: 16, uppercase: true)
                let padded = String(repeating: "0", count: 4 - code.count) + code
                throw .notConvertible("the text contains U+\(padded), which XML 1.0 cannot carry")
            default:
                try out.put(byte)
            }
        }
    }
}

extension OutputBuffer {
    /// `append`, failing as the transformation does.
    fileprivate mutating func put(_ byte: UInt8) throws(TransformFailure) {
        try TransformFailure.json { () throws(JSONFailure) in try append(byte) }
    }

    fileprivate mutating func put(_ text: String) throws(TransformFailure) {
        try TransformFailure.json { () throws(JSONFailure) in try append(text) }
    }
}
