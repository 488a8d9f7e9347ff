// The life of one proxied gRPC call as a value type: which phase it is in, whether each direction
// has ended, and how it must end when something goes wrong (trailers-only before any response
// headers, trailers after them). The channel handler feeds it events and carries out its answers.

struct GRPCCallStateMachine {
    enum Phase: Equatable {
        /// Waiting for the request HEADERS.
        case awaitingHeaders
        /// Authorizing and opening the upstream stream; request frames are held.
        case preparing
        /// Relaying frames both ways.
        case proxying
        /// Reading a health-check request that the gateway answers itself.
        case collectingLocalRequest
        /// The upstream's response has ended (status known) but the client is still sending: its
        /// remaining frames still go upstream so that both sides close the stream cleanly.
        case responseEnded
        /// The response has ended (or the call was abandoned); nothing more is sent.
        case finished
    }

    /// What to do with a request frame that arrived after the HEADERS.
    enum RequestFrameAction: Equatable {
        case forward
        /// Forward it; it ends a request whose response has already ended: the call is over.
        case forwardLast
        case hold
        case collect
        case drop
    }

    /// What to do with a frame from the upstream.
    enum ResponseAction: Equatable {
        case drop
        /// Forward it; when `finished` is set the response has ended with that status.
        case forward(isFirstHeaders: Bool, finished: GRPCStatusCode?)
    }

    /// How the gateway ends a call it fails itself.
    struct Ending: Equatable {
        /// No response headers went out yet: one trailers-only header block.
        var trailersOnly: Bool
        var status: GRPCStatusCode
    }

    private(set) var phase: Phase = .awaitingHeaders
    private(set) var requestEnded = false
    private(set) var responseStarted = false
    private(set) var status: GRPCStatusCode?

    var isFinished: Bool { phase == .finished }

    /// What the handler does when the upstream stream closes.
    enum UpstreamClosedAction: Equatable {
        case none
        /// The response ended but the client is still sending: tell it to stop (RST_STREAM NO_ERROR).
        case stopClient
        /// The call had not ended: fail it.
        case fail
    }

    /// Request frames must wait (no read) while the upstream stream is being opened.
    var holdsRequestReads: Bool { phase == .preparing }

    /// Request frames go upstream (reads then follow the upstream stream's writability).
    var relaysRequest: Bool { phase == .proxying || phase == .responseEnded }

    mutating func receivedRequestHeaders(endStream: Bool) {
        if endStream { requestEnded = true }
    }

    mutating func startPreparing() {
        if phase == .awaitingHeaders { phase = .preparing }
    }

    mutating func startLocalRequest() {
        if phase == .awaitingHeaders { phase = .collectingLocalRequest }
    }

    /// The upstream stream is open. False when the call ended meanwhile (the stream must be dropped).
    mutating func upstreamReady() -> Bool {
        guard phase == .preparing else { return false }
        phase = .proxying
        return true
    }

    mutating func receivedRequestFrame(endStream: Bool) -> RequestFrameAction {
        if endStream { requestEnded = true }
        switch phase {
        case .awaitingHeaders, .finished: return .drop
        case .preparing: return .hold
        case .proxying: return .forward
        case .collectingLocalRequest: return .collect
        case .responseEnded:
            guard endStream else { return .forward }
            phase = .finished
            return .forwardLast
        }
    }

    mutating func receivedResponseHeaders(endStream: Bool, grpcStatus: String?) -> ResponseAction {
        guard phase == .proxying else { return .drop }
        let isFirst = !responseStarted
        responseStarted = true
        guard endStream else { return .forward(isFirstHeaders: isFirst, finished: nil) }
        let status = GRPCStatusCode(grpcStatusHeader: grpcStatus) ?? .unknown
        responseFinished(status)
        return .forward(isFirstHeaders: isFirst, finished: status)
    }

    mutating func receivedResponseData(endStream: Bool) -> ResponseAction {
        guard phase == .proxying, responseStarted else { return .drop }
        guard endStream else { return .forward(isFirstHeaders: false, finished: nil) }
        // A response that ends without trailers carries no status.
        responseFinished(.unknown)
        return .forward(isFirstHeaders: false, finished: .unknown)
    }

    mutating func upstreamClosed() -> UpstreamClosedAction {
        switch phase {
        case .finished: return .none
        case .responseEnded:
            phase = .finished
            return .stopClient
        case .awaitingHeaders, .preparing, .proxying, .collectingLocalRequest: return .fail
        }
    }

    /// Ends the call with a status of the gateway's own (errors, deadline, local answers); nil when its
    /// response has already ended.
    mutating func end(with status: GRPCStatusCode) -> Ending? {
        guard phase != .finished, phase != .responseEnded else { return nil }
        let ending = Ending(trailersOnly: !responseStarted, status: status)
        responseStarted = true
        finish(status)
        return ending
    }

    /// The client's stream closed (cancelled, reset, or completed). Returns `CANCELLED` when the call had
    /// not ended yet, nil otherwise.
    mutating func downstreamClosed() -> GRPCStatusCode? {
        if phase == .responseEnded { phase = .finished }
        guard phase != .finished else { return nil }
        finish(.cancelled)
        return .cancelled
    }

    private mutating func responseFinished(_ status: GRPCStatusCode) {
        self.status = status
        phase = requestEnded ? .finished : .responseEnded
    }

    private mutating func finish(_ status: GRPCStatusCode) {
        phase = .finished
        self.status = status
    }
}
