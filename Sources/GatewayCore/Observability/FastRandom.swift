// Identifiers on the hot path (request ids, trace and span ids) need to be unique and well spread,
// not secret; drawing them from the system generator costs a getrandom(2) system call each. This
// generator is splitmix64 over one shared atomic counter seeded once from the system generator: one
// atomic add per value, full 2^64 period, no two calls get the same value.
import Synchronization

public struct FastRandom: RandomNumberGenerator, Sendable {
    private static let state = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    public init() {}

    public mutating func next() -> UInt64 {
        var value = Self.state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
