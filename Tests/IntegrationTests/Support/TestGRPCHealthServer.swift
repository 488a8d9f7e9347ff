// A plaintext gRPC server on 127.0.0.1:0 serving only grpc.health.v1.Health, whose status a test flips at runtime,
// for the gateway's gRPC health checks.
import DemoServices
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization

final class TestGRPCHealthServer: Sendable {
    let port: Int
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let serving: Task<Void, any Error>
    private let health: FlippableHealthService

    private init(
        port: Int, server: GRPCServer<HTTP2ServerTransport.Posix>, serving: Task<Void, any Error>,
        health: FlippableHealthService
    ) {
        self.port = port
        self.server = server
        self.serving = serving
        self.health = health
    }

    /// Starts serving; `services` are the names `Check` knows (`""` is the whole server), all others get NOT_FOUND.
    /// Every known service starts as SERVING.
    static func start(services: Set<String> = [""]) async throws -> TestGRPCHealthServer {
        let health = FlippableHealthService(services: services)
        let server = GRPCServer(
            transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
            services: [health])
        let serving = Task { try await server.serve() }
        do {
            guard let port = try await server.transport.listeningAddress.ipv4?.port else {
                throw HarnessError(description: "gRPC health server is not bound to an IPv4 address")
            }
            return TestGRPCHealthServer(port: port, server: server, serving: serving, health: health)
        } catch {
            server.beginGracefulShutdown()
            serving.cancel()
            throw error
        }
    }

    /// SERVING or NOT_SERVING for every known service, from the next `Check` on (open `Watch` streams are told).
    func setServing(_ serving: Bool) { health.setServing(serving) }

    /// `Check` calls received, unknown services included.
    var checkCount: Int { health.checkCount }

    /// Ends open `Watch` streams, then shuts the server down gracefully.
    func stop() async {
        health.finishWatches()
        server.beginGracefulShutdown()
        _ = try? await serving.value
    }
}

private final class FlippableHealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    private struct State {
        var serving = true
        var checkCount = 0
        var watches: [Int: AsyncStream<Bool>.Continuation] = [:]
        var nextWatch = 0
    }

    private let services: Set<String>
    private let state = Mutex(State())

    init(services: Set<String>) { self.services = services }

    var checkCount: Int { state.withLock { $0.checkCount } }

    func setServing(_ serving: Bool) {
        let watches = state.withLock { state in
            state.serving = serving
            return Array(state.watches.values)
        }
        for watch in watches { watch.yield(serving) }
    }

    func finishWatches() {
        let watches = state.withLock { state in
            defer { state.watches = [:] }
            return Array(state.watches.values)
        }
        for watch in watches { watch.finish() }
    }

    func check(
        request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthCheckResponse {
        let serving = state.withLock { state in
            state.checkCount += 1
            return state.serving
        }
        guard services.contains(request.service) else {
            throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
        }
        return Self.response(serving ? .serving : .notServing)
    }

    /// The current status at once, then every change, until the client cancels or the server stops. An unknown
    /// service gets SERVICE_UNKNOWN and the stream stays open, as the health protocol says.
    func watch(
        request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        let (changes, continuation) = AsyncStream<Bool>.makeStream()
        let (id, serving) = state.withLock { state in
            defer { state.nextWatch += 1 }
            state.watches[state.nextWatch] = continuation
            return (state.nextWatch, state.serving)
        }
        defer { _ = state.withLock { $0.watches.removeValue(forKey: id) } }
        guard services.contains(request.service) else {
            try await response.write(Self.response(.serviceUnknown))
            for await _ in changes {}
            return
        }
        try await response.write(Self.response(serving ? .serving : .notServing))
        for await serving in changes {
            try await response.write(Self.response(serving ? .serving : .notServing))
        }
    }

    private static func response(
        _ status: Grpc_Health_V1_HealthCheckResponse.ServingStatus
    ) -> Grpc_Health_V1_HealthCheckResponse {
        var response = Grpc_Health_V1_HealthCheckResponse()
        response.status = status
        return response
    }
}
