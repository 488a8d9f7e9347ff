// Per-route body transformation settings of the REST gateway (`gateways.rest.routes[].transform`):
// field allow/deny lists, renames, nesting and JSON⇄XML conversion, for the request and the response,
// plus the semantic checks run before the gateway starts.

/// How a body is converted on its way through.
public enum BodyConversion: String, Codable, Sendable, CaseIterable {
    /// JSON in, JSON out.
    case none
    /// XML in (converted to JSON by the convention documented on `XMLToJSON`), JSON out.
    case xmlToJson
    /// JSON in, XML out (by the convention documented on `JSONToXML`).
    case jsonToXml
}

/// How one side's body (request or response) is shaped. Keys:
/// - `convert`: `none` (default), `xmlToJson` or `jsonToXml`.
/// - `allow`: dotted paths (`user.name`, `items.id`); if given, only these fields are kept. A path step
///   that meets an array applies to every element; allowing a parent keeps its whole subtree.
/// - `deny`: dotted paths that are removed (same path rules). Paths that do not exist are ignored.
/// - `rename`: dotted path → new key name at the same level (`user.name: fullName`).
/// - `nest`: wrap the whole shaped document under this key.
/// - `xmlRoot`: root element of `jsonToXml` output. Without it, a document that is an object with a
///   single non-array member uses that member's key as the root, anything else is wrapped in `<root>`.
///
/// The pipeline is: parse → allow → deny → rename → nest → serialise. Paths are written against the
/// document as parsed: after `xmlToJson`, the root element's name is the first step (`user.id`).
/// Keys that contain a `.` cannot be addressed.
public struct BodyShapeConfig: Codable, Sendable, Equatable {
    public var convert: BodyConversion
    public var allow: [String]?
    public var deny: [String]
    public var rename: [String: String]
    public var nest: String?
    public var xmlRoot: String?

    public init(
        convert: BodyConversion = .none, allow: [String]? = nil, deny: [String] = [], rename: [String: String] = [:],
        nest: String? = nil, xmlRoot: String? = nil
    ) {
        self.convert = convert
        self.allow = allow
        self.deny = deny
        self.rename = rename
        self.nest = nest
        self.xmlRoot = xmlRoot
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        convert = try c.value(.convert, or: .none)
        allow = try c.decodeIfPresent([String].self, forKey: .allow)
        deny = try c.value(.deny, or: [])
        rename = try c.value(.rename, or: [:])
        nest = try c.decodeIfPresent(String.self, forKey: .nest)
        xmlRoot = try c.decodeIfPresent(String.self, forKey: .xmlRoot)
    }

    /// Whether the body passes through untouched (no conversion, no shaping).
    public var isIdentity: Bool { convert == .none && !shapes }

    /// Whether any of allow, deny, rename or nest is configured.
    public var shapes: Bool { allow != nil || !deny.isEmpty || !rename.isEmpty || nest != nil }
}

/// Body transformation of a route. Keys: `maxBodySize` (default 1MiB: a body is buffered to be
/// transformed, a larger one is refused; output may grow to 4× this), `maxDepth` (default 64: deepest
/// nesting of JSON objects and arrays or of XML elements accepted), `request` and `response`
/// (``BodyShapeConfig``, both optional). A request-side failure answers 400, a response-side one 502.
public struct BodyTransformConfig: Codable, Sendable, Equatable {
    public static let defaultMaxBodySize = ByteSize(bytes: 1 << 20)
    public static let defaultMaxDepth = 64

    public var maxBodySize: ByteSize
    public var maxDepth: Int
    public var request: BodyShapeConfig?
    public var response: BodyShapeConfig?

    public init(
        maxBodySize: ByteSize = Self.defaultMaxBodySize, maxDepth: Int = Self.defaultMaxDepth,
        request: BodyShapeConfig? = nil, response: BodyShapeConfig? = nil
    ) {
        self.maxBodySize = maxBodySize
        self.maxDepth = maxDepth
        self.request = request
        self.response = response
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxBodySize = try c.value(.maxBodySize, or: Self.defaultMaxBodySize)
        maxDepth = try c.value(.maxDepth, or: Self.defaultMaxDepth)
        request = try c.decodeIfPresent(BodyShapeConfig.self, forKey: .request)
        response = try c.decodeIfPresent(BodyShapeConfig.self, forKey: .response)
    }
}

