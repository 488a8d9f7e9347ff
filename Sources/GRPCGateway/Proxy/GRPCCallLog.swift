// What the access log and metrics say about one gRPC call: collected as the call goes, emitted once.
import GatewayCore
import Logging
import NIOHPACK

struct GRPCCallLog {
    var requestID = ""
    var trace: GatewayTraceContext?
    var path = ""
    var route = "unmatched"
    var clientAddress: String?
    var upstream: String?
    var identity: String?
    private var started: ContinuousClock.Instant?

    /// Reads what the request HEADERS say about the call and starts its clock.
    mutating func start(headers: HPACKHeaders, clientAddress: String?) {
        started = .now
        requestID = RequestID.accept(headers.first(name: "x-request-id"))
        trace = GatewayTraceContext(
            traceparent: headers.first(name: "traceparent"), tracestate: headers.first(name: "tracestate"))
        path = headers.first(name: ":path") ?? ""
        self.clientAddress = clientAddress
    }

    /// The call's duration the first time it is asked for; nil afterwards (or if it never started).
    mutating func finish() -> Duration? {
        guard let started else { return nil }
        self.started = nil
        return .now - started
    }

    func metadata(status: GRPCStatusCode, message: String?, duration: Duration) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "method": "POST", "path": "\(path)", "status": "\(status.name)", "grpc_status": "\(status.rawValue)",
            "duration_ms":
                "\(Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15)",
            "request_id": "\(requestID)", "trace_id": "\(trace?.traceID ?? "")", "route": "\(route)",
            "client": "\(clientAddress ?? "")",
        ]
        if let upstream { metadata["upstream"] = "\(upstream)" }
        if let identity { metadata["subject"] = "\(identity)" }
        if let message, status != .ok { metadata["grpc_message"] = "\(message)" }
        return metadata
    }
}
