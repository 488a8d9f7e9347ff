// Latency summaries for portico-bench's JSON output, the clock all measurements use, and CPU time.
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Monotonic nanoseconds (CLOCK_MONOTONIC through NIO): the same clock on every thread of the process.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    NIODeadline.now().uptimeNanoseconds
}

/// User + system CPU seconds this process has used so far.
func processCPUSeconds() -> Double {
    var usage = rusage()
    let rusageSelf: Int32 = 0  // RUSAGE_SELF (imported as an enum on Linux, an Int32 on Darwin)
    guard getrusage(rusageSelf, &usage) == 0 else { return 0 }
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Percentiles of a set of durations in nanoseconds, reported in milliseconds.
struct LatencySummary {
    var count: Int
    var p50: Double
    var p90: Double
    var p99: Double
    var max: Double
    var mean: Double

    init(nanoseconds samples: [UInt64]) {
        let sorted = samples.sorted()
        count = sorted.count
        func at(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            // Nearest rank: the smallest sample with at least q of the samples at or below it.
            let rank = Int((q * Double(sorted.count)).rounded(.up))
            return Double(sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]) / 1e6
        }
        p50 = at(0.50)
        p90 = at(0.90)
        p99 = at(0.99)
        max = Double(sorted.last ?? 0) / 1e6
        mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count) / 1e6
    }

    /// Milliseconds, rounded to microseconds.
    var json: [String: Any] {
        func ms(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
        return [
            "count": count, "p50_ms": ms(p50), "p90_ms": ms(p90), "p99_ms": ms(p99), "max_ms": ms(max),
            "mean_ms": ms(mean),
        ]
    }
}