extension BodyTransformConfig {
    /// Semantic problems of `config`, each with its key path below `transform` (e.g.
    /// `["request", "allow"]`) and a message. Empty when the config is usable.
    public static func problems(_ config: BodyTransformConfig) -> [(path: [String], message: String)] {
        var problems: [(path: [String], message: String)] = []
        if config.maxBodySize.bytes < 1 { problems.append((["maxBodySize"], "must be at least 1 byte")) }
        if !(1...512).contains(config.maxDepth) { problems.append((["maxDepth"], "must be between 1 and 512")) }
        for (shape, side) in [(config.request, "request"), (config.response, "response")] {
            guard let shape else { continue }
            problems += Self.problems(shape).map { ([side] + $0.path, $0.message) }
        }
        return problems
    }

    private static func problems(_ shape: BodyShapeConfig) -> [(path: [String], message: String)] {
        var problems: [(path: [String], message: String)] = []
        func checkPath(_ path: String, at key: [String]) {
            if path.isEmpty {
                problems.append((key, "a path is empty"))
            } else if path.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
                problems.append((key, "'\(path)' has an empty segment"))
            }
        }
        let toXML = shape.convert == .jsonToXml
        if let allow = shape.allow {
            if allow.isEmpty { problems.append((["allow"], "is empty, so every field would be dropped")) }
            for path in allow { checkPath(path, at: ["allow"]) }
        }
        for path in shape.deny {
            checkPath(path, at: ["deny"])
            if shape.allow?.contains(path) == true {
                problems.append((["deny"], "'\(path)' is both allowed and denied"))
            }
        }
        for (path, target) in shape.rename.sorted(by: { $0.key < $1.key }) {
            checkPath(path, at: ["rename"])
            if target.isEmpty {
                problems.append((["rename", path], "the new name is empty"))
            } else if target.contains(".") {
                problems.append((["rename", path], "'\(target)' must be a key name, not a path"))
            } else if toXML && !isXMLName(target) && !target.hasPrefix("@") && target != "#text" {
                problems.append((["rename", path], "'\(target)' is not a valid XML element name"))
            }
            if shape.deny.contains(path) {
                problems.append((["rename", path], "'\(path)' is denied, so renaming it has no effect"))
            }
        }
        if let nest = shape.nest {
            if nest.isEmpty {
                problems.append((["nest"], "must not be empty"))
            } else if toXML && shape.xmlRoot == nil && !isXMLName(nest) {
                problems.append((["nest"], "'\(nest)' is not a valid XML element name"))
            }
        }
        if let root = shape.xmlRoot {
            if !toXML {
                problems.append((["xmlRoot"], "is only used with convert: jsonToXml"))
            } else if !isXMLName(root) {
                problems.append((["xmlRoot"], "'\(root)' is not a valid XML element name"))
            }
        }
        return problems
    }

    /// Whether `name` matches XML 1.0's `Name` production (a `:` is allowed, as in `soap:Envelope`).
    public static func isXMLName(_ name: String) -> Bool {
        var scalars = name.unicodeScalars.makeIterator()
        guard let first = scalars.next(), isNameStart(first.value) else { return false }
        while let next = scalars.next() {
            guard isNameStart(next.value) || isNameChar(next.value) else { return false }
        }
        return true
    }

    private static func isNameStart(_ v: UInt32) -> Bool {
        switch v {
        case 0x3A, 0x41...0x5A, 0x5F, 0x61...0x7A, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x2FF, 0x370...0x37D,
            0x37F...0x1FFF, 0x200C...0x200D, 0x2070...0x218F, 0x2C00...0x2FEF, 0x3001...0xD7FF, 0xF900...0xFDCF,
            0xFDF0...0xFFFD, 0x10000...0xEFFFF:
            return true
        default:
            return false
        }
    }

    private static func isNameChar(_ v: UInt32) -> Bool {
        switch v {
        case 0x2D, 0x2E, 0x30...0x39, 0xB7, 0x300...0x36F, 0x203F...0x2040: return true
        default: return false
        }
    }
}
