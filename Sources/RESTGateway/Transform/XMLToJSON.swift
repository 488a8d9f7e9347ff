import Foundation
// XML → JSON for `convert: xmlToJson`, on FoundationXML's SAX parser (libxml2). Before parsing, the
// bytes are checked for what the parser must never see: a DOCTYPE (entity expansion bombs, external
// entities), NUL bytes (UTF-16/32, which would hide a DOCTYPE from that check) and exotic encodings.
import GatewayCore

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Converts an XML document to a `JSONValue` by this convention:
/// - The root element becomes the only key of the top-level object:
///   `<user><id>1</id></user>` → `{"user":{"id":"1"}}`.
/// - An element with only text becomes a string, exactly as written (no type guessing, no trimming);
///   an empty element becomes `""`.
/// - Child elements become keys; repeated siblings with the same name become an array (in document
///   order, even when other elements come between them; order across different names is not kept).
/// - Attributes become `"@name"` keys. Text beside attributes or child elements becomes `"#text"`
///   (with child elements, text is trimmed and whitespace-only text is dropped).
/// - Names are kept as written, prefix included (`soap:Envelope`, `@xmlns:soap`); namespaces are not
///   resolved. CDATA sections are text; comments and processing instructions are dropped.
/// - Refused: a DOCTYPE (so no DTD, no entity other than the five predefined ones and character
///   references), NUL bytes, encodings other than UTF-8, US-ASCII and ISO-8859-1, and elements nested
///   deeper than `maxDepth`.
enum XMLToJSON {
    static func convert(_ bytes: [UInt8], maxDepth: Int) throws(TransformFailure) -> JSONValue {
        try checkBeforeParsing(bytes)
        let builder = TreeBuilder(maxDepth: maxDepth)
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = false
        parser.shouldReportNamespacePrefixes = false
        parser.delegate = builder
        _ = parser.parse()  // returns true for some malformed documents: the builder's record decides
        if let failure = builder.failure { throw failure }
        if let (reason, line) = builder.firstError { throw .invalidXML(reason, line: line) }
        if parser.parserError != nil { throw .invalidXML("the parser gave up", line: parser.lineNumber) }
        if let open = builder.openElement {
            throw .invalidXML("the document ends before </\(open)>", line: parser.lineNumber)
        }
        guard let root = builder.root else { throw .invalidXML("there is no complete root element", line: 1) }
        return root
    }

    private static let acceptedEncodings: Set<String> = ["utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1"]

    /// Refuses NUL bytes, a DOCTYPE anywhere, an unaccepted encoding, and text before the root element.
    static func checkBeforeParsing(_ bytes: [UInt8]) throws(TransformFailure) {
        if bytes.contains(0) {
            throw .init(.refusedMarkup, "contains NUL bytes (only UTF-8 XML is accepted, not UTF-16 or UTF-32)")
        }
        if find(Array("<!DOCTYPE".utf8), in: bytes, caseInsensitive: true) != nil {
            throw .init(.refusedMarkup, "declares a DOCTYPE, which is refused (DTDs and entities are not processed)")
        }
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while start < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[start]) { start += 1 }
        guard start < bytes.count, bytes[start] == UInt8(ascii: "<") else {
            let line = 1 + bytes[..<min(start, bytes.count)].count { $0 == 0x0A }
            throw .invalidXML(
                start < bytes.count ? "text before the root element" : "there is no root element", line: line)
        }
        let declaration = bytes[start...].prefix(200)
        guard declaration.starts(with: Array("<?xml".utf8)), let end = find(Array("?>".utf8), in: Array(declaration))
        else { return }
        let text = String(decoding: declaration.prefix(end), as: UTF8.self)
        guard let range = text.range(of: "encoding") else { return }
        let rest = text[range.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\t" }
        guard let quote = rest.first, quote == "\"" || quote == "'" else { return }
        let name = rest.dropFirst().prefix { $0 != quote }
        if !acceptedEncodings.contains(name.lowercased()) {
            throw .init(.refusedMarkup, "declares encoding '\(name)'; only UTF-8, US-ASCII and ISO-8859-1 are accepted")
        }
    }

    /// Index of the first occurrence of `needle` (ASCII) in `haystack`.
    private static func find(_ needle: [UInt8], in haystack: [UInt8], caseInsensitive: Bool = false) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        let fold: (UInt8) -> UInt8 = { caseInsensitive && $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
        let pattern = needle.map(fold)
        var index = 0
        while let found = haystack[index...].firstIndex(where: { fold($0) == pattern[0] }) {
            if found + pattern.count > haystack.count { return nil }
            if (1..<pattern.count).allSatisfy({ fold(haystack[found + $0]) == pattern[$0] }) { return found }
            index = found + 1
        }
        return nil
    }

