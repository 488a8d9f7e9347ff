import Foundation
// Transforms one side's buffered body (request or response) as a route's `transform` config says:
// parse → allow → deny → rename → nest → serialise, with JSON⇄XML conversion at either end.
public import GatewayCore

/// One side's body transformation, compiled from its ``BodyShapeConfig``.
///
/// Pipeline: the body is parsed (JSON, or XML converted to JSON when `convert` is `xmlToJson`), then
/// shaped (allow → deny → rename → nest, see `JSONShaper`), then serialised (JSON with sorted keys, or
/// XML when `convert` is `jsonToXml`). The output content type is `application/xml` for XML output;
/// for JSON output it is the input's JSON content type (e.g. `application/problem+json`) when
/// `convert` is `none`, else `application/json`.
///
/// - An empty body passes through unchanged, as does every body when ``isIdentity``.
/// - JSON input needs a JSON content type (`application/json` or `…+json`) and XML input an XML one
///   (`application/xml`, `text/xml` or `…+xml`); a body without a content type is tried as either.
/// - A body larger than `maxBodySize` is refused; so is output larger than 4 × `maxBodySize`.
/// - Errors say which side failed (``BodyTransformError/side``): the gateway answers 400 for the
///   request and 502 for the response.
public struct BodyTransformer: Sendable {
    public let side: BodyTransformError.Side
    public let maxBodySize: Int
    public let maxDepth: Int
    private let convert: BodyConversion
    private let xmlRoot: String?
    private let shaper: JSONShaper?

    /// How much larger than `maxBodySize` the output may be.
    public static let outputGrowthLimit = 4

    public init(
        _ config: BodyShapeConfig, side: BodyTransformError.Side,
        maxBodySize: Int = BodyTransformConfig.defaultMaxBodySize.bytes,
        maxDepth: Int = BodyTransformConfig.defaultMaxDepth
    ) {
        self.side = side
        self.maxBodySize = maxBodySize
        self.maxDepth = maxDepth
        self.convert = config.convert
        self.xmlRoot = config.xmlRoot
        self.shaper = config.shapes ? JSONShaper(config) : nil
    }

    /// The transformer of one side of a route's config (identity when that side is not configured).
    public init(_ config: BodyTransformConfig, side: BodyTransformError.Side) {
        let shape = (side == .request ? config.request : config.response) ?? BodyShapeConfig()
        self.init(shape, side: side, maxBodySize: config.maxBodySize.bytes, maxDepth: config.maxDepth)
    }

    /// Whether bodies pass through untouched (so the gateway need not buffer them).
    public var isIdentity: Bool { convert == .none && shaper == nil }

    /// The transformed body and its content type.
    public func apply(_ body: [UInt8], contentType: String?) throws(BodyTransformError) -> (
        body: [UInt8], contentType: String?
    ) {
        guard !isIdentity, !body.isEmpty else { return (body, contentType) }
        do {
            return try transform(body, contentType: contentType)
        } catch {
            throw BodyTransformError(error.code, side: side, detail: error.detail)
        }
    }

    private func transform(_ body: [UInt8], contentType: String?) throws(TransformFailure) -> (
        body: [UInt8], contentType: String?
    ) {
        if body.count > maxBodySize {
            throw .init(.tooLarge, "is larger than \(TransformFailure.size(maxBodySize))")
        }
        let mediaType = contentType.map(Self.mediaType).flatMap { $0.isEmpty ? nil : $0 }
        var document: JSONValue
        if convert == .xmlToJson {
            if let mediaType, !Self.isXML(mediaType) {
                throw .init(.unexpectedContentType, "is \(mediaType); expected an XML body")
            }
            document = try XMLToJSON.convert(body, maxDepth: maxDepth)
        } else {
            if let mediaType, !Self.isJSON(mediaType) {
                throw .init(.unexpectedContentType, "is \(mediaType); expected a JSON body")
            }
            document = try TransformFailure.json { () throws(JSONFailure) in
                try JSONReader.parse(body, maxDepth: maxDepth)
            }
        }
        if let shaper { document = shaper.apply(document) }
        let limit = maxBodySize.multipliedReportingOverflow(by: Self.outputGrowthLimit)
        let outputLimit = limit.overflow ? Int.max : limit.partialValue
        switch convert {
        case .jsonToXml:
            let xml = try JSONToXML.convert(document, xmlRoot: xmlRoot, limit: outputLimit, sizeHint: body.count)
            return (xml, "application/xml")
        case .xmlToJson:
            let json = try TransformFailure.json { () throws(JSONFailure) in
                try JSONWriter.write(document, limit: outputLimit, sizeHint: body.count)
            }
            return (json, "application/json")
        case .none:
            let json = try TransformFailure.json { () throws(JSONFailure) in
                try JSONWriter.write(document, limit: outputLimit, sizeHint: body.count)
            }
            return (json, contentType ?? "application/json")
        }
    }

    /// The lower-cased `type/subtype` of a Content-Type value, without parameters.
    static func mediaType(_ contentType: String) -> String {
        let type = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }

    static func isJSON(_ mediaType: String) -> Bool {
        mediaType == "application/json" || mediaType == "text/json" || mediaType.hasSuffix("+json")
    }

    static func isXML(_ mediaType: String) -> Bool {
        mediaType == "application/xml" || mediaType == "text/xml" || mediaType.hasSuffix("+xml")
    }
}
