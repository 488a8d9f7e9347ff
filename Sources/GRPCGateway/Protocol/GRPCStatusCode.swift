// gRPC status codes as the wire and the metrics see them: the numeric code, the canonical name
// (`UNAVAILABLE`), and the mapping from gateway errors and HTTP/2 stream resets.
import GatewayCore
import NIOHTTP2

/// A gRPC status code (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
struct GRPCStatusCode: Hashable, Sendable, CustomStringConvertible {
    let rawValue: Int

    init(_ rawValue: Int) { self.rawValue = rawValue }

    static let ok = GRPCStatusCode(0)
    static let cancelled = GRPCStatusCode(1)
    static let unknown = GRPCStatusCode(2)
    static let invalidArgument = GRPCStatusCode(3)
    static let deadlineExceeded = GRPCStatusCode(4)
    static let notFound = GRPCStatusCode(5)
    static let permissionDenied = GRPCStatusCode(7)
    static let resourceExhausted = GRPCStatusCode(8)
    static let unimplemented = GRPCStatusCode(12)
    static let `internal` = GRPCStatusCode(13)
    static let unavailable = GRPCStatusCode(14)
    static let unauthenticated = GRPCStatusCode(16)

    private static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    /// The canonical upper-case name, e.g. `DEADLINE_EXCEEDED`; `CODE_<n>` for codes outside 0–16.
    var name: String { Self.names.indices.contains(rawValue) ? Self.names[rawValue] : "CODE_\(rawValue)" }
    var description: String { name }

    /// The `grpc-status` value of a header block, if it has a valid one.
    init?(grpcStatusHeader value: String?) {
        guard let value, let code = Int(value), code >= 0 else { return nil }
        self.init(code)
    }

    /// The status a gateway error is reported with.
    init(_ error: GatewayError) { self.init(error.code.grpcStatus) }

    /// The status of a call whose upstream stream was reset with `code` (gRPC's HTTP/2 error mapping,
    /// except that an upstream CANCEL, which also ends streams cut off by GOAWAY, is UNAVAILABLE: the
    /// client did not cancel anything).
    init(resetCode code: HTTP2ErrorCode) {
        switch code {
        case .refusedStream, .cancel: self = .unavailable
        case .enhanceYourCalm: self = .resourceExhausted
        case .inadequateSecurity: self = .permissionDenied
        default: self = .internal
        }
    }
}
