// The `grpc-timeout` header: `1-8 ASCII digits` followed by a unit (H, M, S, m, u, n), parsed and
// encoded with the precision that fits eight digits.

enum GRPCTimeout {
    /// The duration a `grpc-timeout` value stands for, or nil when it is malformed.
    static func parse(_ value: String) -> Duration? {
        let utf8 = Array(value.utf8)
        guard utf8.count >= 2, utf8.count <= 9, let unit = utf8.last else { return nil }
        var amount: Int64 = 0
        for byte in utf8.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// The header value for `duration`, in the finest unit whose amount fits eight digits (rounded up
    /// so the upstream never gets less time than the gateway allows).
    static func encode(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, duration > .zero else { return "0n" }
        let nanos = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let limit: Int64 = 99_999_999
        if !nanos.overflow {
            let total = nanos.partialValue + (attoseconds + 999_999_999) / 1_000_000_000
            if total <= limit { return "\(total)n" }
            let units: [(Int64, Character)] = [(1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S")]
            for (divisor, unit) in units {
                let amount = (total + divisor - 1) / divisor
                if amount <= limit { return "\(amount)\(unit)" }
            }
        }
        let wholeSeconds = seconds + (attoseconds > 0 ? 1 : 0)
        if wholeSeconds <= limit { return "\(wholeSeconds)S" }
        let minutes = (wholeSeconds + 59) / 60
        if minutes <= limit { return "\(minutes)M" }
        return "\(min((wholeSeconds + 3599) / 3600, limit))H"
    }
}
