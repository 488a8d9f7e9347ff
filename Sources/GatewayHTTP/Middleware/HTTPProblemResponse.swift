// Gateway errors as HTTP responses: RFC 9457 problem details with the request id.
public import GatewayCore
public import Hummingbird
public import HTTPTypes
import NIOCore

extension GatewayError {
    /// The problem-details response for this error.
    public func response(instance: String? = nil, requestID: String? = nil, extraHeaders: HTTPFields = [:]) -> Response {
        var headers = extraHeaders
        headers[.contentType] = GatewayError.problemContentType
        if let requestID, let name = HTTPField.Name(RequestID.headerName) { headers[name] = requestID }
        return Response(
            status: HTTPResponse.Status(code: code.httpStatus),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: problemDetails(instance: instance, requestID: requestID))))
    }
}

extension HTTPError {
    /// Hummingbird's own errors (bad JSON, body too large…) expressed as a gateway error.
    var gatewayError: GatewayError {
        let message = body ?? status.reasonPhrase
        switch status.code {
        case 400: return GatewayError(.badRequest, message)
        case 401: return GatewayError(.unauthenticated, message)
        case 403: return GatewayError(.permissionDenied, message)
        case 404: return GatewayError(.notFound, message)
        case 405: return GatewayError(.methodNotAllowed, message)
        case 413: return GatewayError(.payloadTooLarge, "the request body is larger than the configured limit")
        case 415: return GatewayError(.unsupportedMediaType, message)
        case 429: return GatewayError(.rateLimited, message)
        case 502: return GatewayError(.upstreamError, message)
        case 503: return GatewayError(.unavailable, message)
        case 504: return GatewayError(.upstreamTimeout, message)
        default: return GatewayError(.internalError, message)
        }
    }
}
