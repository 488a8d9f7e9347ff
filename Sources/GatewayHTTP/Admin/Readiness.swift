// Readiness of a gateway process: ready once its listeners are bound, not ready again once draining.
import Synchronization

public final class Readiness: Sendable {
    private let state = Atomic<Bool>(false)
    public init() {}
    public var isReady: Bool { state.load(ordering: .acquiring) }
    public func markReady() { state.store(true, ordering: .releasing) }
    public func markDraining() { state.store(false, ordering: .releasing) }
}
