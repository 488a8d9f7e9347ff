// Checks one request against its OpenAPI operation: parameters (path, query, header), the body's
// presence and media type, and JSON bodies against their schema. Failures are capped (default 20).
import GatewayCore

/// Validates requests for one operation. Built by `OpenAPISpec`; immutable and safe to share.
public struct RequestValidator: Sendable {
    let parameters: [ParameterSpec]
    let body: RequestBodySpec?
    let schemas: SchemaTable
    /// The most failures one call reports (at least 1).
    public var maxFailures: Int
    /// How deeply a JSON body or JSON parameter may nest before it is refused.
    static let maxJSONDepth = 256

    init(parameters: [ParameterSpec], body: RequestBodySpec?, schemas: SchemaTable, maxFailures: Int = 20) {
        self.parameters = parameters
        self.body = body
        self.schemas = schemas
        self.maxFailures = maxFailures
    }

    /// The media types the operation's request body declares, as written (empty when it declares no body).
    public var acceptedContentTypes: [String] { body?.content.map(\.declared) ?? [] }

    /// Whether the operation declares a request body with `required: true`.
    public var requiresBody: Bool { body?.required ?? false }

    /// Checks a request; an empty result means it is valid.
    ///
    /// - Parameters:
    ///   - pathParameters: values captured by the route template (`{id}` → `id`), already percent-decoded.
    ///   - query: the raw query string after `?`, still percent-encoded; nil or empty when there is none.
    ///   - header: looks a header up by name (case-insensitively), returning nil when absent.
    ///   - contentType: the request's Content-Type header.
    ///   - body: the request body; nil or empty when there is none.
    /// - Returns: at most `maxFailures` failures, path parameters first, then query, headers and body.
    ///   When the body's media type is not accepted, the body is not inspected further and the failure's
    ///   kind is `.unsupportedMediaType`.
    public func validate(
        pathParameters: [String: String], query: Substring?, header: (String) -> String?, contentType: String?,
        body: [UInt8]?
    ) -> [ValidationFailure] {
        var sink = FailureSink(limit: maxFailures)
        let validator = SchemaValidator(table: schemas)
        let decoder = ParameterDecoder(table: schemas)
        let queryItems = QueryItems(query)
        for parameter in parameters {
            guard !sink.isFull else { break }
            let text: String?
            switch parameter.location {
            case .path: text = pathParameters[parameter.name]
            case .header: text = header(parameter.name)
            case .query: text = queryItems.values(parameter.name).first
            }
            let value: JSONValue?
            if parameter.location == .query, !parameter.isJSONContent, let schema = parameter.schema {
                if parameter.allowEmptyValue && text == "" { continue }
                // Arrays may repeat the key and objects may spread over several keys.
                value = decoder.decodeQuery(queryItems, parameter, schema: schema)
            } else {
                value = text.flatMap { decodeText($0, parameter, decoder, &sink) }
            }
            guard let value else {
                if parameter.required && text == nil {
                    sink.add(
                        .missing, field: parameter.field, location: parameter.location.rawValue,
                        parameter.missingMessage)
                }
                continue
            }
            if let schema = parameter.schema {
                validator.validate(value, schema: schema, field: parameter.field, into: &sink)
            }
        }
        if let spec = self.body, !sink.isFull {
            validateBody(spec, contentType: contentType, body: body, validator: validator, into: &sink)
        }
        return sink.failures
    }

    /// A path or header value (or JSON-content query value) as JSON; nil when the text is not valid JSON.
    private func decodeText(
        _ text: String, _ parameter: ParameterSpec, _ decoder: ParameterDecoder, _ sink: inout FailureSink
    ) -> JSONValue? {
        if parameter.isJSONContent {
            do throws(TransformFailure) {
                return try JSONReader.parseForValidation(Array(text.utf8), maxDepth: Self.maxJSONDepth)
            } catch {
                sink.add(field: parameter.field, error.notValidJSONReason)
                return nil
            }
        }
        guard let schema = parameter.schema else { return .string(text) }
        return decoder.decodeSingle(text, parameter, schema: schema)
    }

    private func validateBody(
        _ spec: RequestBodySpec, contentType: String?, body: [UInt8]?, validator: SchemaValidator,
        into sink: inout FailureSink
    ) {
        guard let body, !body.isEmpty else {
            if spec.required { sink.add(.missing, field: "body", "a request body is required") }
            return
        }
        guard !spec.content.isEmpty else { return }  // Any body is accepted.
        let expected = spec.content.map(\.declared).joined(separator: ", ")
        guard let contentType, let mediaType = MediaRange(contentType) else {
            sink.add(.unsupportedMediaType, field: "body", "a Content-Type header is required (expected \(expected))")
            return
        }
        let candidates = spec.content.filter { $0.range.accepts(mediaType) }
        guard let chosen = candidates.max(by: { $0.range.specificity < $1.range.specificity }) else {
            sink.add(
                .unsupportedMediaType, field: "body",
                "content type '\(mediaType.description)' is not supported (expected \(expected))")
            return
        }
        guard mediaType.isJSON, let schema = chosen.schema else { return }
        let value: JSONValue
        do throws(TransformFailure) {
            value = try JSONReader.parseForValidation(body, maxDepth: Self.maxJSONDepth)
        } catch {
            sink.add(field: "body", error.notValidJSONReason)
            return
        }
        validator.validate(value, schema: schema, field: "body", into: &sink)
    }
}

/// An operation's request body: whether it is required and the schema of each declared media type.
struct RequestBodySpec: Sendable {
    struct Content: Sendable {
        /// The media type as the document writes it.
        let declared: String
        let range: MediaRange
        let schema: Int?
    }

    let required: Bool
    let content: [Content]
}
