// Header blocks the gateway writes itself: trailers-only responses for gateway-made errors,
// response headers and trailers for locally answered calls, with `grpc-message` percent-encoded as
// the gRPC over HTTP/2 spec requires.
import NIOHPACK

enum GRPCResponseHeaders {
    static let contentType = "application/grpc"

    /// `:status 200` and `content-type`: the headers of a locally answered call.
    static func responseHeaders(requestID: String) -> HPACKHeaders {
        [":status": "200", "content-type": contentType, "x-request-id": requestID]
    }

    /// The trailers that end a call with `status`.
    static func trailers(status: GRPCStatusCode, message: String?) -> HPACKHeaders {
        var headers: HPACKHeaders = ["grpc-status": "\(status.rawValue)"]
        if let message, !message.isEmpty { headers.add(name: "grpc-message", value: percentEncode(message)) }
        return headers
    }

    /// A trailers-only response: one header block that ends the call (used for every gateway-made
    /// error). `httpStatus` stays 200 except for requests that are not gRPC at all.
    static func trailersOnly(
        status: GRPCStatusCode, message: String?, requestID: String?, httpStatus: Int = 200
    ) -> HPACKHeaders {
        var headers: HPACKHeaders = [":status": "\(httpStatus)", "content-type": contentType]
        if let requestID { headers.add(name: "x-request-id", value: requestID) }
        headers.add(contentsOf: trailers(status: status, message: message))
        return headers
    }

    /// Percent-encodes every byte outside printable ASCII and `%` itself (spec: "Percent-Encoded").
    static func percentEncode(_ message: String) -> String {
        var encoded = ""
        encoded.reserveCapacity(message.utf8.count)
        for byte in message.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                encoded.unicodeScalars.append("%")
                encoded.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                encoded.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
            }
        }
        return encoded
    }
}
