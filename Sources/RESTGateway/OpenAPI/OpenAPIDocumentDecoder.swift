// Decodes the typed OpenAPI model with OpenAPIKit: 3.1/3.2 documents directly, 3.0 documents with
// OpenAPIKit30 and then converted by OpenAPIKitCompat, so everything after this file sees one 3.1 model.

import Foundation
import OpenAPIKit
import OpenAPIKit30
import OpenAPIKitCompat
import Yams

enum OpenAPIDocumentDecoder {
    /// The major.minor families this loader accepts, as the document's `openapi` field starts.
    enum Family: Sendable {
        case v3_0, v3_1
    }

    static let supported = "3.0.0–3.0.4, 3.1.0–3.1.2 and 3.2.0–3.2.1"

    /// The family of an `openapi` version string, or a problem naming the unsupported version.
    static func family(of version: String) throws(DocumentProblem) -> Family {
        if version.hasPrefix("3.0."), OpenAPIKit30.OpenAPI.Document.Version(rawValue: version) != nil { return .v3_0 }
        if version.hasPrefix("3.1.") || version.hasPrefix("3.2."),
            OpenAPIKit.OpenAPI.Document.Version(rawValue: version) != nil
        {
            return .v3_1
        }
        throw DocumentProblem(
            .unsupportedVersion, "OpenAPI version '\(version)' is not supported (supported: \(supported))")
    }

    static func decode(_ text: String, isYAML: Bool, family: Family) throws(DocumentProblem)
        -> OpenAPIKit.OpenAPI.Document
    {
        do {
            switch family {
            case .v3_0:
                let document = try decode(OpenAPIKit30.OpenAPI.Document.self, from: text, isYAML: isYAML)
                return document.convert(to: .v3_1_0)
            case .v3_1:
                return try decode(OpenAPIKit.OpenAPI.Document.self, from: text, isYAML: isYAML)
            }
        } catch {
            let reason: String
            switch family {
            case .v3_0: reason = OpenAPIKit30.OpenAPI.Error(from: error).localizedDescription
            case .v3_1: reason = OpenAPIKit.OpenAPI.Error(from: error).localizedDescription
            }
            throw DocumentProblem(.invalidDocument, "is not a valid OpenAPI document: \(reason)")
        }
    }

    private static func decode<Document: Decodable>(_ type: Document.Type, from text: String, isYAML: Bool) throws
        -> Document
    {
        if isYAML { return try YAMLDecoder().decode(type, from: text) }
        return try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
