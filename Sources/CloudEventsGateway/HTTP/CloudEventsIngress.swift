// The ingress endpoint: `POST` on `gateways.cloudevents.path` takes CloudEvents in binary, structured or
// batched mode, validates them, and queues one delivery per event and matching trigger (202), or refuses
// the whole request (400/413/415, or 503 when the queue is full).
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

struct CloudEventsIngress: Sendable {
    let triggers: [CloudEventTrigger]
    let maxBatchSize: Int
    let queue: DeliveryQueue<DeliveryJob>
    let metrics: DeliveryMetrics
    let logger: Logger

    func handle(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        let headers = request.headers.map { (name: $0.name.canonicalName, value: $0.value) }
        let decoded = try CloudEventsHTTPDecoder.decode(
            contentType: request.headers[.contentType], headers: headers, body: Array(buffer.readableBytesView),
            maxBatchSize: maxBatchSize)
        let upstream = context.gateway.upstreamContext(host: request.head.authority)
        var jobs: [DeliveryJob] = []
        for event in decoded.events {
            let matched = triggers.matching(event)
            if matched.isEmpty {
                logger.debug(
                    "cloudevent matched no trigger",
                    metadata: [
                        "event_id": "\(event.id)", "event_type": "\(event.type)", "request_id": "\(upstream.requestID)",
                    ])
            }
            jobs.append(contentsOf: matched.map { DeliveryJob(event: event, trigger: $0, context: upstream) })
        }
        switch queue.enqueue(contentsOf: jobs) {
        case .enqueued:
            metrics.recordQueueDepth(queue.count)
        case .full:
            logger.warning(
                "cloudevents delivery queue full; request refused",
                metadata: ["capacity": "\(queue.capacity)", "request_id": "\(upstream.requestID)"])
            let error = GatewayError(
                .unavailable,
                "the delivery queue is full (capacity \(queue.capacity) deliveries); no event of this request was "
                    + "accepted, retry later", details: ["queueCapacity": String(queue.capacity)])
            return error.response(
                instance: request.uri.path, requestID: context.gateway.requestID, extraHeaders: [.retryAfter: "1"])
        case .finished:
            throw GatewayError(.unavailable, "the gateway is shutting down; no event of this request was accepted")
        }
        let body = ByteBuffer(string: "{\"accepted\":\(decoded.events.count)}")
        return Response(
            status: .accepted, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
    }
}

/// Names the route for metrics and access logs, including on errors raised further in (auth, validation).
struct RouteLabelMiddleware<Context: GatewayRequestContextProtocol>: RouterMiddleware {
    let name: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any GatewayErrorConvertible {
            response = error.gatewayError.response(instance: request.uri.path, requestID: context.gateway.requestID)
        }
        if let header = HTTPField.Name(ObservabilityMiddleware<Context>.routeHeader) { response.headers[header] = name }
        return response
    }
}
