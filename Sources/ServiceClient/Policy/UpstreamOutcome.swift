// What happened on one try of an upstream call, as every transport reports it, and the facts about
// the request that decide whether it may be retried. The policy types (outlier detection, breaker,
// retry, balancing) only see these, never a transport.
public import GatewayCore

/// The result of one try against one endpoint.
public enum UpstreamOutcome: Sendable, Equatable {
    /// The service answered with this HTTP status (for gRPC: the HTTP status of the response).
    case response(status: Int)
    /// The call ended with this gRPC status (trailers).
    case grpc(status: Int)
    /// No connection could be made (refused, unreachable, connect timeout, TLS handshake failure).
    case connectFailed
    /// The connection was reset or closed before the response ended.
    case reset
    /// The try did not finish within its timeout.
    case timedOut
    /// The client went away or the gateway gave up; says nothing about the endpoint.
    case cancelled

    /// The label used in metrics.
    public var label: String {
        switch self {
        case .response(let status): return status >= 500 ? "http_5xx" : "ok"
        case .grpc(let status): return status == 0 ? "ok" : "grpc_error"
        case .connectFailed: return "connect_failure"
        case .reset: return "reset"
        case .timedOut: return "timeout"
        case .cancelled: return "cancelled"
        }
    }

    /// Whether this try counts against the endpoint (outlier detection) and the service (breaker).
    public func isFailure(failureStatuses: [Int]) -> Bool {
        switch self {
        case .response(let status): return failureStatuses.contains(status)
        case .grpc(let status):
            return status == 14  // UNAVAILABLE: the server is not taking calls.
        case .connectFailed, .reset, .timedOut: return true
        case .cancelled: return false
        }
    }

    /// The outcome a gateway error stands for, when a transport reports failures as errors.
    public init(_ error: GatewayError) {
        switch error.code {
        case .upstreamConnectFailed: self = .connectFailed
        case .upstreamTimeout: self = .timedOut
        case .upstreamError: self = .reset
        default: self = .cancelled
        }
    }
}

/// Facts about a request that retry decisions need.
public struct RetryableRequest: Sendable {
    /// Safe to send twice: GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or any request with an `Idempotency-Key`.
    public var isIdempotent: Bool
    /// The whole body is held by the gateway (or there is none), so it can be sent again.
    public var bodyReplayable: Bool

    public init(isIdempotent: Bool, bodyReplayable: Bool) {
        self.isIdempotent = isIdempotent
        self.bodyReplayable = bodyReplayable
    }

    public static func isIdempotent(method: String, hasIdempotencyKey: Bool) -> Bool {
        hasIdempotencyKey || ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"].contains(method.uppercased())
    }
}

/// The endpoint a try goes to: the declared URL (scheme, host for `Host` and TLS SNI, port, base
/// path) and, when the host is a DNS name that discovery resolved, the IP address to connect to.
public struct UpstreamAddress: Hashable, Sendable, CustomStringConvertible {
    public let url: EndpointURL
    public let ip: String?
    /// What goes in `Host`: the declared URL's host and port (made once, sent on every request).
    public let authority: String

    public init(url: EndpointURL, ip: String? = nil) {
        self.url = url
        self.ip = ip
        self.authority = url.authority
    }

    /// Hashes what tells endpoints apart in practice (port, host, resolved IP), not every field:
    /// addresses are dictionary keys on every call (pool, balancer, metrics). Equality still
    /// compares all of them.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(url.port)
        hasher.combine(url.host)
        hasher.combine(ip)
    }

    /// What the socket connects to.
    public var connectHost: String { ip ?? url.host }
    public var port: Int { url.port }

    public var description: String {
        guard let ip else { return url.description }
        let host = ip.utf8.contains(UInt8(ascii: ":")) ? "[\(ip)]" : ip
        return "\(url.scheme)://\(host):\(url.port)\(url.basePath)"
    }
}
