// Retry decisions, backoff and deadlines: which outcomes a route retries, how long to wait (full
// jitter, and `Retry-After` when the service asks for more), and the deadline a call carries. Pure.
public import Foundation
public import GatewayCore

public struct RetryPolicy: Sendable {
    public let config: RetryConfig

    public init(_ config: RetryConfig) {
        self.config = config
    }

    /// Whether `outcome` of try number `attempt` (1-based) may be retried for `request`. Connect
    /// failures are retried for any method: the service never saw the request.
    public func allows(_ outcome: UpstreamOutcome, attempt: Int, request: RetryableRequest) -> Bool {
        guard attempt < config.attempts, request.bodyReplayable else { return false }
        let mayRepeat = request.isIdempotent || config.nonIdempotent
        switch outcome {
        case .connectFailed: return config.retryOn.contains(.connectFailure)
        case .reset: return mayRepeat && config.retryOn.contains(.reset)
        case .timedOut: return mayRepeat && config.retryOn.contains(.timeout)
        case .response(let status): return mayRepeat && config.statuses.contains(status)
        case .grpc(let status): return mayRepeat && config.grpcStatuses.contains { $0.code == status }
        case .cancelled: return false
        }
    }

    /// The wait before try `attempt + 1`: uniformly random in [0, min(max, base × 2^(attempt-1))].
    public func backoff(after attempt: Int) -> Duration {
        let base = Double(config.backoff.base.duration.nanoseconds)
        let cap = Double(config.backoff.max.duration.nanoseconds)
        let ceiling = min(cap, base * pow(2, Double(max(0, attempt - 1))))
        return .nanoseconds(Int64(Double.random(in: 0...ceiling)))
    }

    /// The wait before the next try given the service's `Retry-After` (if any), or nil when the
    /// service asks for longer than the call has left: then the response goes to the client as is.
    public func delay(after attempt: Int, retryAfter: String?, remaining: Duration, now: Date = Date()) -> Duration? {
        var wait = backoff(after: attempt)
        if let retryAfter, let asked = Self.parseRetryAfter(retryAfter, now: now) {
            wait = max(wait, asked)
        }
        return wait < remaining ? wait : nil
    }

    /// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
    public static func parseRetryAfter(_ value: String, now: Date = Date()) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: text) else { return nil }
        return .milliseconds(max(0, Int64(date.timeIntervalSince(now) * 1000)))
    }
}

/// When a call must be over: the sooner of the gateway's timeout and the caller's own deadline.
public struct CallDeadline: Sendable {
    public let end: ContinuousClock.Instant
    /// The whole time the call was given.
    public let total: Duration

    /// The header an HTTP caller may send to shorten its deadline, and that the gateway sends
    /// upstream with the time left (milliseconds), as `grpc-timeout` does for gRPC.
    public static let headerName = "x-portico-timeout-ms"

    public init(timeout: Duration, callerTimeout: Duration? = nil, now: ContinuousClock.Instant = .now) {
        total = min(timeout, callerTimeout ?? timeout)
        end = now + total
    }

    public var remaining: Duration { max(.zero, end - ContinuousClock.now) }

    /// The timeout of the next try: what is left, capped by the per-try timeout.
    public func tryTimeout(perTry: ConfigDuration?) -> Duration {
        min(remaining, perTry?.duration ?? remaining)
    }

    /// The caller's timeout from an `x-portico-timeout-ms` value (nil when absent or malformed).
    public static func parseHeader(_ value: String?) -> Duration? {
        guard let value, let milliseconds = Int64(value.trimmingCharacters(in: .whitespaces)), milliseconds >= 0
        else { return nil }
        return .milliseconds(milliseconds)
    }

    /// The header value for the time left, rounded up to whole milliseconds.
    public static func headerValue(_ remaining: Duration) -> String {
        let nanoseconds = remaining.nanoseconds
        return "\(max(1, (nanoseconds + 999_999) / 1_000_000))"
    }
}
