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
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<16 {
                let shift = UInt64(60 - index * 4)
                buffer[index] = digits.utf8Start[Int((high >> shift) & 0xF)]
                buffer[16 + index] = digits.utf8Start[Int((low >> shift) & 0xF)]
            }
            return 32
        }
    }
}
