// The request context of the upgrade router: the shared gateway state (request id, trace, identity), the
// channel (to answer a refused handshake) and a box through which the handshake hands the accepted
// connection to the WebSocket handler that runs after the upgrade.
import Foundation
import GatewayCore
import GatewayHTTP
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Synchronization

struct WebSocketGatewayContext: RequestContext, WebSocketContext, GatewayRequestContextProtocol {
    var coreContext: CoreRequestContextStorage
    var gateway: GatewayRequestState
    /// The HTTP/1 channel being upgraded.
    let channel: any Channel
    /// Filled by the handshake, read by the connection handler.
    let handshake: HandshakeBox
    /// How the connection closed, as its `CloseFrameObserver` saw it.
    let closeRecord: CloseRecord

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        gateway = GatewayRequestState(clientAddress: source.channel.remoteAddress?.ipAddress)
        channel = source.channel
        handshake = HandshakeBox()
        closeRecord = CloseRecord()
    }

    /// Upgrade requests carry no body.
    var maxUploadSize: Int { 0 }
}

/// What an accepted handshake established about the connection.
struct AcceptedHandshake: Sendable {
    var connectionID: String
    var identity: Identity?
    /// Key/values the `$connect` integration attached; sent with every later integration call.
    var context: [String: String]
    var requestID: String
    var trace: GatewayTraceContext?
    var clientAddress: String?
    /// The `Host` the client connected to.
    var host: String?
    var path: String
    var subprotocol: String?
    var connectedAt: Date
}

/// A reference shared by the copies of one request's context.
final class HandshakeBox: Sendable {
    private let value = Mutex<AcceptedHandshake?>(nil)

    func set(_ accepted: AcceptedHandshake) { value.withLock { $0 = accepted } }
    var accepted: AcceptedHandshake? { value.withLock { $0 } }
}