    /// libxml2's error numbers (which XMLParser passes on) in words.
    static func reason(_ code: Int) -> String {
        switch code {
        case 3, 4: "the document does not start with an element"
        case 5, 86: "extra content after the root element"
        case 6, 7, 8: "an invalid character reference"
        case 9: "a character that XML does not allow"
        case 22, 23, 68: "a '<' or '&' not followed by a valid name (write &lt; and &amp; in text)"
        case 26, 27: "an undeclared entity (only &amp; &lt; &gt; &quot; &apos; are known)"
        case 31, 32, 79, 81: "an unknown or unsupported encoding"
        case 38: "'<' inside an attribute value"
        case 39, 40, 43, 44: "an attribute value without quotes or without its closing quote"
        case 41: "an attribute without a value"
        case 42: "an attribute given twice"
        case 45: "an unclosed comment"
        case 46, 47: "a malformed processing instruction"
        case 56, 57, 64: "a malformed or misplaced XML declaration"
        case 62: "']]>' outside a CDATA section"
        case 63: "an unclosed CDATA section"
        case 65: "missing whitespace"
        case 73: "a tag without its closing '>'"
        case 74: "a missing '</'"
        case 75: "an attribute without '=' after its name"
        case 76: "a closing tag does not match its opening tag"
        case 77: "the document ends inside an element"
        case 80: "'--' inside a comment"
        case 85: "the elements are not properly nested"
        default: "parser error \(code)"
        }
    }
}

/// Builds the JSON tree from SAX events and records the first failure.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    private struct Frame {
        var name: String
        var attributes: [(String, String)]
        var childOrder: [String] = []
        var children: [String: [JSONValue]] = [:]
        var text = ""
    }

    private let maxDepth: Int
    private var stack: [Frame] = []
    private(set) var root: JSONValue?
    private(set) var failure: TransformFailure?
    private(set) var firstError: (reason: String, line: Int)?

    init(maxDepth: Int) { self.maxDepth = maxDepth }

    var openElement: String? { stack.last?.name }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        guard root == nil else { return }  // a second root element; libxml2 reports it as an error
        guard stack.count < maxDepth else { return refuse(.tooDeep(maxDepth), parser) }
        let sorted = attributes.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        stack.append(Frame(name: elementName, attributes: sorted.map { ($0.key, $0.value) }))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        guard let frame = stack.popLast() else { return }
        let value = Self.value(of: frame)
        if stack.isEmpty {
            root = .object(JSONObject([(frame.name, value)]))
        } else {
            let parent = stack.count - 1
            if stack[parent].children[frame.name] == nil { stack[parent].childOrder.append(frame.name) }
            stack[parent].children[frame.name, default: []].append(value)
        }
    }

    private static func value(of frame: Frame) -> JSONValue {
        if frame.attributes.isEmpty && frame.childOrder.isEmpty { return .string(frame.text) }
        var object = JSONObject()
        for (name, value) in frame.attributes { object["@" + name] = .string(value) }
        for name in frame.childOrder {
            guard let values = frame.children[name] else { continue }
            object[name] = values.count == 1 ? values[0] : .array(values)
        }
        var text = Substring(frame.text)
        if !frame.childOrder.isEmpty {
            let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
            text = text.drop(while: isSpace)
            while let last = text.last, isSpace(last) { text = text.dropLast() }
        }
        if !text.isEmpty { object["#text"] = .string(String(text)) }
        return .object(object)
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        guard firstError == nil else { return }
        let code = (parseError as NSError).code
        // libxml2 reports both "extra content" and "premature end" as error 5.
        let reason =
            code == 5 && !stack.isEmpty
            ? "the document ends before </\(stack[stack.count - 1].name)>" : XMLToJSON.reason(code)
        firstError = (reason, parser.lineNumber)
    }

    // A DOCTYPE is refused before parsing; these make sure declarations are never acted on anyway.
    func parser(_ parser: XMLParser, foundInternalEntityDeclarationWithName name: String, value: String?) {
        refuse(.init(.refusedMarkup, "declares an entity, which is refused"), parser)
    }

    func parser(
        _ parser: XMLParser, foundExternalEntityDeclarationWithName name: String, publicID: String?, systemID: String?
    ) {
        refuse(.init(.refusedMarkup, "declares an entity, which is refused"), parser)
    }

    func parser(_ parser: XMLParser, resolveExternalEntityName name: String, systemID: String?) -> Data? { nil }

    private func refuse(_ failure: TransformFailure, _ parser: XMLParser) {
        if self.failure == nil { self.failure = failure }
        parser.abortParsing()
    }
}
