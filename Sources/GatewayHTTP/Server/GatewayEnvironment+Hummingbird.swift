// What every Hummingbird-based gateway sets up the same way: the shared first middleware and the main
// listener's settings, built from the gateway's environment.
public import Hummingbird

extension GatewayEnvironment {
    /// The observability middleware (request id, trace context, problem details, access log, metrics)
    /// configured for this gateway. Add it first.
    public func observabilityMiddleware<Context: GatewayRequestContextProtocol>(
        for context: Context.Type = Context.self
    ) -> ObservabilityMiddleware<Context> {
        ObservabilityMiddleware(metrics: metrics, accessLog: config.observability.accessLog, logger: logger)
    }

    /// Hummingbird settings of the main listener (`listen`, after command-line overrides).
    public var applicationConfiguration: ApplicationConfiguration {
        .init(address: .hostname(listener.listen.host, port: listener.listen.port), serverName: "portico")
    }
}
