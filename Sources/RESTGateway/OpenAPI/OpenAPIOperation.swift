// One operation (method + path) of an OpenAPI document, as the gateway's router needs it.

/// An operation of a loaded OpenAPI document.
public struct OpenAPIOperation: Sendable {
    /// The HTTP method, upper-case (`GET`, `POST`, …).
    public let method: String
    /// The path template as the document writes it, e.g. `/users/{id}` (Portico templates use the same `{name}`).
    public let path: String
    /// The document's `operationId`, if it has one.
    public let operationId: String?
    /// `operationId`, else the method and path made identifier-safe: `GET /users/{id}` → `GET_users_id`.
    public let name: String
    /// True when the effective `security` (the operation's, else the document's) has at least one requirement
    /// and none of them is the empty requirement `{}` that allows anonymous calls.
    public let requiresAuth: Bool
    /// The names of the security schemes the effective requirements mention, in document order.
    public let securitySchemes: [String]
    /// The effective security requirements: alternatives, each mapping a scheme name to the scopes it needs.
    public let securityRequirements: [[String: [String]]]
    /// Checks requests against the operation's parameters and request body.
    public let validator: RequestValidator

    init(
        method: String, path: String, operationId: String?, securityRequirements: [[String: [String]]],
        schemeOrder: [String], validator: RequestValidator
    ) {
        self.method = method
        self.path = path
        self.operationId = operationId
        self.name = operationId ?? Self.sanitizedName(method: method, path: path)
        self.requiresAuth = !securityRequirements.isEmpty && !securityRequirements.contains { $0.isEmpty }
        let mentioned = Set(securityRequirements.flatMap(\.keys))
        self.securitySchemes =
            schemeOrder.filter { mentioned.contains($0) } + mentioned.subtracting(schemeOrder).sorted()
        self.securityRequirements = securityRequirements
        self.validator = validator
    }

    /// `GET /users/{id}` → `GET_users_id`; `GET /` → `GET_root`.
    static func sanitizedName(method: String, path: String) -> String {
        var words: [String] = []
        var current = ""
        for character in path {
            if character.isASCII && (character.isLetter || character.isNumber) || character == "-" {
                current.append(character)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return ([method] + (words.isEmpty ? ["root"] : words)).joined(separator: "_")
    }
}
