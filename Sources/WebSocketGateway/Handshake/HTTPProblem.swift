// RFC 9457 problem details for any HTTP status: GatewayError covers the gateway's own codes; refused
// handshakes (a `$connect` answer's status) and `410 Gone` for unknown connections need others.
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import NIOCore

struct HTTPProblem: Sendable {
    var status: Int
    var body: [UInt8]
    var headers: [(String, String)]

    init(_ error: GatewayError, instance: String?, requestID: String?, headers: [(String, String)] = []) {
        status = error.code.httpStatus
        body = error.problemDetails(instance: instance, requestID: requestID)
        self.headers = headers
    }

    /// A problem with any status; same shape as ``GatewayError/problemDetails(instance:requestID:)``.
    init(
        status: Int, code: String, detail: String, instance: String?, requestID: String?,
        headers: [(String, String)] = []
    ) {
        self.status = status
        var object: [String: String] = [
            "type": "https://portico.dev/problems/\(code.replacingOccurrences(of: "_", with: "-"))",
            "title": Self.title(status),
            "detail": detail,
            "code": code,
        ]
        if let instance { object["instance"] = instance }
        if let requestID { object["requestId"] = requestID }
        var json = "{\"status\":\(status)"
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            json += ",\(JSONString.quote(key)):\(JSONString.quote(value))"
        }
        body = Array((json + "}").utf8)
        self.headers = headers
    }

    /// The standard reason phrase of `status` ("Error" for an unusual one).
    static func title(_ status: Int) -> String {
        let known: [Int: String] = [
            400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
            412: "Precondition Failed", 413: "Content Too Large", 415: "Unsupported Media Type",
            422: "Unprocessable Content", 423: "Locked", 426: "Upgrade Required", 429: "Too Many Requests",
            451: "Unavailable For Legal Reasons", 500: "Internal Server Error", 501: "Not Implemented",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
        ]
        return known[status] ?? "Error"
    }

    /// The Hummingbird response carrying this problem.
    var response: Response {
        var fields = HTTPFields()
        fields[.contentType] = GatewayError.problemContentType
        for (name, value) in headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        return Response(
            status: HTTPResponse.Status(code: status), headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
