// What every part of the WebSocket gateway shares: its configuration, routes, the connection registry,
// the integration caller, metrics, and the address services use to call the management API back.
import GatewayCore
import Hummingbird
import Logging
import NIOCore
import ServiceClient
import Synchronization

struct WebSocketRuntime: Sendable {
    let config: WebSocketGatewayConfig
    let routes: WebSocketRoutes
    let selector: RouteSelector
    let authenticator: Authenticator
    let caller: IntegrationCaller
    let registry: ConnectionRegistry
    let channels: ChannelHub
    /// Connections held by other replicas (nil: this is the only replica).
    let bus: ReplicaBus?
    let metrics: WebSocketMetrics
    let callback: CallbackAddress
    let accessLog: Bool
    let logger: Logger

    /// Messages of one connection handled concurrently; reading pauses beyond this.
    static let maxInFlightPerConnection = 16
    /// How long a closing connection may take to answer the close frame before its socket is closed.
    static let closeTimeout: Duration = .seconds(5)
    /// Outbound messages larger than this are sent as fragments (clients often cap frames at 16KiB).
    static let outboundFragmentSize = 16 << 10

    var maxMessageSize: Int { config.maxMessageSize.bytes }

    /// A management request's body, at most `maxMessageSize` (a message bigger than that could not be
    /// sent to a client anyway): 413 beyond it.
    func collectBody(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: maxMessageSize)
        } catch is NIOTooManyBytesError {
            throw GatewayError(.payloadTooLarge, "the body is larger than maxMessageSize (\(maxMessageSize) bytes)")
        }
    }

    /// The context of an integration call made for `accepted`'s connection: the call's own request id, a
    /// new span of the handshake's trace, the caller's identity and address.
    func upstreamContext(_ accepted: AcceptedHandshake, requestID: String, newSpan: Bool) -> UpstreamCallContext {
        let trace =
            newSpan
            ? accepted.trace.map { GatewayTraceContext(traceparent: $0.traceparent, tracestate: $0.tracestate) }
            : accepted.trace
        return UpstreamCallContext(
            requestID: requestID, trace: trace, identity: accepted.identity, clientAddress: accepted.clientAddress,
            clientScheme: "http", clientHost: accepted.host)
    }
}

/// `http://<host>:<port>` of this gateway's main listener, sent as `callbackUrl` so integrations can call
/// `/@connections` back. The port is known once the listener is bound (port 0 picks one).
final class CallbackAddress: Sendable {
    private let host: String
    private let port: Atomic<Int>

    init(listen: ListenAddress) {
        // A wildcard bind address is not somewhere to call back to; loopback is, on this machine.
        switch listen.host {
        case "0.0.0.0", "", "*": host = "127.0.0.1"
        case "::", "[::]": host = "[::1]"
        case let name where name.contains(":") && !name.hasPrefix("["): host = "[\(name)]"
        case let name: host = name
        }
        port = Atomic(listen.port)
    }

    func bound(port: Int) { self.port.store(port, ordering: .relaxed) }

    var url: String { "http://\(host):\(port.load(ordering: .relaxed))" }
}
