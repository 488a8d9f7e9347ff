// The first middleware of every Hummingbird-based gateway: request id, W3C trace context, errors as
// problem details, one access-log line and the request metrics per request.
import Foundation
public import GatewayCore
import HTTPTypes
public import Hummingbird
public import Logging

public struct ObservabilityMiddleware<Context: GatewayRequestContextProtocol>: RouterMiddleware {
    let metrics: RequestMetrics
    let accessLog: Bool
    let logger: Logger

    public init(metrics: RequestMetrics, accessLog: Bool, logger: Logger) {
        self.metrics = metrics
        self.accessLog = accessLog
        self.logger = logger
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        var context = context
        context.gateway.requestID = RequestID.accept(request.headers[.init(RequestID.headerName)!])
        context.gateway.trace = GatewayTraceContext(
            traceparent: request.headers[.init("traceparent")!], tracestate: request.headers[.init("tracestate")!])
        metrics.requestStarted()
        defer { metrics.requestFinished() }
        let requestID = context.gateway.requestID
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any GatewayErrorConvertible {
            response = error.gatewayError.response(instance: request.uri.path, requestID: requestID)
        } catch let error as HTTPError {
            response = error.gatewayError.response(instance: request.uri.path, requestID: requestID)
        } catch {
            logger.error("unhandled error", metadata: ["error": "\(error)", "request_id": "\(requestID)"])
            response = GatewayError(.internalError, "internal error").response(
                instance: request.uri.path, requestID: requestID)
        }
        response.headers[.init(RequestID.headerName)!] = requestID
        let duration = ContinuousClock.now - start
        let route = response.headers[.init(Self.routeHeader)!] ?? "unmatched"
        response.headers[.init(Self.routeHeader)!] = nil
        metrics.record(route: route, status: "\(response.status.code)", duration: duration)
        if accessLog {
            logger.info(
                "access",
                metadata: [
                    "gateway": "\(metrics.gateway)", "method": "\(request.method.rawValue)",
                    "path": "\(request.uri.path)",
                    "status": "\(response.status.code)", "duration_ms": "\(Double(duration.nanoseconds) / 1e6)",
                    "request_id": "\(requestID)", "trace_id": "\(context.gateway.trace?.traceID ?? "")",
                    "route": "\(route)", "client": "\(context.gateway.clientAddress ?? "")",
                ])
        }
        return response
    }

    /// Handlers name their route for metrics by setting this internal response header; the middleware
    /// removes it before the response leaves.
    public static var routeHeader: String { "x-portico-internal-route" }
}
