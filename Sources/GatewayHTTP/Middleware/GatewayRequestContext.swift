// The request context of the Hummingbird-based gateways: what the shared middleware learns about a
// request (id, trace, identity, route, client address) and hands to the gateway's handlers.
public import GatewayCore
public import Hummingbird
import NIOCore
public import ServiceClient

/// Per-request state set by the shared middleware.
public struct GatewayRequestState: Sendable {
    public var requestID: String = ""
    public var trace: GatewayTraceContext?
    public var identity: Identity?
    /// The matched route's name, for metrics and access logs.
    public var routeName: String?
    public var clientAddress: String?

    public init(clientAddress: String? = nil) {
        self.clientAddress = clientAddress
    }
}

/// A context that carries ``GatewayRequestState``; gateways with their own context type (WebSocket)
/// conform to this too.
public protocol GatewayRequestContextProtocol: RequestContext {
    var gateway: GatewayRequestState { get set }
}

/// The default context of the translating gateways.
public struct GatewayRequestContext: GatewayRequestContextProtocol {
    public var coreContext: CoreRequestContextStorage
    public var gateway: GatewayRequestState
    private let uploadLimit: Int

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        gateway = GatewayRequestState(clientAddress: source.channel.remoteAddress?.ipAddress)
        uploadLimit = GatewayLimits.maxRequestBodySize
    }

    public var maxUploadSize: Int { uploadLimit }
}

/// Process-wide limits read by request contexts (set once at start-up from `limits`).
public enum GatewayLimits {
    nonisolated(unsafe) public static var maxRequestBodySize = 1 << 20
}

extension GatewayRequestState {
    /// What a ServiceClient call needs from this request. `timeoutHeader` is the caller's
    /// `x-portico-timeout-ms`, if any: every upstream call of the request ends by then.
    public func upstreamContext(host: String?, timeoutHeader: String? = nil) -> UpstreamCallContext {
        var context = UpstreamCallContext(
            requestID: requestID, trace: trace, identity: identity, clientAddress: clientAddress, clientScheme: "http",
            clientHost: host)
        context.callerDeadline = CallDeadline.parseHeader(timeoutHeader).map { ContinuousClock.now + $0 }
        return context
    }
}
