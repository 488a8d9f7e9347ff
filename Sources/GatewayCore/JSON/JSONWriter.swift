// Serialises `JSONValue` as compact JSON with keys sorted (by UTF-8 bytes) so equal documents give
// equal bytes. Hand-written: JSONSerialization cannot write number literals as they came in. Output
// goes to a buffer with a size budget, so renames or JSON→XML cannot turn a small body into a huge one.

/// Bytes being written, refused once they pass `limit`.
public struct OutputBuffer {
    public private(set) var bytes: [UInt8] = []
    public let limit: Int

    public init(limit: Int, reserving: Int) {
        self.limit = limit
        bytes.reserveCapacity(min(limit, reserving))
    }

    public mutating func append(_ byte: UInt8) throws(JSONFailure) {
        bytes.append(byte)
        try check()
    }

    public mutating func append(_ text: String) throws(JSONFailure) {
        bytes.append(contentsOf: text.utf8)
        try check()
    }

    public mutating func append(contentsOf run: some Collection<UInt8>) throws(JSONFailure) {
        bytes.append(contentsOf: run)
        try check()
    }

    private func check() throws(JSONFailure) {
        if bytes.count > limit { throw .init(.tooLarge, "would be larger than \(JSONFailure.size(limit))") }
    }
}

public enum JSONWriter {
    public static func write(_ value: JSONValue, limit: Int, sizeHint: Int) throws(JSONFailure) -> [UInt8] {
        var out = OutputBuffer(limit: limit, reserving: sizeHint)
        try write(value, to: &out)
        return out.bytes
    }

    private static func write(_ value: JSONValue, to out: inout OutputBuffer) throws(JSONFailure) {
        switch value {
        case .null: try out.append("null")
        case .bool(let flag): try out.append(flag ? "true" : "false")
        case .number(let text): try out.append(text)
        case .string(let text): try writeString(text, to: &out)
        case .array(let items):
            try out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { try out.append(UInt8(ascii: ",")) }
                try write(item, to: &out)
            }
            try out.append(UInt8(ascii: "]"))
        case .object(let object):
            try out.append(UInt8(ascii: "{"))
            let members = object.members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (index, member) in members.enumerated() {
                if index > 0 { try out.append(UInt8(ascii: ",")) }
                try writeString(member.key, to: &out)
                try out.append(UInt8(ascii: ":"))
                try write(member.value, to: &out)
            }
            try out.append(UInt8(ascii: "}"))
        }
    }

    public static func writeString(_ text: String, to out: inout OutputBuffer) throws(JSONFailure) {
        try out.append(UInt8(ascii: "\""))
        // Runs that need no escape are copied at once. Byte-wise is safe: every byte of a multi-byte UTF-8
        // sequence is 0x80 or above.
        let utf8 = text.utf8
        var runStart = utf8.startIndex
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            let escape: String
            switch byte {
            case UInt8(ascii: "\""): escape = "\\\""
            case UInt8(ascii: "\\"): escape = "\\\\"
            case 0x0A: escape = "\\n"
            case 0x0D: escape = "\\r"
            case 0x09: escape = "\\t"
            case 0x08: escape = "\\b"
            case 0x0C: escape = "\\f"
            case 0..<0x20:
                let digits = String(byte, radix: 16)
                escape = "\\u00" + (digits.count == 1 ? "0" : "") + digits
            default:
                index = utf8.index(after: index)
                continue
            }
            if runStart < index { try out.append(contentsOf: utf8[runStart..<index]) }
            try out.append(escape)
            index = utf8.index(after: index)
            runStart = index
        }
        if runStart < utf8.endIndex { try out.append(contentsOf: utf8[runStart...]) }
        try out.append(UInt8(ascii: "\""))
    }
}
