// Builds OpenAPIOperations: the typed OpenAPIKit model gives paths, methods, operationIds, parameter
// locations and styles and security; the raw document gives the schemas, compiled for validation.

import OpenAPIKit

struct OperationBuilder {
    let document: OpenAPI.Document
    let raw: RawDocument
    private var compiler: SchemaCompiler

    init(document: OpenAPI.Document, raw: RawDocument, ignoresReferenceSiblings: Bool) {
        self.document = document
        self.raw = raw
        self.compiler = SchemaCompiler(document: raw, ignoresReferenceSiblings: ignoresReferenceSiblings)
    }

    private struct Draft {
        let method: String
        let path: String
        let operationId: String?
        let security: [[String: [String]]]
        let parameters: [ParameterSpec]
        let body: RequestBodySpec?
    }

    mutating func build() throws(DocumentProblem) -> [OpenAPIOperation] {
        var drafts: [Draft] = []
        if let paths = raw.located.child("paths"), let object = paths.node.objectValue {
            for key in object.keys {
                guard let located = paths.child(key), let entry = document.paths[OpenAPI.Path(rawValue: key)] else {
                    continue
                }
                drafts += try operations(
                    path: key, rawItem: try raw.resolve(located), item: try lookup(entry, at: located))
            }
        }
        var seen: Set<String> = []
        for draft in drafts {
            if let id = draft.operationId, !seen.insert(id).inserted {
                throw DocumentProblem(.invalidDocument, "operationId '\(id)' is used by more than one operation")
            }
        }
        let schemeOrder = document.components.securitySchemes.keys.map(\.rawValue)
        let table = compiler.table
        return drafts.map { draft in
            OpenAPIOperation(
                method: draft.method, path: draft.path, operationId: draft.operationId,
                securityRequirements: draft.security, schemeOrder: schemeOrder,
                validator: RequestValidator(parameters: draft.parameters, body: draft.body, schemas: table))
        }
    }

    private func lookup<Component: ComponentDictionaryLocatable>(
        _ entry: Either<OpenAPI.Reference<Component>, Component>, at located: RawDocument.Located
    ) throws(DocumentProblem) -> Component {
        // The raw resolution first: its errors name the reference and where it is.
        _ = try raw.resolve(located)
        do {
            return try document.components.lookup(entry)
        } catch {
            throw DocumentProblem(
                .unresolvableReference,
                "cannot resolve the reference at \(RawDocument.display(located.pointer)) "
                    + "(references must point into #/components): \(error)")
        }
    }

    private mutating func operations(path: String, rawItem: RawDocument.Located, item: OpenAPI.PathItem)
        throws(DocumentProblem) -> [Draft]
    {
        let shared = try parameters(item.parameters, raw: rawItem.child("parameters"))
        var drafts: [Draft] = []
        for endpoint in item.endpoints {
            let rawOperation: RawDocument.Located?
            switch endpoint.method {
            case .builtin(let method): rawOperation = rawItem.child(method.rawValue.lowercased())
            case .other(let method): rawOperation = rawItem.child("additionalOperations")?.child(method)
            }
            guard let rawOperation else { continue }
            let operation = endpoint.operation
            let own = try parameters(operation.parameters, raw: rawOperation.child("parameters"))
            // Operation-level parameters replace path-level ones with the same name and location.
            var merged = shared.filter { old in !own.contains { $0.name == old.name && $0.location == old.location } }
            merged += own
            merged.sort { $0.location.rank < $1.location.rank }
            let security = (operation.security ?? document.security).map { requirement in
                Dictionary(requirement.map { ($0.key.name ?? $0.key.absoluteString, $0.value) }) { first, _ in first }
            }
            drafts.append(
                Draft(
                    method: endpoint.method.rawValue.uppercased(), path: path, operationId: operation.operationId,
                    security: security, parameters: merged,
                    body: try requestBody(operation.requestBody, raw: rawOperation.child("requestBody"))))
        }
        return drafts
    }

    private mutating func parameters(_ list: OpenAPI.Parameter.Array, raw rawList: RawDocument.Located?)
        throws(DocumentProblem) -> [ParameterSpec]
    {
        var specs: [ParameterSpec] = []
        for (position, entry) in list.enumerated() {
            guard let located = rawList?.element(position) else { continue }
            let parameter = try lookup(entry, at: located)
            let rawParameter = try raw.resolve(located)
            let location: ParameterSpec.Location
            var allowEmptyValue = false
            switch parameter.context {
            case .path: location = .path
            case .header: location = .header
            case .query(_, let allowsEmpty, _):
                location = .query
                allowEmptyValue = allowsEmpty
            case .cookie, .querystring: continue  // Not validated: the gateway does not parse cookies.
            }
            if location == .header, ["accept", "content-type", "authorization"].contains(parameter.name.lowercased()) {
                continue  // OpenAPI says these header parameters are ignored.
            }
            var style: ParameterSpec.Style = location == .query ? .form : .simple
            var explode = style == .form
            var schema: Int?
            var isJSONContent = false
            switch parameter.schemaOrContent {
            case .a(let context):
                style = ParameterSpec.Style(rawValue: context.style.rawValue) ?? style
                explode = context.explode
                schema = try rawParameter.child("schema").map { located throws(DocumentProblem) in
                    try compiler.compile(located)
                }
            case .b:
                if let content = rawParameter.child("content"), let mediaType = content.node.objectValue?.keys.first,
                    let media = content.child(mediaType)
                {
                    isJSONContent = MediaRange(mediaType)?.isJSON ?? false
                    schema = try raw.resolve(media).child("schema").map { located throws(DocumentProblem) in
                        try compiler.compile(located)
                    }
                }
            }
            specs.append(
                ParameterSpec(
                    name: parameter.name, location: location, required: parameter.required, style: style,
                    explode: explode, allowEmptyValue: allowEmptyValue, schema: schema, isJSONContent: isJSONContent))
        }
        return specs
    }

    private mutating func requestBody(
        _ entry: Either<OpenAPI.Reference<OpenAPI.Request>, OpenAPI.Request>?, raw located: RawDocument.Located?
    ) throws(DocumentProblem) -> RequestBodySpec? {
        guard let entry, let located else { return nil }
        let request = try lookup(entry, at: located)
        var content: [RequestBodySpec.Content] = []
        if let rawContent = try raw.resolve(located).child("content"), let object = rawContent.node.objectValue {
            for key in object.keys {
                guard let range = MediaRange(key) else {
                    throw DocumentProblem(
                        .invalidDocument,
                        "'\(key)' at \(RawDocument.display(rawContent.pointer)) is not a media type such as application/json"
                    )
                }
                let media = try rawContent.child(key).map { located throws(DocumentProblem) in try raw.resolve(located)
                }
                let schema = try media?.child("schema").map { located throws(DocumentProblem) in
                    try compiler.compile(located)
                }
                content.append(.init(declared: key, range: range, schema: schema))
            }
        }
        return RequestBodySpec(required: request.required, content: content)
    }
}

extension ParameterSpec.Location {
    /// Validation order: path, query, header.
    var rank: Int {
        switch self {
        case .path: return 0
        case .query: return 1
        case .header: return 2
        }
    }
}
