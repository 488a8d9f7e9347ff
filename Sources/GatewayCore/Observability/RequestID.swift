// Request ids: accepted from `X-Request-Id` when a client sends a sane one, generated otherwise, and
// sent to microservices and back to the client.
public enum RequestID {
    public static let headerName = "X-Request-Id"

    /// The client's id if it is 1–128 visible ASCII characters, else a new one.
    public static func accept(_ incoming: String?) -> String {
        if let incoming, !incoming.isEmpty, incoming.utf8.count <= 128,
            incoming.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        {
            return incoming
        }
        return generate()
    }

    /// 16 random bytes as 32 hex characters.
    public static func generate() -> String {
        var generator = FastRandom()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
