// Demo implementation of the standard grpc.health.v1.Health service for the orders gRPC server.

public import GRPCCore
import ServiceLifecycle

/// `grpc.health.v1.Health` reporting `SERVING` for a fixed set of service names.
///
/// - `Check`: `SERVING` for a known name (by default `""`, the whole server, and `shop.orders.v1.Orders`),
///   otherwise the RPC fails with `NOT_FOUND`.
/// - `Watch`: sends the current status (`SERVING` or `SERVICE_UNKNOWN`) once, then keeps the stream open (the
///   status never changes) until the RPC is cancelled or a swift-service-lifecycle graceful shutdown begins.
public struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    /// Service names reported as `SERVING`.
    public let servingServices: Set<String>

    public init(servingServices: Set<String> = ["", Shop_Orders_V1_Orders.descriptor.fullyQualifiedService]) {
        self.servingServices = servingServices
    }

    public func check(
        request: Grpc_Health_V1_HealthCheckRequest,
        context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard servingServices.contains(request.service) else {
            throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
        }
        var response = Grpc_Health_V1_HealthCheckResponse()
        response.status = .serving
        return response
    }

    public func watch(
        request: Grpc_Health_V1_HealthCheckRequest,
        response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        var status = Grpc_Health_V1_HealthCheckResponse()
        status.status = servingServices.contains(request.service) ? .serving : .serviceUnknown
        try await response.write(status)
        let cancellation = context.cancellation
        try await withGracefulShutdownHandler {
            try await cancellation.cancelled
        } onGracefulShutdown: {
            cancellation.cancel()
        }
    }
}
