// The state of one request/response exchange on the byte-level data path: the request head kept as
// bytes (re-written for each try), body bytes waiting for a connection or kept for a replay, the
// upstream call with its tries and timers, and how far the upstream's response has been framed.
import GatewayCore
import NIOCore
import ServiceClient

final class FastExchange {
    let request: FastRequest
    let requestID: String
    let trace: GatewayTraceContext
    let start = ContinuousClock.now
    let method: String
    /// The request target without its query, for problem details and the access log.
    let path: Substring
    let keepAlive: Bool
    let isHEAD: Bool
    var routeName = "unmatched"
    var client = ForwardedClient(peer: nil, host: nil)
    var plan: FastRoutePlan?
    /// Headers every response to this request carries (CORS, rate limit).
    var extraResponseHeaders: [(String, String)] = []

    var phase: RESTExchange.Phase = .preparing
    /// Request body bytes received but not yet written upstream (while preparing or between tries).
    var pending: [ByteBuffer] = []
    /// Body bytes already written upstream, kept while the body is small enough to send again.
    var sentBody: [ByteBuffer] = []
    var sentBodyBytes = 0
    var replayable = true
    var requestEnded = false
    var bodyBytes = 0
    var maxBodyBytes = Int.max

    var call: UpstreamCall?
    var target: RESTExchange.Target?
    var deadline: CallDeadline?
    /// When the call's deadline passes (the connection's timer checks it; see armDeadline).
    var deadlineAt: NIODeadline?
    var tryTimer: Scheduled<Void>?
    var retryTimer: Scheduled<Void>?
    var lease: UpstreamLease?

    /// How far the upstream's response has been read.
    enum Response {
        case head
        case length(Int)
        case chunked
        case untilClose
    }
    var response = Response.head
    var responseHead: ByteBuffer?
    var chunks = HTTP1ChunkedTracker()
    var responseStarted = false
    var responseStatus: UInt = 0
    var responseBytes = 0
    var upstreamReusable = true
    /// The response head told the client the connection closes after it.
    var closeClient = false

    init(request: FastRequest, requestID: String, trace: GatewayTraceContext, method: String, path: Substring) {
        self.request = request
        self.requestID = requestID
        self.trace = trace
        self.method = method
        self.path = path
        self.keepAlive = request.head.keepAlive
        self.isHEAD = method == "HEAD"
    }

    var canAnswer: Bool { !responseStarted }

    /// Keeps a copy of a body part written upstream, or gives up replaying when the body is too big.
    func remember(_ buffer: ByteBuffer, limit: Int) {
        guard replayable else { return }
        sentBodyBytes += buffer.readableBytes
        if sentBodyBytes > limit {
            replayable = false
            sentBody.removeAll()
        } else {
            sentBody.append(buffer)
        }
    }

    func cancelTimers() {
        deadlineAt = nil
        tryTimer?.cancel()
        retryTimer?.cancel()
        tryTimer = nil
        retryTimer = nil
    }
}
