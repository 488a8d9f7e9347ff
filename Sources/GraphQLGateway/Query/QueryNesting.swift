// A lexical guard run before parsing: how deeply `{`, `[` and `(` nest in a GraphQL document.
// GraphQLSwift's parser is recursive, so a document nested thousands of levels deep would overflow
// the stack; such documents are refused without being parsed.
enum QueryNesting {
    /// The nesting the parser is ever given: enough for any query within `maxDepth`, with room for
    /// nested input values, and never more than 256 levels.
    static func limit(maxDepth: Int) -> Int { min(max(maxDepth, 1) + 64, 256) }

    /// The deepest nesting of brackets outside strings and comments, counted up to `limit + 1` (the
    /// scan stops once the limit is passed).
    static func maximumNesting(of text: String, limit: Int) -> Int {
        var depth = 0
        var deepest = 0
        var bytes = text.utf8[...]
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "("):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > limit { return deepest }
            case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ")"):
                depth = max(depth - 1, 0)
            case UInt8(ascii: "#"):
                while let next = bytes.first, next != UInt8(ascii: "\n"), next != UInt8(ascii: "\r") {
                    bytes.removeFirst()
                }
            case UInt8(ascii: "\""):
                if bytes.starts(with: [UInt8(ascii: "\""), UInt8(ascii: "\"")]) {
                    bytes.removeFirst(2)
                    skipBlockString(&bytes)
                } else {
                    skipString(&bytes)
                }
            default:
                continue
            }
        }
        return deepest
    }

    /// Skips to just after the closing `"` of a string (escapes honoured; a line end also ends it).
    private static func skipString(_ bytes: inout Substring.UTF8View) {
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "\\"): _ = bytes.popFirst()
            case UInt8(ascii: "\""), UInt8(ascii: "\n"), UInt8(ascii: "\r"): return
            default: continue
            }
        }
    }

    /// Skips to just after the closing `"""` of a block string (`\"""` does not close it).
    private static func skipBlockString(_ bytes: inout Substring.UTF8View) {
        let quotes: [UInt8] = [UInt8(ascii: "\""), UInt8(ascii: "\""), UInt8(ascii: "\"")]
        while !bytes.isEmpty {
            if bytes.starts(with: [UInt8(ascii: "\\")] + quotes) {
                bytes.removeFirst(4)
            } else if bytes.starts(with: quotes) {
                bytes.removeFirst(3)
                return
            } else {
                bytes.removeFirst()
            }
        }
    }
}
