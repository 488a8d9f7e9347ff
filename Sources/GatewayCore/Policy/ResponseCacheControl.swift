// The Cache-Control header (RFC 9111 §5.2) as a list of directives. Hand-written: the grammar is a
// comma-separated list of `name` or `name=value` (token or quoted string) and the project's HTTP
// libraries expose no parser for it. Repeated header lines are merged; names are case-insensitive.

/// The directives of one message's `Cache-Control` header lines, in order.
public struct CacheControl: Sendable, Equatable {
    public struct Directive: Sendable, Equatable {
        /// Lower-cased.
        public var name: String
        /// The value with quotes and escapes removed; nil when the directive has no `=value`.
        public var value: String?

        public init(name: String, value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    /// The largest delta-seconds value kept; larger ones are cut to it (RFC 9111 §1.2.2).
    public static let maxDeltaSeconds = 2_147_483_648

    public private(set) var directives: [Directive]

    /// Parses the values of every `Cache-Control` line of a message, as if joined with commas.
    public init(_ values: some Sequence<String>) {
        var directives: [Directive] = []
        for value in values { Self.parse(Array(value.utf8), into: &directives) }
        self.directives = directives
    }

    /// Parses one (possibly absent) header value.
    public init(_ value: String?) {
        self.init(value.map { [$0] } ?? [])
    }

    public var isEmpty: Bool { directives.isEmpty }

    /// Whether the directive `name` (any case) appears, with or without a value.
    public func contains(_ name: String) -> Bool {
        let name = name.lowercased()
        return directives.contains { $0.name == name }
    }

    /// The value of the first `name` directive.
    public func value(_ name: String) -> String? {
        let name = name.lowercased()
        return directives.first { $0.name == name }?.value
    }

    /// The delta-seconds of the first `name` directive: nil when absent; 0 when its value is missing
    /// or not a non-negative integer (such a response counts as stale, RFC 9111 §4.2.1); cut to
    /// ``maxDeltaSeconds``.
    public func seconds(_ name: String) -> Int? {
        let name = name.lowercased()
        guard let directive = directives.first(where: { $0.name == name }) else { return nil }
        return Self.deltaSeconds(directive.value) ?? 0
    }

    public var noStore: Bool { contains("no-store") }
    /// With or without field names (a qualified `no-cache="Set-Cookie"` counts too).
    public var noCache: Bool { contains("no-cache") }
    /// With or without field names.
    public var isPrivate: Bool { contains("private") }
    public var isPublic: Bool { contains("public") }
    public var mustRevalidate: Bool { contains("must-revalidate") }
    public var onlyIfCached: Bool { contains("only-if-cached") }
    public var maxAge: Int? { seconds("max-age") }
    public var sMaxAge: Int? { seconds("s-maxage") }
    public var minFresh: Int? { seconds("min-fresh") }

    /// A non-negative decimal integer, cut to ``maxDeltaSeconds``; nil for anything else.
    static func deltaSeconds(_ text: String?) -> Int? {
        guard let text, !text.isEmpty else { return nil }
        var total = 0
        for byte in text.utf8 {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            total = min(maxDeltaSeconds, total * 10 + Int(byte - 0x30))
        }
        return total
    }

    private static let comma = UInt8(ascii: ",")
    private static let equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// Appends the directives of one header value; text that fits no directive is skipped up to the
    /// next comma.
    private static func parse(_ bytes: [UInt8], into directives: inout [Directive]) {
        var index = 0
        while index < bytes.count {
            while index < bytes.count, bytes[index] == comma || isSpace(bytes[index]) { index += 1 }
            let nameStart = index
            while index < bytes.count, bytes[index] != comma, bytes[index] != equals, !isSpace(bytes[index]) {
                index += 1
            }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self).lowercased()
            while index < bytes.count, isSpace(bytes[index]) { index += 1 }
            var value: String?
            if index < bytes.count, bytes[index] == equals {
                index += 1
                while index < bytes.count, isSpace(bytes[index]) { index += 1 }
                if index < bytes.count, bytes[index] == quote {
                    index += 1
                    var unquoted: [UInt8] = []
                    while index < bytes.count, bytes[index] != quote {
                        if bytes[index] == backslash, index + 1 < bytes.count { index += 1 }
                        unquoted.append(bytes[index])
                        index += 1
                    }
                    index += 1  // the closing quote
                    value = String(decoding: unquoted, as: UTF8.self)
                } else {
                    let valueStart = index
                    while index < bytes.count, bytes[index] != comma { index += 1 }
                    var valueEnd = index
                    while valueEnd > valueStart, isSpace(bytes[valueEnd - 1]) { valueEnd -= 1 }
                    value = String(decoding: bytes[valueStart..<valueEnd], as: UTF8.self)
                }
            }
            while index < bytes.count, bytes[index] != comma { index += 1 }
            if !name.isEmpty { directives.append(Directive(name: name, value: value)) }
        }
    }
}
