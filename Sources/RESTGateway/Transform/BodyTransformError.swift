// The error a body transformation throws: which side's body failed and why, in a sentence a client
// (request side, 400) or an operator (response side, 502) can act on.
import GatewayCore

/// A body could not be transformed. `description` is a full sentence naming the side, e.g.
/// "the request body is not valid JSON: unexpected character 'x' at line 1, column 5".
public struct BodyTransformError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which body failed: the gateway answers 400 for the request and 502 for the response.
    public enum Side: String, Sendable {
        case request, response
    }

    /// What kind of failure; a struct so codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String {
            case invalidJSON, invalidXML, tooLarge, tooDeep, refusedMarkup, unexpectedContentType, notConvertible
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The body does not parse as JSON.
        public static let invalidJSON = Code(.invalidJSON)
        /// The body is not well-formed XML.
        public static let invalidXML = Code(.invalidXML)
        /// The body, or what it would become, is larger than allowed.
        public static let tooLarge = Code(.tooLarge)
        /// The body nests deeper than allowed.
        public static let tooDeep = Code(.tooDeep)
        /// The XML declares a DOCTYPE or uses an encoding that is refused.
        public static let refusedMarkup = Code(.refusedMarkup)
        /// The body's content type is not the one the transformation expects.
        public static let unexpectedContentType = Code(.unexpectedContentType)
        /// The JSON cannot be expressed as XML (a key that is not an XML name, a control character).
        public static let notConvertible = Code(.notConvertible)

        public var description: String { wrapped.rawValue }
    }

    public let code: Code
    public let side: Side
    /// What is wrong, continuing "the request body …" (e.g. "is larger than 1 MiB").
    public let detail: String

    public init(_ code: Code, side: Side, detail: String) {
        self.code = code
        self.side = side
        self.detail = detail
    }

    public var description: String { "the \(side.rawValue) body \(detail)" }

    /// The status the gateway answers with: 400 for a bad request body, 502 for a bad upstream answer.
    public var status: Int { side == .request ? 400 : 502 }
}

/// A failure inside the engine, before the side is known; ``BodyTransformer`` attaches the side.
struct TransformFailure: Error {
    var code: BodyTransformError.Code
    var detail: String

    init(_ code: BodyTransformError.Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// Runs a JSON read or write of GatewayCore, its failure as a TransformFailure.
    static func json<T>(_ body: () throws(JSONFailure) -> T) throws(TransformFailure) -> T {
        do { return try body() } catch { throw TransformFailure(error) }
    }

    /// A failure of the shared JSON reader or writer.
    init(_ failure: JSONFailure) {
        switch failure.code {
        case .invalidJSON: self.init(.invalidJSON, failure.detail)
        case .tooDeep: self.init(.tooDeep, failure.detail)
        case .tooLarge: self.init(.tooLarge, failure.detail)
        }
    }

    static func invalidXML(_ reason: String, line: Int) -> TransformFailure {
        .init(.invalidXML, "is not well-formed XML at line \(line): \(reason)")
    }

    static func tooDeep(_ limit: Int) -> TransformFailure {
        .init(.tooDeep, "nests deeper than \(limit) levels")
    }

    static func notConvertible(_ reason: String) -> TransformFailure {
        .init(.notConvertible, "cannot be converted to XML: \(reason)")
    }

    /// A size as people write it: `1 MiB`, `64 KiB`, `1500 bytes`.
    static func size(_ bytes: Int) -> String { JSONFailure.size(bytes) }
}
