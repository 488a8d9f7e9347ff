// Gateway errors as HTTP responses: RFC 9457 problem details with the request id.
public import GatewayCore
public import HTTPTypes
public import Hummingbird
import NIOCore

extension GatewayError {
    /// The problem-details response for this error.
    public func response(instance: String? = nil, requestID: String? = nil, extraHeaders: HTTPFields = [:]) -> Response
    {
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
        let code = GatewayError.Code(httpStatus: Int(status.code))
        if code == .payloadTooLarge {
            return GatewayError(code, "the request body is larger than the configured limit")
        }
        return GatewayError(code, body ?? status.reasonPhrase)
    }
}
