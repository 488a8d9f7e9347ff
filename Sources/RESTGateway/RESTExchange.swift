// The state of one request/response exchange on a REST client connection: what was received, which
// phase it is in, the upstream call with its tries and timers, and the body parts kept for a replay.
import GatewayCore
import NIOCore
import NIOHTTP1
import ServiceClient

final class RESTExchange {
    /// The client's request head (its framing headers are rewritten when a transform replaces the body).
    var head: HTTPRequestHead
    let requestID: String
    let trace: GatewayTraceContext
    let start = ContinuousClock.now
    var routeName = "unmatched"
    /// Request parts received but not yet written upstream (while preparing or between tries).
    var pending: [HTTPServerRequestPart] = []
    /// Body parts already written upstream, kept while the body is small enough to send again.
    var sentBody: [ByteBuffer] = []
    var sentBodyBytes = 0
    var replayable = true
    var requestEnded = false
    var bodyBytes = 0
    /// The request body limit: the gateway's, then the matched route's.
    var maxBodyBytes = Int.max
    var responseBytes = 0
    var lease: UpstreamLease?
    var phase: Phase = .preparing
    var responseStarted = false
    var responseStatus: UInt = 0
    var upstreamKeepAlive = true
    /// The whole call's deadline timer, and the current try's.
    var deadlineTimer: Scheduled<Void>?
    var tryTimer: Scheduled<Void>?
    var retryTimer: Scheduled<Void>?
    var call: UpstreamCall?
    /// The client as policies and the upstream see it (behind trusted proxies: from X-Forwarded-*).
    var client = ForwardedClient(peer: nil, host: nil)
    /// A copy of the request on its way to a shadow service (body collected until the request ends).
    var mirror: MirrorCopy?

    struct MirrorCopy {
        let mirror: RESTMirror
        let path: String
        let identity: Identity?
        var body: [ByteBuffer]
        var bytes: Int
    }

    /// Headers every response to this request carries (CORS).
    var extraResponseHeaders: [(String, String)] = []
    var deadline: CallDeadline?
    var target: Target?
    /// The matched route's parameters and the request's query string.
    var parameters: [String: String] = [:]
    var query: Substring?
    /// Runs once the whole request body is here (routes that transform or validate it).
    var whenRequestComplete: (() -> Void)?
    /// A response held back until its whole body is here, to transform it.
    var heldResponse: HTTPResponseHead?
    var heldBody: [UInt8] = []
    /// The cache's view of this request, what the lookup said, and the entry being filled.
    var cacheRequest: CacheRequest?
    var cacheLookup: CacheLookup?
    var cacheEntry: PendingEntry?
    var cacheConfig: RouteCacheConfig?

    /// Whether the gateway can still answer with a status of its own (nothing has gone to the client).
    var canAnswer: Bool { !responseStarted || heldResponse != nil }

    /// Where and how the request goes, fixed once routing and auth are done.
    struct Target {
        let route: RESTRoute
        let upstreamPath: String
        let identity: Identity?
        let hashKey: String?
        let facts: RetryableRequest
    }

    enum Phase {
        /// Routing, auth, leasing or a retry's backoff in progress; parts are queued.
        case preparing
        /// Parts flow to the upstream connection.
        case forwarding
        /// The gateway answered itself; remaining request parts are discarded.
        case answered
        case finished
    }

    init(head: HTTPRequestHead, requestID: String, trace: GatewayTraceContext) {
        self.head = head
        self.requestID = requestID
        self.trace = trace
    }

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
        deadlineTimer?.cancel()
        tryTimer?.cancel()
        retryTimer?.cancel()
        deadlineTimer = nil
        tryTimer = nil
        retryTimer = nil
    }
}
