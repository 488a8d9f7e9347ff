// GraphQL responses over HTTP: `{"errors", "data"}` in the negotiated media type, with the status
// GraphQL over HTTP asks for (request errors are 400 under application/graphql-response+json).
import GatewayCore
import GatewayHTTP
import GraphQL
import HTTPTypes
import Hummingbird
import NIOCore

enum GraphQLHTTPResponse {
    /// The route label used for metrics and access logs.
    static let routeName = "graphql"

    /// The response for what the engine made of a request.
    static func make(_ outcome: GraphQLOutcome, media: GraphQLResponseMediaType) -> Response {
        switch outcome {
        case .executed(let data, let errors):
            return make(status: .ok, media: media, data: data, errors: errors)
        case .requestErrors(let errors):
            return make(status: media == .graphQLResponse ? .badRequest : .ok, media: media, data: nil, errors: errors)
        case .mutationNotAllowed:
            return make(
                status: .methodNotAllowed, media: media, data: nil,
                errors: [.request("mutations are only accepted with POST", code: GraphQLErrorCode.badRequest)],
                headers: [.allow: "POST"])
        }
    }

    /// A response for an error the gateway raised outside GraphQL execution (bad body, auth, size…).
    static func make(_ error: GatewayError, media: GraphQLResponseMediaType, headers: HTTPFields = [:]) -> Response {
        var extensions: [String: Map] = [:]
        for (key, value) in error.details { extensions[key] = .string(value) }
        extensions["code"] = .string(GraphQLErrorCode.code(for: error.code))
        var headers = headers
        if error.code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
        return make(
            status: HTTPResponse.Status(code: error.code.httpStatus), media: media, data: nil,
            errors: [GraphQLError(message: error.message, locations: [], extensions: extensions)], headers: headers)
    }

    static func make(
        status: HTTPResponse.Status, media: GraphQLResponseMediaType, data: Map?, errors: [GraphQLError],
        headers: HTTPFields = [:]
    ) -> Response {
        var headers = headers
        headers[.contentType] = media.contentType
        if let name = HTTPField.Name(ObservabilityRouteHeader.name) { headers[name] = routeName }
        let bytes =
            (try? JSONMap.encode(Body(data: data, errors: errors)))
            ?? Array(#"{"errors":[{"message":"the response could not be encoded"}]}"#.utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `errors` first (as the GraphQL spec suggests), then `data` when execution started.
    private struct Body: Encodable {
        let data: Map?
        let errors: [GraphQLError]

        enum CodingKeys: String, CodingKey { case errors, data }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            if !errors.isEmpty { try container.encode(errors.map(EncodedError.init), forKey: .errors) }
            if let data { try container.encode(data, forKey: .data) }
        }
    }

    /// An error with only the members that apply (no empty `path` on request errors).
    private struct EncodedError: Encodable {
        let error: GraphQLError

        enum CodingKeys: String, CodingKey { case message, locations, path, extensions }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(error.message, forKey: .message)
            if !error.locations.isEmpty { try container.encode(error.locations, forKey: .locations) }
            if !error.path.elements.isEmpty { try container.encode(error.path, forKey: .path) }
            if !error.extensions.isEmpty {
                let sorted = error.extensions.sorted { $0.key < $1.key }
                try container.encode(JSONMap.object(sorted.map { ($0.key, $0.value) }), forKey: .extensions)
            }
        }
    }
}

/// The internal header through which a handler names its route for the observability middleware.
enum ObservabilityRouteHeader {
    static var name: String { ObservabilityMiddleware<GatewayRequestContext>.routeHeader }
}
