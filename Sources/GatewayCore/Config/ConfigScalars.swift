// Scalar types of the configuration file (durations, sizes, listen addresses, URLs), each decoded
// from a string with a clear error when it does not parse.
import Foundation

/// A duration written as `250ms`, `5s`, `1m`, `2h` or a combination such as `1m30s`.
public struct ConfigDuration: Sendable, Hashable, Codable, CustomStringConvertible {
    public var duration: Duration

    public init(_ duration: Duration) { self.duration = duration }
    public static func seconds(_ value: Int) -> ConfigDuration { .init(.seconds(value)) }
    public static func milliseconds(_ value: Int) -> ConfigDuration { .init(.milliseconds(value)) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = Self.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a duration (use e.g. 500ms, 5s, 1m30s)")
        }
        self.duration = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total = Duration.zero
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let nanos: Double
            switch unit {
            case "ns": nanos = 1
            case "us", "µs": nanos = 1_000
            case "ms": nanos = 1_000_000
            case "s": nanos = 1_000_000_000
            case "m": nanos = 60_000_000_000
            case "h": nanos = 3_600_000_000_000
            default: return nil
            }
            total += .nanoseconds(Int64(value * nanos))
        }
        return total
    }

    public var description: String {
        let ms = duration.milliseconds
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    public var timeInterval: Double { Double(milliseconds) / 1000 }

    /// Whole nanoseconds (what NIO's `TimeAmount` and swift-metrics take).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// A size in bytes written as `512`, `64KiB`, `1MiB`, `10MB`.
public struct ByteSize: Sendable, Hashable, Codable, CustomStringConvertible {
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = Self.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a size (use e.g. 512, 64KiB, 1MiB)")
        }
        self.bytes = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isNumber }
        guard !digits.isEmpty, let value = Int(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let multipliers: [String: Int] = [
            "": 1, "B": 1, "KB": 1000, "KiB": 1024, "MB": 1_000_000, "MiB": 1 << 20, "GB": 1_000_000_000,
            "GiB": 1 << 30,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        return value * multiplier
    }

    public var description: String {
        if bytes % (1 << 20) == 0 && bytes > 0 { return "\(bytes >> 20)MiB" }
        if bytes % 1024 == 0 && bytes > 0 { return "\(bytes >> 10)KiB" }
        return "\(bytes)"
    }
}

/// Where a listener binds: `host:port` (`[::1]:8080` for IPv6). Port 0 asks the OS for a free port.
public struct ListenAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = Self.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a listen address (use host:port, e.g. 0.0.0.0:8080)")
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func parse(_ text: String) -> ListenAddress? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        return ListenAddress(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// An absolute URL of an upstream endpoint: `http://host:port` or `https://host:port`, optionally with a
/// base path.
public struct EndpointURL: Sendable, Hashable, Codable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int
    public var basePath: String

    public var isTLS: Bool { scheme == "https" }

    public init(scheme: String, host: String, port: Int, basePath: String = "") {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = basePath
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = Self.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a valid endpoint URL (use http://host:port)")
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func parse(_ text: String) -> EndpointURL? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            ["http", "https"].contains(scheme), let host = components.host, !host.isEmpty,
            components.query == nil, components.fragment == nil
        else { return nil }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { return nil }
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        return EndpointURL(scheme: scheme, host: host, port: port, basePath: path)
    }

    public var authority: String {
        let defaultPort = isTLS ? 443 : 80
        let h = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        return port == defaultPort ? h : "\(h):\(port)"
    }

    public var description: String { "\(scheme)://\(authority)\(basePath)" }
}

/// A string that must never be printed: `gatewayctl print` shows it as `<redacted>`.
public struct Secret: Sendable, Hashable, Codable, CustomStringConvertible {
    public var value: String
    public init(_ value: String) { self.value = value }

    public init(from decoder: any Decoder) throws {
        self.value = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode("<redacted>")
    }

    public var description: String { "<redacted>" }
}

/// IP address literals as config and discovery meet them.
public enum IPLiteral {
    /// Whether `text` is an IPv4 or IPv6 address (IPv6 without brackets, no zone).
    public static func isValid(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
