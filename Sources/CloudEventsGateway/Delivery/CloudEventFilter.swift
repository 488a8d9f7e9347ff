// Trigger filters: `exact`, `prefix` and `suffix` attribute conditions, all of which must hold. An absent
// attribute satisfies no condition; an empty filter matches every event.
public import GatewayCore

/// The attribute conditions of one trigger: the config type itself, with matching added.
public typealias CloudEventFilter = CloudEventFilterConfig

extension CloudEventFilterConfig {
    /// Whether every condition holds for `event`.
    public func matches(_ event: CloudEvent) -> Bool {
        exact.allSatisfy { event.attribute($0.key) == $0.value }
            && prefix.allSatisfy { event.attribute($0.key)?.hasPrefix($0.value) ?? false }
            && suffix.allSatisfy { event.attribute($0.key)?.hasSuffix($0.value) ?? false }
    }
}

/// A subscription: matching events go to `service` at `path`.
public struct CloudEventTrigger: Sendable, Equatable {
    public var name: String
    public var filter: CloudEventFilter
    public var service: String
    public var path: String

    public init(name: String, filter: CloudEventFilter, service: String, path: String = "/") {
        self.name = name
        self.filter = filter
        self.service = service
        self.path = path
    }

    public init(_ config: CloudEventTriggerConfig) {
        self.init(
            name: config.name, filter: config.filter, service: config.service, path: config.path)
    }
}

extension Array where Element == CloudEventTrigger {
    /// The triggers whose filter matches `event`, in configuration order.
    public func matching(_ event: CloudEvent) -> [CloudEventTrigger] {
        filter { $0.filter.matches(event) }
    }
}
