// Delivers one event to one trigger's subscriber in binary mode through ServiceClient, retrying transient
// failures (connect errors, timeouts, 408, 429, 5xx) with exponential backoff up to `deliveryAttempts`.
import GatewayCore
import Logging
import ServiceClient

/// One unit of work for the delivery worker: an event for one trigger, with the context of the request
/// that brought it (request id, trace, caller identity).
struct DeliveryJob: Sendable {
    var event: CloudEvent
    var trigger: CloudEventTrigger
    var context: UpstreamCallContext
}

/// How many times to try and how long to wait between tries.
struct RetryPolicy: Sendable, Equatable {
    /// Total attempts, the first included (at least 1).
    var attempts: Int
    var baseDelay: Duration = .milliseconds(200)
    var maxDelay: Duration = .seconds(5)

    /// The pause after failed attempt `attempt` (1-based): `baseDelay · 2^(attempt-1)` capped at `maxDelay`,
    /// then scaled into its upper half by `jitter` (0…1) so retries of many events spread out.
    func delay(afterAttempt attempt: Int, jitter: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let uncapped = baseDelay * (1 << exponent)
        let capped = uncapped > maxDelay ? maxDelay : uncapped
        return capped * (0.5 + 0.5 * min(max(jitter, 0), 1))
    }
}

struct CloudEventDeliverer: Sendable {
    typealias Send =
        @Sendable (UpstreamRequest, _ service: String, UpstreamCallContext) async throws(GatewayError)
        -> UpstreamResponse

    let send: Send
    let policy: RetryPolicy
    let metrics: DeliveryMetrics
    let logger: Logger

    /// Delivers `job`, retrying as the policy allows; logs and counts the outcome.
    @discardableResult
    func deliver(_ job: DeliveryJob) async -> DeliveryOutcome {
        let message = BinaryModeEncoder.encode(job.event)
        let request = UpstreamRequest(
            method: "POST", path: job.trigger.path, headers: message.headers, body: message.body)
        var lastFailure = ""
        for attempt in 1...max(1, policy.attempts) {
            if Task.isCancelled { return finish(job, .dropped, attempts: attempt - 1, detail: "gateway stopping") }
            let retryable: Bool
            do {
                let response = try await send(request, job.trigger.service, job.context)
                if (200..<300).contains(response.status) {
                    return finish(job, .delivered, attempts: attempt, detail: "status \(response.status)")
                }
                lastFailure = "status \(response.status)"
                retryable = response.status == 408 || response.status == 429 || response.status >= 500
                if !retryable { return finish(job, .rejected, attempts: attempt, detail: lastFailure) }
            } catch {
                lastFailure = error.message
                retryable = Self.isRetryable(error)
                if !retryable { return finish(job, .failed, attempts: attempt, detail: lastFailure) }
            }
            guard attempt < policy.attempts else { break }
            let delay = policy.delay(afterAttempt: attempt, jitter: Double.random(in: 0...1))
            logger.debug(
                "cloudevent delivery attempt failed; retrying",
                metadata: metadata(job, ["attempt": "\(attempt)", "error": "\(lastFailure)", "retry_in": "\(delay)"]))
            do {
                try await Task.sleep(for: delay)
            } catch {
                return finish(job, .dropped, attempts: attempt, detail: "gateway stopping; last error: \(lastFailure)")
            }
        }
        return finish(job, .failed, attempts: policy.attempts, detail: lastFailure)
    }

    /// Accounts for a job that never got a chance to run (the gateway stopped).
    func drop(_ job: DeliveryJob) {
        finish(job, .dropped, attempts: 0, detail: "gateway stopped before delivery")
    }

    static func isRetryable(_ error: GatewayError) -> Bool {
        switch error.code {
        case .upstreamConnectFailed, .upstreamError, .noHealthyUpstream, .upstreamTimeout, .unavailable: return true
        default: return false
        }
    }

    @discardableResult
    private func finish(_ job: DeliveryJob, _ outcome: DeliveryOutcome, attempts: Int, detail: String)
        -> DeliveryOutcome
    {
        metrics.record(trigger: job.trigger.name, outcome: outcome)
        let fields = metadata(
            job, ["outcome": "\(outcome.rawValue)", "attempts": "\(attempts)", "detail": "\(detail)"])
        switch outcome {
        case .delivered:
            logger.info("cloudevent delivered", metadata: fields)
        case .rejected, .failed, .dropped:
            // Dead-lettering to durable storage (the PostgreSQL/SQLite-backed queue) is a later issue; until
            // then an undeliverable event is only logged here, with its id, and counted.
            logger.error("cloudevent not delivered", metadata: fields)
        }
        return outcome
    }

    private func metadata(_ job: DeliveryJob, _ extra: Logger.Metadata) -> Logger.Metadata {
        var fields: Logger.Metadata = [
            "event_id": "\(job.event.id)", "event_type": "\(job.event.type)", "event_source": "\(job.event.source)",
            "trigger": "\(job.trigger.name)", "service": "\(job.trigger.service)",
            "request_id": "\(job.context.requestID)",
        ]
        if let trace = job.context.trace { fields["trace_id"] = "\(trace.traceID)" }
        fields.merge(extra) { $1 }
        return fields
    }
}
