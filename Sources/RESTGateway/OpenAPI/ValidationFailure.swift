// One reason a request does not match its OpenAPI operation, and the capped list the validator fills.

/// A request validation failure: where (`field`), what (`message`), and what kind of failure it is.
///
/// `field` names the value: `path.id`, `query.limit`, `query.tags[1]`, `header.x-tenant`, `body`,
/// `body.items[0].price`. `message` is a complete sentence starting with the location it is about, for
/// example "query.limit: must be an integer (got 'abc')" or, for a missing property (field `body.name`),
/// "body: missing required property 'name'".
public struct ValidationFailure: Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. The gateway answers 415 for `.unsupportedMediaType` and 400 for the others.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case invalid, missing, unsupportedMediaType
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A value is present but does not match its schema (or the body is not valid JSON).
        public static let invalid = Kind(.invalid)
        /// A required parameter, property or request body is absent.
        public static let missing = Kind(.missing)
        /// The body's Content-Type is missing or not one the operation accepts.
        public static let unsupportedMediaType = Kind(.unsupportedMediaType)

        public var description: String { value.rawValue }
    }

    public let kind: Kind
    public let field: String
    public let message: String

    public init(kind: Kind, field: String, message: String) {
        self.kind = kind
        self.field = field
        self.message = message
    }

    public var description: String { message }
}

/// Collects failures up to a limit; validators stop working once it is full.
struct FailureSink {
    let limit: Int
    private(set) var failures: [ValidationFailure] = []

    init(limit: Int) { self.limit = max(1, limit) }

    var isFull: Bool { failures.count >= limit }
    var isEmpty: Bool { failures.isEmpty }

    /// Records "<location>: <problem>" for `field`.
    mutating func add(
        _ kind: ValidationFailure.Kind = .invalid, field: String, location: String? = nil, _ problem: String
    ) {
        guard !isFull else { return }
        failures.append(ValidationFailure(kind: kind, field: field, message: "\(location ?? field): \(problem)"))
    }

    mutating func append(contentsOf other: FailureSink) {
        for failure in other.failures where !isFull { failures.append(failure) }
    }
}
