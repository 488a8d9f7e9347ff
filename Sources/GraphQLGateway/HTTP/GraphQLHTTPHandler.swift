// The GraphQL-over-HTTP endpoint: POST with a JSON body, GET with URL parameters (queries only),
// 405 for other methods. Errors outside execution are GraphQL error bodies too.
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import ServiceClient

struct GraphQLHTTPHandler: Sendable {
    /// The caller may shorten the time every upstream call of its request gets.
    static let timeoutField = HTTPField.Name(CallDeadline.headerName)!
    let engine: GraphQLEngine

    func post(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let media = GraphQLResponseMediaType.negotiate(accept: request.headers[.accept])
        if let contentType = request.headers[.contentType], !Self.isJSON(contentType) {
            return GraphQLHTTPResponse.make(
                GatewayError(.unsupportedMediaType, "send the GraphQL request as application/json"), media: media)
        }
        var request = request
        let body: [UInt8]
        do {
            body = Array(try await request.collectBody(upTo: context.maxUploadSize).readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return GraphQLHTTPResponse.make(
                GatewayError(.payloadTooLarge, "the request body is larger than \(context.maxUploadSize) bytes"),
                media: media)
        }
        let parameters: GraphQLRequestParameters
        do {
            parameters = try GraphQLHTTPRequest.parameters(jsonBody: body)
        } catch {
            return GraphQLHTTPResponse.make(GatewayError(.badRequest, error.description), media: media)
        }
        let outcome = await engine.run(
            parameters,
            upstream: context.gateway.upstreamContext(
                host: request.head.authority, timeoutHeader: request.headers[Self.timeoutField]), allowMutations: true)
        return GraphQLHTTPResponse.make(outcome, media: media)
    }

    func get(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let media = GraphQLResponseMediaType.negotiate(accept: request.headers[.accept])
        let parameters: GraphQLRequestParameters
        do {
            parameters = try GraphQLHTTPRequest.parameters(queryString: request.uri.query)
        } catch {
            return GraphQLHTTPResponse.make(GatewayError(.badRequest, error.description), media: media)
        }
        let outcome = await engine.run(
            parameters,
            upstream: context.gateway.upstreamContext(
                host: request.head.authority, timeoutHeader: request.headers[Self.timeoutField]), allowMutations: false)
        return GraphQLHTTPResponse.make(outcome, media: media)
    }

    /// Any method but GET and POST.
    func otherMethod(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        GraphQLHTTPResponse.make(
            GatewayError(.methodNotAllowed, "use GET or POST"),
            media: GraphQLResponseMediaType.negotiate(accept: request.headers[.accept]), headers: [.allow: "GET, POST"])
    }

    /// `application/json`, with or without parameters (`; charset=utf-8`).
    static func isJSON(_ contentType: String) -> Bool {
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return type == "application/json"
    }
}

/// Turns errors raised in front of the handler (authentication, authorization) into GraphQL error
/// bodies with the same HTTP status, instead of problem details.
struct GraphQLErrorMiddleware<Context: GatewayRequestContextProtocol>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let media = GraphQLResponseMediaType.negotiate(accept: request.headers[.accept])
        do {
            return try await next(request, context)
        } catch let error as any GatewayErrorConvertible {
            return GraphQLHTTPResponse.make(error.gatewayError, media: media)
        } catch let error as any HTTPResponseError {
            var response = GraphQLHTTPResponse.make(Self.gatewayError(status: error.status), media: media)
            response.status = error.status
            return response
        }
    }

    static func gatewayError(status: HTTPResponse.Status) -> GatewayError {
        GatewayError(GatewayError.Code(httpStatus: Int(status.code)), status.reasonPhrase)
    }
}
