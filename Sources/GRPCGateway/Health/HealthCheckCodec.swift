// `grpc.health.v1.Health/Check` answered by the gateway itself, without protobuf code: the request
// (`HealthCheckRequest { string service = 1; }`) is decoded and the response
// (`HealthCheckResponse { ServingStatus status = 1; }`) encoded by hand, each in one gRPC message frame.
import NIOCore

enum HealthCheckCodec {
    static let path = GRPCMethodPath(service: "grpc.health.v1.Health", method: "Check")
    /// `ServingStatus.SERVING`.
    static let serving: UInt8 = 1
    /// The largest request body the gateway reads for a health check.
    static let maxRequestBytes = 4096

    enum DecodeError: Error, Equatable {
        case notOneMessage
        case compressed
        case malformed
    }

    /// The `service` of the single length-prefixed `HealthCheckRequest` in `body` (empty when absent).
    static func decodeRequest(_ body: ByteBuffer) throws(DecodeError) -> String {
        var body = body
        if body.readableBytes == 0 { return "" }  // No message at all: treat as the default request.
        guard let flag = body.readInteger(as: UInt8.self), let length = body.readInteger(as: UInt32.self) else {
            throw .notOneMessage
        }
        guard flag == 0 else { throw .compressed }
        guard Int(length) == body.readableBytes, let message = body.readBytes(length: Int(length)) else {
            throw .notOneMessage
        }
        return try decodeService(message[...])
    }

    /// The `service` field of a `HealthCheckRequest` message; other fields are skipped.
    static func decodeService(_ message: ArraySlice<UInt8>) throws(DecodeError) -> String {
        var input = message
        var service = ""
        while !input.isEmpty {
            let key = try readVarint(&input)
            let field = key >> 3
            switch key & 7 {
            case 0:
                _ = try readVarint(&input)
            case 1, 5:
                let size = key & 7 == 1 ? 8 : 4
                guard input.count >= size else { throw .malformed }
                input = input.dropFirst(size)
            case 2:
                let length = try readVarint(&input)
                guard length <= UInt64(input.count) else { throw .malformed }
                let bytes = input.prefix(Int(length))
                input = input.dropFirst(Int(length))
                if field == 1 {
                    guard let text = String(validating: bytes, as: UTF8.self) else { throw .malformed }
                    service = text
                }
            default:
                throw .malformed
            }
        }
        return service
    }

    private static func readVarint(_ input: inout ArraySlice<UInt8>) throws(DecodeError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = input.popFirst() {
            guard shift < 64 else { throw .malformed }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        throw .malformed
    }

    /// One gRPC message frame holding `HealthCheckResponse { status: SERVING }`.
    static func servingResponse(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 7)
        buffer.writeInteger(UInt8(0))  // not compressed
        buffer.writeInteger(UInt32(2))  // message length
        buffer.writeBytes([0x08, serving])  // field 1, varint: SERVING
        return buffer
    }
}
