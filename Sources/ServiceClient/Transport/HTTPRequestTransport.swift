// The buffered request/response transport for services with `protocol: http2` (HTTP/1.1 services go
// over the NIO pool, PooledRequestCall.swift) and for HTTP health probes, on AsyncHTTPClient: one client
// per service so each service's connect timeout, pool limits and TLS
// apply. Each call goes through the service's shared policy: breaker admission, endpoint selection,
// per-try and total deadlines, retries with backoff and budget, outcomes reported for outlier
// detection.
import AsyncHTTPClient
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

final class HTTPRequestTransport: Sendable {
    let service: UpstreamService
    let client: HTTPClient

    init(service: UpstreamService, tls: UpstreamTLS?, eventLoopGroup: any EventLoopGroup) {
        self.service = service
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .nanoseconds(service.connectTimeout.nanoseconds))
        configuration.connectionPool = .init(
            idleTimeout: .nanoseconds(service.config.idleTimeout.duration.nanoseconds),
            concurrentHTTP1ConnectionsPerHostSoftLimit: service.config.maxConnectionsPerEndpoint)
        // A refused connect must fail now so that the policy can try another endpoint.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = service.config.protocol == .http1 ? .http1Only : .automatic
        configuration.decompression = .disabled
        configuration.redirectConfiguration = .disallow
        if let tls { configuration.tlsConfiguration = tls.configuration }
        client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
    }

    func send(
        _ request: UpstreamRequest, headers extra: [(String, String)], options: UpstreamCallOptions, logger: Logger
    ) async throws(GatewayError) -> UpstreamResponse {
        let call = try service.beginCall(retry: options.retry)
        let deadline = CallDeadline(
            timeout: service.requestTimeout(route: options.timeout), callerTimeout: options.callerTimeout)
        let facts = RetryableRequest(
            isIdempotent: RetryableRequest.isIdempotent(
                method: request.method,
                hasIdempotencyKey: request.headers.contains { $0.0.lowercased() == "idempotency-key" }),
            bodyReplayable: (request.body?.count ?? 0) <= call.retry.config.maxBufferedBody.bytes)
        while true {
            let address: UpstreamAddress
            do {
                address = try call.nextEndpoint(key: options.hashKey)
            } catch {
                call.finish(.cancelled)
                throw error
            }
            let tryTimeout = deadline.tryTimeout(perTry: call.retry.config.perTryTimeout)
            let outgoing = makeRequest(request, to: address, extra: extra, remaining: deadline.remaining)
            do {
                let response = try await client.execute(
                    outgoing, timeout: .nanoseconds(tryTimeout.nanoseconds), logger: logger)
                var body = try await response.body.collect(upTo: options.maxResponseBytes)
                let result = UpstreamResponse(
                    status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                    body: body.readBytes(length: body.readableBytes) ?? [])
                let outcome = UpstreamOutcome.response(status: result.status)
                if call.finishTry(outcome, request: facts) {
                    if let wait = call.delay(retryAfter: result.header("retry-after"), deadline: deadline) {
                        try? await Task.sleep(for: wait)
                        if !Task.isCancelled { continue }
                    }
                    call.abandonRetry()
                }
                call.finish(outcome)
                return result
            } catch {
                let mapped = Self.map(error, service: service.name, endpoint: address, timeout: tryTimeout)
                // A response over the size cap is the caller's limit, not a sign of a sick endpoint.
                let tooLarge = error is NIOTooManyBytesError || "\(error)".contains("responseBodyTooLarge")
                let outcome = Task.isCancelled || tooLarge ? UpstreamOutcome.cancelled : UpstreamOutcome(mapped)
                if call.finishTry(outcome, request: facts) {
                    if let wait = call.delay(retryAfter: nil, deadline: deadline) {
                        try? await Task.sleep(for: wait)
                        if !Task.isCancelled { continue }
                    }
                    call.abandonRetry()
                }
                call.finish(outcome)
                if mapped.code == .upstreamTimeout, deadline.remaining == .zero {
                    throw GatewayError(
                        .upstreamTimeout,
                        "service '\(service.name)' did not answer within \(ConfigDuration(deadline.total))")
                }
                throw mapped
            }
        }
    }

    private func makeRequest(
        _ request: UpstreamRequest, to address: UpstreamAddress, extra: [(String, String)], remaining: Duration
    ) -> HTTPClientRequest {
        let endpoint = address.url
        let host = Self.urlHost(address)
        var outgoing = HTTPClientRequest(
            url: "\(endpoint.scheme)://\(host):\(endpoint.port)\(endpoint.basePath)\(request.path)")
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers where !HTTPHeaderRules.hopByHop.contains(name.lowercased()) {
            outgoing.headers.add(name: name, value: value)
        }
        for (name, value) in extra {
            outgoing.headers.replaceOrAdd(name: name, value: value)
        }
        if address.ip != nil && !endpoint.isTLS {
            outgoing.headers.replaceOrAdd(name: "host", value: endpoint.authority)
        }
        outgoing.headers.replaceOrAdd(name: CallDeadline.headerName, value: CallDeadline.headerValue(remaining))
        if let body = request.body {
            outgoing.body = .bytes(ByteBuffer(bytes: body))
        }
        return outgoing
    }

    /// The host to put in the URL: the resolved IP for plain HTTP; the name for https, since
    /// AsyncHTTPClient takes SNI and certificate verification from the URL (it resolves the name itself).
    static func urlHost(_ address: UpstreamAddress) -> String {
        guard let ip = address.ip, !address.url.isTLS else { return address.url.host }
        return ip.contains(":") ? "[\(ip)]" : ip
    }

    static func map(_ error: any Error, service: String, endpoint: UpstreamAddress, timeout: Duration) -> GatewayError {
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
                return GatewayError(.upstreamError, "service '\(service)' closed the connection")
            case .cancelled:
                return GatewayError(.unavailable, "the call to service '\(service)' was cancelled")
            default:
                if "\(error)".contains("responseBodyTooLarge") || "\(error)".contains("bodyLength") {
                    return GatewayError(.upstreamError, "service '\(service)' sent a response that is too large")
                }
                return GatewayError(.upstreamError, "service '\(service)' failed: \(error)")
            }
        }
        if error is NIOConnectionError {
            return GatewayError(.upstreamConnectFailed, "cannot connect to service '\(service)' at \(endpoint)")
        }
        if let error = error as? IOError {
            // ECONNREFUSED etc. while connecting; ECONNRESET while reading.
            if error.errnoCode == ECONNRESET || error.errnoCode == EPIPE {
                return GatewayError(.upstreamError, "service '\(service)' reset the connection")
            }
            return GatewayError(
                .upstreamConnectFailed, "cannot connect to service '\(service)' at \(endpoint): \(error)")
        }
        if let error = error as? ChannelError {
            if case .connectTimeout = error {
                return GatewayError(
                    .upstreamConnectFailed, "connecting to service '\(service)' at \(endpoint) timed out")
            }
            return GatewayError(.upstreamError, "the connection to service '\(service)' failed: \(error)")
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
