// GraphQL errors as the gateway writes them: every error carries `extensions.code` (a GatewayError
// code name in upper case for upstream failures, GRAPHQL_PARSE_FAILED etc. for request errors).
import GatewayCore
import GraphQL

/// The `extensions.code` values the gateway produces itself.
enum GraphQLErrorCode {
    static let badRequest = "BAD_REQUEST"
    static let parseFailed = "GRAPHQL_PARSE_FAILED"
    static let validationFailed = "GRAPHQL_VALIDATION_FAILED"
    static let queryTooDeep = "QUERY_TOO_DEEP"
    static let badUserInput = "BAD_USER_INPUT"
    static let operationResolutionFailure = "OPERATION_RESOLUTION_FAILURE"
    static let subgraphError = "SUBGRAPH_ERROR"
    static let notFound = "NOT_FOUND"
    static let internalError = "INTERNAL_SERVER_ERROR"

    /// The code for a gateway error: its stable name in upper case (`upstream_timeout` →
    /// `UPSTREAM_TIMEOUT`).
    static func code(for error: GatewayError.Code) -> String { error.name.uppercased() }
}

extension GraphQLError {
    /// The same error with `code` set in its extensions (an existing code is kept unless `replacing`).
    func withCode(_ code: String, replacing: Bool = false) -> GraphQLError {
        var extensions = self.extensions
        if replacing || extensions["code"] == nil { extensions["code"] = .string(code) }
        return GraphQLError(message: message, locations: locations, path: path, extensions: extensions)
    }

    /// A request-level error (no path).
    static func request(_ message: String, code: String, locations: [SourceLocation] = []) -> GraphQLError {
        GraphQLError(message: message, locations: locations, extensions: ["code": .string(code)])
    }

    /// A field error located at the field being resolved.
    static func field(
        _ message: String, code: String, info: GraphQLResolveInfo, extensions: [String: Map] = [:]
    ) -> GraphQLError {
        var extensions = extensions
        extensions["code"] = .string(code)
        return GraphQLError(message: message, nodes: info.fieldASTs, path: info.path, extensions: extensions)
    }

    /// A field error for a failed upstream call: code from the gateway error, details as extensions.
    static func field(_ error: GatewayError, service: String, info: GraphQLResolveInfo) -> GraphQLError {
        var extensions: [String: Map] = ["service": .string(service)]
        for (key, value) in error.details where key != "code" { extensions[key] = .string(value) }
        return field(error.message, code: GraphQLErrorCode.code(for: error.code), info: info, extensions: extensions)
    }
}
