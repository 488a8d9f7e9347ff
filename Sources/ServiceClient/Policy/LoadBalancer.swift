// The load-balancing algorithms of a service: round robin, smooth weighted round robin (as nginx),
// least outstanding requests, power of two choices on a peak EWMA of latency (as Finagle/Linkerd),
// and consistent hashing on a ring of virtual nodes (as Envoy's ring hash). Pure state over the
// endpoint table; `UpstreamService` calls it under its lock.
import Foundation
import GatewayCore

/// Anything that carries an endpoint's balancing numbers (the service's endpoint table, or tests').
protocol Balanced {
    var balance: BalancerEndpoint { get set }
}

/// Per-endpoint numbers the balancers read and the service keeps up to date.
struct BalancerEndpoint: Balanced {
    var balance: BalancerEndpoint {
        get { self }
        set { self = newValue }
    }

    var weight: Int
    var outstanding = 0
    /// Peak EWMA of latency in nanoseconds (0 until measured).
    var ewmaNanos: Double = 0
    var ewmaStamp: ContinuousClock.Instant?
    /// Smooth weighted round robin's running weight.
    var currentWeight = 0

    /// Folds one latency sample in: decays with a 10 s time constant, jumps up at once on a slower sample.
    mutating func observe(latency: Duration, now: ContinuousClock.Instant) {
        let sample = Double(latency.nanoseconds)
        guard let stamp = ewmaStamp else {
            ewmaNanos = sample
            ewmaStamp = now
            return
        }
        let elapsed = Double((now - stamp).nanoseconds)
        let decay = exp(-elapsed / 10e9)
        ewmaNanos = sample > ewmaNanos ? sample : ewmaNanos * decay + sample * (1 - decay)
        ewmaStamp = now
    }
}

struct LoadBalancer {
    let policy: ServiceConfig.LoadBalancing
    private var counter = 0
    private var ring: HashRing?
    private var random = SystemRandomNumberGenerator()

    init(policy: ServiceConfig.LoadBalancing) {
        self.policy = policy
    }

    /// Rebuilds what depends on the endpoint set (the hash ring). `keys` are stable endpoint ids.
    mutating func endpointsChanged(keys: [String], weights: [Int]) {
        if policy == .ringHash { ring = HashRing(keys: keys, weights: weights) }
    }

    /// Picks one of `candidates` (indices into `endpoints`, never empty).
    mutating func pick<E: Balanced>(candidates: [Int], endpoints: inout [E], key: String?) -> Int {
        if candidates.count == 1 { return candidates[0] }
        switch policy {
        case .roundRobin:
            counter &+= 1
            return candidates[Int(UInt(bitPattern: counter) % UInt(candidates.count))]
        case .weightedRoundRobin:
            var total = 0
            var best = candidates[0]
            for index in candidates {
                endpoints[index].balance.currentWeight += endpoints[index].balance.weight
                total += endpoints[index].balance.weight
                if endpoints[index].balance.currentWeight > endpoints[best].balance.currentWeight { best = index }
            }
            endpoints[best].balance.currentWeight -= total
            return best
        case .leastRequest:
            // Fewest outstanding per unit of weight; ties go round robin so idle endpoints share the load.
            counter &+= 1
            let start = Int(UInt(bitPattern: counter) % UInt(candidates.count))
            var best = candidates[start]
            for offset in 1..<candidates.count {
                let index = candidates[(start + offset) % candidates.count]
                let a = (endpoints[index].balance.outstanding + 1) * endpoints[best].balance.weight
                let b = (endpoints[best].balance.outstanding + 1) * endpoints[index].balance.weight
                if a < b { best = index }
            }
            return best
        case .ewma:
            let first = Int.random(in: 0..<candidates.count, using: &random)
            var second = Int.random(in: 0..<(candidates.count - 1), using: &random)
            if second >= first { second += 1 }
            let a = candidates[first]
            let b = candidates[second]
            return score(endpoints[a].balance) <= score(endpoints[b].balance) ? a : b
        case .ringHash:
            guard let key, let ring else {
                return candidates[Int.random(in: 0..<candidates.count, using: &random)]
            }
            let allowed = Set(candidates)
            return ring.lookup(HashRing.hash(key), accepting: allowed) ?? candidates[0]
        }
    }

    private func score(_ endpoint: BalancerEndpoint) -> Double {
        // Unmeasured endpoints look fast (1 µs) so they get tried; outstanding calls count as queueing.
        (max(endpoint.ewmaNanos, 1000) * Double(endpoint.outstanding + 1)) / Double(endpoint.weight)
    }
}

/// A consistent-hash ring: each endpoint owns `100 × weight` points (at most 100 000 in all); a key
/// goes to the owner of the first point at or after its hash that is acceptable. Adding or removing
/// an endpoint moves only the keys of the points it owns.
struct HashRing {
    private var points: [(hash: UInt64, endpoint: Int)] = []

    init(keys: [String], weights: [Int]) {
        let totalWeight = max(weights.reduce(0, +), 1)
        let perWeight = max(1, min(100, 100_000 / totalWeight))
        for (index, key) in keys.enumerated() {
            for replica in 0..<(perWeight * weights[index]) {
                points.append((Self.hash("\(key)#\(replica)"), index))
            }
        }
        points.sort { $0.hash < $1.hash }
    }

    func lookup(_ hash: UInt64, accepting allowed: Set<Int>) -> Int? {
        guard !points.isEmpty else { return nil }
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle].hash < hash { low = middle + 1 } else { high = middle }
        }
        for offset in 0..<points.count {
            let endpoint = points[(low + offset) % points.count].endpoint
            if allowed.contains(endpoint) { return endpoint }
        }
        return nil
    }

    /// 64-bit FNV-1a, finished with the splitmix64 mixer so that similar keys spread over the ring.
    static func hash(_ text: String) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
        value ^= value >> 30
        value = value &* 0xbf58_476d_1ce4_e5b9
        value ^= value >> 27
        value = value &* 0x94d0_49bb_1331_11eb
        value ^= value >> 31
        return value
    }
}
