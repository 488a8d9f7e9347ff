// Process-wide observability set-up: logging (JSON or text), Prometheus metrics and W3C trace context
// propagation. Bootstrapped once per process, before any gateway starts.
import Foundation
import Instrumentation
import Logging
import Metrics
public import Prometheus
import Synchronization

public enum Observability {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Bootstraps logging, metrics and trace propagation once; later calls return the same registry.
    @discardableResult
    public static func bootstrap(_ config: ObservabilityConfig, logLevelOverride: String? = nil)
        -> PrometheusCollectorRegistry
    {
        state.withLock { registry in
            if let registry { return registry }
            let level = logLevelOverride.flatMap(Logger.Level.init(rawValue:)) ?? Logger.Level(config.logLevel)
            switch config.logFormat {
            case .json:
                LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
            case .text:
                LoggingSystem.bootstrap { label in
                    var handler = StreamLogHandler.standardError(label: label)
                    handler.logLevel = level
                    return handler
                }
            }
            let created = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: created)
            factory.defaultDurationHistogramBuckets = [
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                .milliseconds(2500), .seconds(5), .seconds(10),
            ]
            MetricsSystem.bootstrap(factory)
            InstrumentationSystem.bootstrap(W3CTraceContextInstrument())
            registry = created
            return created
        }
    }

    /// The registry, bootstrapping with defaults when nobody has yet (tests).
    public static var registry: PrometheusCollectorRegistry {
        if let registry = state.withLock({ $0 }) { return registry }
        return bootstrap(ObservabilityConfig())
    }

    /// Prometheus text exposition of every metric.
    public static func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}

extension Logger.Level {
    init(_ level: ObservabilityConfig.LogLevel) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}
