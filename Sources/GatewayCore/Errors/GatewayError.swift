// The gateway error model: one error type with an extensible code, mapped once per protocol to its
// wire form (HTTP problem details, gRPC status, WebSocket close code, GraphQL error extensions).

/// An error the gateway itself produces (as opposed to one a microservice returned).
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    public var code: Code
    public var message: String
    /// Extra context for clients (e.g. which attribute was invalid). Never secrets.
    public var details: [String: String]

    public init(_ code: Code, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(code): \(message)" }

    /// An error code; a struct around a private enum so codes can be added without breaking users.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case badRequest = "bad_request"
            case unauthenticated
            case permissionDenied = "permission_denied"
            case notFound = "not_found"
            case methodNotAllowed = "method_not_allowed"
            case requestTimeout = "request_timeout"
            case headersTooLarge = "headers_too_large"
            case payloadTooLarge = "payload_too_large"
            case unsupportedMediaType = "unsupported_media_type"
            case rateLimited = "rate_limited"
            case upstreamConnectFailed = "upstream_connect_failed"
            case upstreamError = "upstream_error"
            case noHealthyUpstream = "no_healthy_upstream"
            case upstreamTimeout = "upstream_timeout"
            case circuitOpen = "circuit_open"
            case unavailable
            case internalError = "internal"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let badRequest = Code(.badRequest)
        public static let unauthenticated = Code(.unauthenticated)
        public static let permissionDenied = Code(.permissionDenied)
        public static let notFound = Code(.notFound)
        public static let methodNotAllowed = Code(.methodNotAllowed)
        /// The client took too long to send its request (`limits.clientHeaderTimeout`,
        /// `clientBodyTimeout`): 408.
        public static let requestTimeout = Code(.requestTimeout)
        /// A request head over `limits.maxHeaderSize`: 431.
        public static let headersTooLarge = Code(.headersTooLarge)
        public static let payloadTooLarge = Code(.payloadTooLarge)
        public static let unsupportedMediaType = Code(.unsupportedMediaType)
        public static let rateLimited = Code(.rateLimited)
        /// The upstream refused or reset the connection: 502.
        public static let upstreamConnectFailed = Code(.upstreamConnectFailed)
        /// The upstream answered something unusable: 502.
        public static let upstreamError = Code(.upstreamError)
        /// No endpoint of the service can take the request: 503.
        public static let noHealthyUpstream = Code(.noHealthyUpstream)
        /// The upstream did not answer in time: 504.
        public static let upstreamTimeout = Code(.upstreamTimeout)
        /// A service's circuit breaker is open or its concurrency limits are reached: failing fast, 503.
        public static let circuitOpen = Code(.circuitOpen)
        /// The gateway is shutting down or overloaded: 503.
        public static let unavailable = Code(.unavailable)
        public static let internalError = Code(.internalError)

        /// The stable machine-readable name, e.g. `upstream_timeout`.
        public var name: String { value.rawValue }
        public var description: String { value.rawValue }

        public var httpStatus: Int {
            switch value {
            case .badRequest: return 400
            case .unauthenticated: return 401
            case .permissionDenied: return 403
            case .notFound: return 404
            case .methodNotAllowed: return 405
            case .requestTimeout: return 408
            case .headersTooLarge: return 431
            case .payloadTooLarge: return 413
            case .unsupportedMediaType: return 415
            case .rateLimited: return 429
            case .upstreamConnectFailed, .upstreamError: return 502
            case .noHealthyUpstream, .unavailable, .circuitOpen: return 503
            case .upstreamTimeout: return 504
            case .internalError: return 500
            }
        }

        /// The code for an HTTP status another party answered (an integration, a framework error):
        /// the closest gateway code, so the client sees one vocabulary whatever produced the status.
        public init(httpStatus status: Int) {
            switch status {
            case 400: self = .badRequest
            case 401: self = .unauthenticated
            case 403: self = .permissionDenied
            case 404: self = .notFound
            case 405: self = .methodNotAllowed
            case 413: self = .payloadTooLarge
            case 415: self = .unsupportedMediaType
            case 429: self = .rateLimited
            case 502: self = .upstreamError
            case 503: self = .unavailable
            case 504: self = .upstreamTimeout
            case 400..<500: self = .badRequest
            default: self = .internalError
            }
        }

        /// The gRPC status code (numeric, as on the wire).
        public var grpcStatus: Int {
            switch value {
            case .badRequest: return 3  // INVALID_ARGUMENT
            case .unauthenticated: return 16  // UNAUTHENTICATED
            case .permissionDenied: return 7  // PERMISSION_DENIED
            case .notFound, .methodNotAllowed: return 12  // UNIMPLEMENTED
            case .payloadTooLarge, .rateLimited, .headersTooLarge: return 8  // RESOURCE_EXHAUSTED
            case .unsupportedMediaType: return 3
            case .upstreamConnectFailed, .upstreamError, .noHealthyUpstream, .unavailable, .circuitOpen:
                return 14  // UNAVAILABLE
            case .upstreamTimeout, .requestTimeout: return 4  // DEADLINE_EXCEEDED
            case .internalError: return 13  // INTERNAL
            }
        }

        /// The WebSocket close code used when the error ends a connection.
        public var webSocketCloseCode: UInt16 {
            switch value {
            case .payloadTooLarge, .headersTooLarge: return 1009
            case .unauthenticated, .permissionDenied: return 1008
            case .badRequest, .unsupportedMediaType: return 1007
            case .rateLimited: return 1008
            case .unavailable: return 1001
            case .circuitOpen: return 1013  // Try Again Later
            case .upstreamConnectFailed, .upstreamError, .noHealthyUpstream, .upstreamTimeout: return 1014
            case .notFound, .methodNotAllowed, .requestTimeout: return 1008
            case .internalError: return 1011
            }
        }

        /// A short human title for problem details.
        public var title: String {
            switch value {
            case .badRequest: return "Bad Request"
            case .unauthenticated: return "Unauthorized"
            case .permissionDenied: return "Forbidden"
            case .notFound: return "Not Found"
            case .methodNotAllowed: return "Method Not Allowed"
            case .requestTimeout: return "Request Timeout"
            case .headersTooLarge: return "Request Header Fields Too Large"
            case .payloadTooLarge: return "Content Too Large"
            case .unsupportedMediaType: return "Unsupported Media Type"
            case .rateLimited: return "Too Many Requests"
            case .upstreamConnectFailed, .upstreamError: return "Bad Gateway"
            case .noHealthyUpstream, .unavailable, .circuitOpen: return "Service Unavailable"
            case .upstreamTimeout: return "Gateway Timeout"
            case .internalError: return "Internal Server Error"
            }
        }
    }
}

/// Anything that can present itself as a ``GatewayError``.
public protocol GatewayErrorConvertible: Error {
    var gatewayError: GatewayError { get }
}

extension GatewayError: GatewayErrorConvertible {
    public var gatewayError: GatewayError { self }
}
