// The async request/response transport for translating gateways (GraphQL, CloudEvents, WebSocket),
// on AsyncHTTPClient: one client per service so each service's connect timeout and pool apply.
import AsyncHTTPClient
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

final class HTTPRequestTransport: Sendable {
    let service: UpstreamService
    let client: HTTPClient

    init(service: UpstreamService, eventLoopGroup: any EventLoopGroup) {
        self.service = service
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .nanoseconds(service.connectTimeout.nanoseconds))
        configuration.connectionPool = .init(
            idleTimeout: .nanoseconds(service.config.idleTimeout.duration.nanoseconds),
            concurrentHTTP1ConnectionsPerHostSoftLimit: service.config.maxConnectionsPerEndpoint)
        configuration.httpVersion = service.config.protocol == .http1 ? .http1Only : .automatic
        configuration.decompression = .disabled
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
    }

    func send(
        _ request: UpstreamRequest, headers extra: [(String, String)], timeout: Duration, maxResponseBytes: Int,
        logger: Logger
    ) async throws(GatewayError) -> UpstreamResponse {
        let endpoint = try service.selectEndpoint()
        var outgoing = HTTPClientRequest(
            url: "\(endpoint.scheme)://\(endpoint.authority)\(endpoint.basePath)\(request.path)")
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers where !HTTPHeaderRules.hopByHop.contains(name.lowercased()) {
            outgoing.headers.add(name: name, value: value)
        }
        for (name, value) in extra {
            outgoing.headers.replaceOrAdd(name: name, value: value)
        }
        if let body = request.body {
            outgoing.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await client.execute(
                outgoing, timeout: .nanoseconds(timeout.nanoseconds), logger: logger)
            var body = try await response.body.collect(upTo: maxResponseBytes)
            let bytes = body.readBytes(length: body.readableBytes) ?? []
            return UpstreamResponse(
                status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: bytes)
        } catch {
            throw Self.map(error, service: service.name, endpoint: endpoint, timeout: timeout)
        }
    }

    static func map(_ error: any Error, service: String, endpoint: EndpointURL, timeout: Duration) -> GatewayError {
        if let error = error as? GatewayError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout:
                return GatewayError(
                    .upstreamTimeout, "service '\(service)' did not answer within \(ConfigDuration(timeout))")
            case .connectTimeout:
                return GatewayError(
                    .upstreamConnectFailed, "connecting to service '\(service)' at \(endpoint) timed out")
            case .remoteConnectionClosed:
                return GatewayError(.upstreamConnectFailed, "service '\(service)' closed the connection")
            case .cancelled:
                return GatewayError(.unavailable, "the call to service '\(service)' was cancelled")
            default:
                if "\(error)".contains("responseBodyTooLarge") || "\(error)".contains("bodyLength") {
                    return GatewayError(.upstreamError, "service '\(service)' sent a response that is too large")
                }
                return GatewayError(.upstreamError, "service '\(service)' failed: \(error)")
            }
        }
        if error is NIOConnectionError || error is IOError || error is ChannelError {
            return GatewayError(.upstreamConnectFailed, "cannot connect to service '\(service)' at \(endpoint)")
        }
        if error is NIOTooManyBytesError {
            return GatewayError(.upstreamError, "service '\(service)' sent a response that is too large")
        }
        if error is CancellationError {
            return GatewayError(.unavailable, "the call to service '\(service)' was cancelled")
        }
        return GatewayError(.upstreamError, "service '\(service)' failed: \(error)")
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
