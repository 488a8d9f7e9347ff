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
    /// The outgoing header values, formatted once (every upstream call sends them).
    public let traceparent: String
    public let tracestate: String?

    /// The context this hop propagates: the incoming trace with a new span id, or a new trace.
    public var outgoing: TraceContext {
        // Parsed back from the header value: formatting it by hand is what the data path needs, and
        // nothing on it reads this.
        (try? TraceContext(traceParentHeaderValue: traceparent, traceStateHeaderValue: tracestate))
            ?? TraceContext(traceID: .random(), spanID: .random(), flags: .sampled, state: TraceState([]))
    }

    public init(traceparent: String?, tracestate: String?) {
        var random = FastRandom()
        if let traceparent,
            let parsed = try? TraceContext(traceParentHeaderValue: traceparent, traceStateHeaderValue: tracestate)
        {
            incoming = parsed
            let outgoing = TraceContext(
                traceID: parsed.traceID, spanID: .random(using: &random), flags: parsed.flags, state: parsed.state)
            self.traceparent = outgoing.traceParentHeaderValue
            self.tracestate = outgoing.traceStateHeaderValue
        } else {
            // A new trace, sampled, formatted by hand: W3CTraceContext's value types cost several
            // microseconds per request here (an empty TraceState alone about one).
            incoming = nil
            let words = (random.next() as UInt64, random.next() as UInt64, random.next() as UInt64)
            self.traceparent = String(unsafeUninitializedCapacity: 55) { out in
                let digits: StaticString = "0123456789abcdef"
                func put(_ word: UInt64, at start: Int) {
                    for index in 0..<16 {
                        out[start + index] = digits.utf8Start[Int((word >> UInt64(60 - index * 4)) & 0xF)]
                    }
                }
                out[0] = UInt8(ascii: "0")
                out[1] = UInt8(ascii: "0")
                out[2] = UInt8(ascii: "-")
                put(words.0 | 1, at: 3)  // An all-zero trace id is invalid.
                put(words.1, at: 19)
                out[35] = UInt8(ascii: "-")
                put(words.2 | 1, at: 36)  // So is an all-zero span id.
                out[52] = UInt8(ascii: "-")
                out[53] = UInt8(ascii: "0")
                out[54] = UInt8(ascii: "1")
                return 55
            }
            self.tracestate = nil
        }
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
