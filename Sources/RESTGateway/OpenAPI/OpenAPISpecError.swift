// Why an OpenAPI document could not be loaded: a code to switch on, the file, and a sentence saying what is wrong.

/// A failure to load an OpenAPI document. `description` reads "<file>: <reason>".
public struct OpenAPISpecError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem it is. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case unreadableFile, unsupportedFileType, invalidSyntax, notOpenAPI, unsupportedVersion,
                invalidDocument, unresolvableReference, externalReference, invalidSchema
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The file could not be read.
        public static let unreadableFile = Code(.unreadableFile)
        /// The extension is none of `.yaml`, `.yml`, `.json`.
        public static let unsupportedFileType = Code(.unsupportedFileType)
        /// Not well-formed YAML or JSON.
        public static let invalidSyntax = Code(.invalidSyntax)
        /// Well-formed, but not an OpenAPI document (no `openapi` field, or a Swagger 2.0 document).
        public static let notOpenAPI = Code(.notOpenAPI)
        /// An `openapi` version other than 3.0.x, 3.1.x or 3.2.x.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The document does not follow the OpenAPI structure (as OpenAPIKit reports), or breaks a rule
        /// such as unique operationIds.
        public static let invalidDocument = Code(.invalidDocument)
        /// A local `$ref` points nowhere, or references form a loop.
        public static let unresolvableReference = Code(.unresolvableReference)
        /// A `$ref` to another file or URL; only references inside the document are supported.
        public static let externalReference = Code(.externalReference)
        /// A schema keyword has a value the validator cannot use (say, a `pattern` that is not a regex).
        public static let invalidSchema = Code(.invalidSchema)

        public var description: String { value.rawValue }
    }

    public let code: Code
    /// The path the document was loaded from.
    public let file: String
    /// What is wrong, as a sentence fragment without the file name.
    public let reason: String

    public init(_ code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}

/// A problem found while reading the raw document, before the file name is attached.
struct DocumentProblem: Error, Sendable {
    let code: OpenAPISpecError.Code
    let reason: String

    init(_ code: OpenAPISpecError.Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    func error(file: String) -> OpenAPISpecError { OpenAPISpecError(code, file: file, reason: reason) }
}
