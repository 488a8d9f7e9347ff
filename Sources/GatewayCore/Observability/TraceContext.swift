// W3C trace context: the `traceparent`/`tracestate` a request arrived with, and the one a gateway
// sends on (same trace, the gateway's own span id). Registered with swift-distributed-tracing's
// `InstrumentationSystem` so every gateway extracts and injects through the same instrument.
public import Instrumentation
import ServiceContextModule
public import W3CTraceContext

/// The trace context of one gateway hop.
public struct GatewayTraceContext: Sendable {
    /// The context the request carried, if valid.
    public let incoming: TraceContext?
    /// The context this hop propagates: the incoming trace with a new span id, or a new trace.
    public let outgoing: TraceContext
    /// The outgoing header values, formatted once (every upstream call sends them).
    public let traceparent: String
    public let tracestate: String?

    public init(traceparent: String?, tracestate: String?) {
        var random = FastRandom()
        if let traceparent,
            let parsed = try? TraceContext(traceParentHeaderValue: traceparent, traceStateHeaderValue: tracestate)
        {
            incoming = parsed
            outgoing = TraceContext(
                traceID: parsed.traceID, spanID: .random(using: &random), flags: parsed.flags, state: parsed.state)
        } else {
            incoming = nil
            outgoing = TraceContext(
                traceID: .random(using: &random), spanID: .random(using: &random), flags: .sampled,
                state: TraceState([]))
        }
        self.traceparent = outgoing.traceParentHeaderValue
        self.tracestate = incoming == nil ? nil : outgoing.traceStateHeaderValue
    }

    /// The trace id in hex: the 32 characters after `00-` in `traceparent`.
    public var traceID: String { String(traceparent.dropFirst(3).prefix(32)) }
}

private enum TraceContextKey: ServiceContextKey {
    typealias Value = GatewayTraceContext
    static var nameOverride: String? { "portico-trace-context" }
}

extension ServiceContext {
    /// The gateway hop's trace context.
    public var gatewayTrace: GatewayTraceContext? {
        get { self[TraceContextKey.self] }
        set { self[TraceContextKey.self] = newValue }
    }
}

/// Extracts `traceparent`/`tracestate` into a `ServiceContext` and injects the hop's context.
public struct W3CTraceContextInstrument: Instrument {
    public init() {}

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract
    ) where Extract.Carrier == Carrier {
        context.gatewayTrace = GatewayTraceContext(
            traceparent: extractor.extract(key: "traceparent", from: carrier),
            tracestate: extractor.extract(key: "tracestate", from: carrier))
    }

    public func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let trace = context.gatewayTrace else { return }
        injector.inject(trace.traceparent, forKey: "traceparent", into: &carrier)
        if let state = trace.tracestate, !state.isEmpty { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }
}
