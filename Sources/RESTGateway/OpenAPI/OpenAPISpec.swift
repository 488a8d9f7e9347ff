// An OpenAPI 3 document loaded for the REST gateway: its operations, each with a request validator.
// Accepts 3.0.x, 3.1.x and 3.2.x in YAML or JSON; only local `$ref`s.

import Foundation
import GatewayCore

/// A loaded OpenAPI document.
public struct OpenAPISpec: Sendable {
    /// How the document is written.
    public enum Format: Sendable {
        case yaml, json

        /// `.yaml`/`.yml` → YAML, `.json` → JSON, anything else → nil.
        public init?(path: String) {
            switch (path as NSString).pathExtension.lowercased() {
            case "yaml", "yml": self = .yaml
            case "json": self = .json
            default: return nil
            }
        }
    }

    /// Where the document came from (the path it was loaded from).
    public let file: String
    /// The `openapi` field as written, e.g. `3.0.3`.
    public let version: String
    /// `info.title`.
    public let title: String
    /// Every operation, in document order (paths as written, methods GET, POST, PATCH, PUT, DELETE, HEAD,
    /// OPTIONS, TRACE, QUERY).
    public let operations: [OpenAPIOperation]

    /// Loads the document at `path`, choosing YAML or JSON by its extension.
    public init(path: String) throws(OpenAPISpecError) {
        guard let format = Format(path: path) else {
            throw OpenAPISpecError(
                .unsupportedFileType, file: path,
                reason: "is neither YAML nor JSON (expected a .yaml, .yml or .json file)")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw OpenAPISpecError(.unreadableFile, file: path, reason: "no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw OpenAPISpecError(
                .unreadableFile, file: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw OpenAPISpecError(.invalidSyntax, file: path, reason: "is not UTF-8 text")
        }
        try self.init(contents: text, format: format, file: path)
    }

    /// Loads a document from text; `file` names it in errors.
    public init(contents: String, format: Format, file: String) throws(OpenAPISpecError) {
        do throws(DocumentProblem) {
            let root: JSONValue
            switch format {
            case .yaml:
                root = try YAMLDocumentParser.parse(contents)
            case .json:
                do throws(TransformFailure) {
                    root = try JSONReader.parseForValidation(Array(contents.utf8), maxDepth: Self.maxDepth)
                } catch {
                    throw DocumentProblem(.invalidSyntax, error.notValidJSONReason)
                }
            }
            let version = try Self.version(of: root)
            let family = try OpenAPIDocumentDecoder.family(of: version)
            let raw = RawDocument(root: root)
            try raw.checkReferences()
            let document = try OpenAPIDocumentDecoder.decode(contents, isYAML: format == .yaml, family: family)
            var builder = OperationBuilder(
                document: document, raw: raw, ignoresReferenceSiblings: family == .v3_0)
            self.file = file
            self.version = version
            self.title = document.info.title
            self.operations = try builder.build()
        } catch {
            throw error.error(file: file)
        }
    }

    /// How deeply a JSON document may nest (as for YAML documents).
    static let maxDepth = 256

    /// The operation for a method and a path template as the document writes it.
    public func operation(method: String, path: String) -> OpenAPIOperation? {
        operations.first { $0.method == method.uppercased() && $0.path == path }
    }

    /// The operation with this `operationId` (or generated name).
    public func operation(named name: String) -> OpenAPIOperation? {
        operations.first { $0.name == name }
    }

    private static func version(of root: JSONValue) throws(DocumentProblem) -> String {
        guard case .object(let object) = root else {
            throw DocumentProblem(.notOpenAPI, "is not an OpenAPI document (the top level is not an object)")
        }
        guard let field = object["openapi"] else {
            if let swagger = object["swagger"] {
                throw DocumentProblem(
                    .unsupportedVersion,
                    "is a Swagger \(swagger.stringValue ?? swagger.shortDescription) document; only OpenAPI "
                        + "\(OpenAPIDocumentDecoder.supported) are supported")
            }
            throw DocumentProblem(.notOpenAPI, "is not an OpenAPI document (it has no 'openapi' field)")
        }
        guard let version = field.stringValue else {
            throw DocumentProblem(
                .notOpenAPI,
                "the 'openapi' field must be a version string such as \"3.1.0\" (got \(field.shortDescription); quote it)"
            )
        }
        return version
    }
}
