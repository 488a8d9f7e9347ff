// What travels with every upstream call, whatever the transport: request id, trace context, the
// verified identity and the client's address, turned into headers in one place.
public import GatewayCore

public struct UpstreamCallContext: Sendable {
    public var requestID: String
    public var trace: GatewayTraceContext?
    public var identity: Identity?
    /// The client's IP address, appended to `X-Forwarded-For`.
    public var clientAddress: String?
    /// `http` or `https`, as the client connected.
    public var clientScheme: String
    /// The `Host` the client asked for.
    public var clientHost: String?
    /// `X-Forwarded-For` as received from a trusted proxy (not trusted by default: nil).
    public var priorForwardedFor: String?
    /// When the caller wants the whole request done (from its `x-portico-timeout-ms`), if it said.
    public var callerDeadline: ContinuousClock.Instant?

    public init(
        requestID: String, trace: GatewayTraceContext? = nil, identity: Identity? = nil, clientAddress: String? = nil,
        clientScheme: String = "http", clientHost: String? = nil, priorForwardedFor: String? = nil
    ) {
        self.requestID = requestID
        self.trace = trace
        self.identity = identity
        self.clientAddress = clientAddress
        self.clientScheme = clientScheme
        self.clientHost = clientHost
        self.priorForwardedFor = priorForwardedFor
    }

    /// The headers every upstream request carries (names lower-case where HTTP/2 needs it).
    public func propagationHeaders(identityHeaders: IdentityHeadersConfig) -> [(String, String)] {
        var headers: [(String, String)] = [(RequestID.headerName, requestID)]
        if let trace {
            headers.append(("traceparent", trace.traceparent))
            if let state = trace.tracestate, !state.isEmpty { headers.append(("tracestate", state)) }
        }
        if let identity { headers.append(contentsOf: identity.forwardedHeaders(identityHeaders)) }
        headers.append(
            contentsOf: Self.forwardingHeaders(
                clientAddress: clientAddress, priorForwardedFor: priorForwardedFor, clientScheme: clientScheme,
                clientHost: clientHost))
        return headers
    }

    /// The part of `propagationHeaders` that describes the client (`X-Forwarded-*`, `Forwarded`): the
    /// same for every request of a connection, so a data path may compute it once per connection.
    public static func forwardingHeaders(
        clientAddress: String?, priorForwardedFor: String?, clientScheme: String, clientHost: String?
    ) -> [(String, String)] {
        var headers: [(String, String)] = []
        if let clientAddress {
            let forwardedFor = priorForwardedFor.map { "\($0), \(clientAddress)" } ?? clientAddress
            headers.append(("X-Forwarded-For", forwardedFor))
            var forwarded = "for=\(Self.forwardedNode(clientAddress));proto=\(clientScheme)"
            if let clientHost { forwarded += ";host=\(JSONString.quote(clientHost))" }
            headers.append(("Forwarded", forwarded))
        }
        headers.append(("X-Forwarded-Proto", clientScheme))
        if let clientHost { headers.append(("X-Forwarded-Host", clientHost)) }
        return headers
    }

    /// RFC 7239 node syntax: IPv6 addresses are quoted and bracketed.
    static func forwardedNode(_ address: String) -> String {
        address.utf8.contains(UInt8(ascii: ":")) ? "\"[\(address)]\"" : address
    }

    /// Header names the gateway sets itself; a client's copies are removed before forwarding.
    public static func managedHeaderNames(identityHeaders: IdentityHeadersConfig) -> Set<String> {
        Set(
            (identityHeaders.all + ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"]).map {
                $0.lowercased()
            })
    }
}
