// Per-route HTTP policies beyond auth: header edits on the request and the response, client IP
// allow and deny lists, and CORS. Used by the REST gateway's routes (`gateways.rest.routes[]`).
import Foundation

/// Header edits. Keys: `set` (name → value, replacing), `add` (name → value, appending), `remove`
/// (names). Applied in that order: remove, set, add.
public struct HeaderEditsConfig: Codable, Sendable, Equatable {
    public var set: [String: String]
    public var add: [String: String]
    public var remove: [String]

    public init(set: [String: String] = [:], add: [String: String] = [:], remove: [String] = []) {
        self.set = set
        self.add = add
        self.remove = remove
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        set = try c.value(.set, or: [:])
        add = try c.value(.add, or: [:])
        remove = try c.value(.remove, or: [])
    }

    public var isEmpty: Bool { self.set.isEmpty && self.add.isEmpty && remove.isEmpty }

    /// Every header name the edits touch, lower-cased.
    public var names: [String] { (Array(self.set.keys) + Array(self.add.keys) + remove).map { $0.lowercased() } }
}

/// Keys: `request` and `response` (``HeaderEditsConfig``).
public struct RouteHeadersConfig: Codable, Sendable, Equatable {
    public var request: HeaderEditsConfig
    public var response: HeaderEditsConfig

    public init(request: HeaderEditsConfig = .init(), response: HeaderEditsConfig = .init()) {
        self.request = request
        self.response = response
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        request = try c.value(.request, or: .init())
        response = try c.value(.response, or: .init())
    }
}

/// CORS for a route. Keys: `allowOrigins` (exact origins such as `https://app.example.com`, or `*`),
/// `allowMethods` (default: the route's methods, or GET, HEAD, POST, PUT, PATCH, DELETE),
/// `allowHeaders` (request headers a browser may send; default: whatever the preflight asks for),
/// `exposeHeaders` (response headers scripts may read; `X-Request-Id` is always exposed),
/// `allowCredentials` (default false; not allowed with `*`), `maxAge` (preflight cache, default 10m).
public struct CORSConfig: Codable, Sendable, Equatable {
    public var allowOrigins: [String]
    public var allowMethods: [String]?
    public var allowHeaders: [String]?
    public var exposeHeaders: [String]
    public var allowCredentials: Bool
    public var maxAge: ConfigDuration

    public init(
        allowOrigins: [String], allowMethods: [String]? = nil, allowHeaders: [String]? = nil,
        exposeHeaders: [String] = [], allowCredentials: Bool = false, maxAge: ConfigDuration = .seconds(600)
    ) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.allowCredentials = allowCredentials
        self.maxAge = maxAge
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        allowOrigins = try c.decode([String].self, forKey: .allowOrigins)
        allowMethods = try c.decodeIfPresent([String].self, forKey: .allowMethods)
        allowHeaders = try c.decodeIfPresent([String].self, forKey: .allowHeaders)
        exposeHeaders = try c.value(.exposeHeaders, or: [])
        allowCredentials = try c.value(.allowCredentials, or: false)
        maxAge = try c.value(.maxAge, or: .seconds(600))
    }

    /// Whether `origin` may call the route.
    public func allows(origin: String) -> Bool {
        allowOrigins.contains("*") || allowOrigins.contains(origin)
    }
}

/// A CIDR block such as `10.0.0.0/8`, `2001:db8::/32` or a single address (`127.0.0.1`).
public struct IPRange: Codable, Sendable, Hashable, CustomStringConvertible {
    public let address: [UInt8]
    public let prefixLength: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let bytes = IPRange.bytes(of: String(first)) else { return nil }
        let length: Int
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...(bytes.count * 8)).contains(parsed) else { return nil }
            length = parsed
        } else {
            length = bytes.count * 8
        }
        self.address = bytes
        self.prefixLength = length
        self.description = text
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let range = IPRange(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not an IP address or CIDR block (e.g. 10.0.0.0/8)")
        }
        self = range
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address literal (an IPv4-mapped IPv6 address gives 4).
    public static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return Array(bytes[12...])
            }
            return bytes
        }
        return nil
    }

    /// Whether the address `bytes` lies in this range.
    public func contains(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == address.count else { return false }
        var remaining = prefixLength
        for index in 0..<bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if bytes[index] & mask != address[index] & mask { return false }
            remaining -= bits
        }
        return true
    }
}

/// Client IP rules of a route: with `ipAllow`, only those ranges may call; `ipDeny` always refuses.
public struct IPRules: Sendable, Equatable {
    public var allow: [IPRange]
    public var deny: [IPRange]

    public init(allow: [IPRange], deny: [IPRange]) {
        self.allow = allow
        self.deny = deny
    }

    public var isEmpty: Bool { allow.isEmpty && deny.isEmpty }

