import GatewayCore
// What every Hummingbird-based gateway sets up the same way: the shared first middleware and the main
// listener's settings, built from the gateway's environment.
public import Hummingbird
public import HummingbirdCore

extension GatewayEnvironment {
    /// The observability middleware (request id, trace context, problem details, access log, metrics)
    /// configured for this gateway. Add it first.
    public func observabilityMiddleware<Context: GatewayRequestContextProtocol>(
        for context: Context.Type = Context.self
    ) -> ObservabilityMiddleware<Context> {
        ObservabilityMiddleware(metrics: metrics, accessLog: config.observability.accessLog, logger: logger)
    }

    /// The main listener's HTTP/1.1 server: header fields up to `limits.maxHeaderSize`. Hummingbird closes a connection that has read no request part
    /// for its idle timeout while no request is being answered: `limits.clientIdleTimeout` bounds idle
    /// keep-alive connections, heads that are slow to arrive and gaps in a request body alike (closed
    /// without a 408; the REST gateway's own listener tells the three apart).
    public var httpServer: HTTPServerBuilder {
        let idle = ClientTimeouts(config.limits).idle
        let headers = config.limits.maxHeaderSize.bytes
        return .http1(
            configuration: .init(
                idleTimeout: .nanoseconds(idle.nanoseconds),
                httpDecoderConfiguration: .init(maxHeaderFieldSize: headers, maxHeaderListSize: headers)))
    }

    /// Hummingbird settings of the main listener (`listen`, after command-line overrides).
    public var applicationConfiguration: ApplicationConfiguration {
        .init(address: .hostname(listener.listen.host, port: listener.listen.port), serverName: "portico")
    }
}