    /// Whether a client at `address` (an IP literal) may call; an unparsable address may not.
    public func permits(_ address: String?) -> Bool {
        guard !isEmpty else { return true }
        guard let address, let bytes = IPRange.bytes(of: address) else { return false }
        if deny.contains(where: { $0.contains(bytes) }) { return false }
        return allow.isEmpty || allow.contains { $0.contains(bytes) }
    }
}

/// Weighted canary splitting: `weight` percent of a route's requests go to `service` instead of the
/// route's own. Keys: `service` (declared), `weight` (0–100), `stickyOn` (optional
/// `header:NAME` or `cookie:NAME`: requests with the same value always go the same way; without a
/// value they are split at random).
public struct CanaryConfig: Codable, Sendable, Equatable {
    public var service: String
    public var weight: Int
    public var stickyOn: HashKeySource?

    public init(service: String, weight: Int, stickyOn: HashKeySource? = nil) {
        self.service = service
        self.weight = weight
        self.stickyOn = stickyOn
    }

    /// Whether a request goes to the canary: by the hash of its sticky key when it has one.
    public func choosesCanary(key: String?) -> Bool {
        guard weight > 0 else { return false }
        guard weight < 100 else { return true }
        let bucket: UInt64
        if let key {
            // FNV-1a: stable across processes and restarts, so a user stays on one side.
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            bucket = hash % 100
        } else {
            var random = FastRandom()
            bucket = random.next() % 100
        }
        return bucket < UInt64(weight)
    }
}

/// Who the client is when the gateway sits behind proxies. Only a peer in `trusted` is believed: its
/// `X-Forwarded-For` chain is kept (and extended), the client is the nearest address in that chain
/// that is not itself a trusted proxy, and `X-Forwarded-Proto`/`-Host` are taken from it. From any
/// other peer those headers are dropped and the peer is the client.
public struct ForwardedClient: Sendable, Equatable {
    /// The TCP peer: the hop the gateway appends to `X-Forwarded-For`.
    public var peer: String?
    /// The address policies (IP rules, rate limits) see.
    public var address: String?
    /// The chain received from a trusted proxy, to which the peer is appended upstream.
    public var priorForwardedFor: String?
    public var scheme: String
    public var host: String?

    /// `scheme` is how the client reached the gateway (`https` on a TLS listener).
    public init(
        peer: String?, trusted: [IPRange], forwardedFor: [String], proto: String?, forwardedHost: String?,
        host: String?, scheme: String = "http"
    ) {
        let rules = IPRules(allow: trusted, deny: [])
        guard !trusted.isEmpty, rules.permits(peer) else {
            self.init(peer: peer, host: host, scheme: scheme)
            return
        }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        let client = hops.reversed().first { !rules.permits($0) } ?? hops.first ?? peer
        let scheme = proto.map { $0.lowercased() }.flatMap { ["http", "https"].contains($0) ? $0 : nil } ?? scheme
        self.init(
            peer: peer, address: client, priorForwardedFor: hops.isEmpty ? nil : hops.joined(separator: ", "),
            scheme: scheme, host: forwardedHost ?? host)
    }

    /// A client that reached the gateway directly (no trusted proxy in between).
    public init(peer: String?, host: String?, scheme: String = "http") {
        self.init(peer: peer, address: peer, priorForwardedFor: nil, scheme: scheme, host: host)
    }

    public init(peer: String?, address: String?, priorForwardedFor: String?, scheme: String, host: String?) {
        self.peer = peer
        self.address = address
        self.priorForwardedFor = priorForwardedFor
        self.scheme = scheme
        self.host = host
    }
}

/// Request mirroring (shadow traffic): a copy of `percent` of the route's requests goes to `service`
/// as well; its answer is discarded and never delays or changes the client's. Only requests whose
/// body is at most `maxBody` (default 64KiB) are copied; at most `maxInFlight` copies (default 64)
/// are in flight per route, further ones are skipped. Copies carry `X-Portico-Shadow: true`.
public struct MirrorConfig: Codable, Sendable, Equatable {
    public var service: String
    public var percent: Int
    public var maxBody: ByteSize
    public var maxInFlight: Int

    public init(service: String, percent: Int = 100, maxBody: ByteSize = .init(bytes: 64 << 10), maxInFlight: Int = 64)
    {
        self.service = service
        self.percent = percent
        self.maxBody = maxBody
        self.maxInFlight = maxInFlight
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(String.self, forKey: .service)
        percent = try c.value(.percent, or: 100)
        maxBody = try c.value(.maxBody, or: .init(bytes: 64 << 10))
        maxInFlight = try c.value(.maxInFlight, or: 64)
    }

    /// Whether this request is copied (before the body and in-flight limits).
    public func chooses() -> Bool {
        guard percent > 0 else { return false }
        if percent >= 100 { return true }
        var random = FastRandom()
        return random.next() % 100 < UInt64(percent)
    }
}
