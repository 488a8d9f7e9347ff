// Follows chunked transfer-coding framing (RFC 9112 §7.1) over raw bytes without decoding it, so the
// byte-level data path can pass chunked bodies through unchanged and still know where a message
// ends. From experiments/fastproxy; hand-written because NIO's decoder re-frames the body.

/// Byte-at-a-time state machine over `size [;ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF`.
struct HTTP1ChunkedTracker {
    private enum State: UInt8 { case size, ext, sizeLF, data, dataCR, dataLF, trailerStart, trailerLine, finalLF, done }
    private var state = State.size
    private var remaining = 0
    private var digits = 0
    private var previous: UInt8 = 0

    var isDone: Bool { state == .done }

    mutating func reset() {
        state = .size
        remaining = 0
        digits = 0
        previous = 0
    }

    /// Consumes bytes of `p` that belong to the current message; returns how many, or -1 if malformed.
    mutating func consume(_ p: UnsafeRawBufferPointer) -> Int {
        var i = 0
        let n = p.count
        while i < n {
            switch state {
            case .data:
                let take = min(remaining, n - i)
                remaining -= take
                i += take
                if remaining == 0 { state = .dataCR }
                continue
            case .done:
                return i
            default:
                break
            }
            let b = p[i]
            i += 1
            defer { previous = b }
            switch state {
            case .size:
                let v: Int
                switch b {
                case 0x30...0x39: v = Int(b - 0x30)
                case 0x61...0x66: v = Int(b - 0x61 + 10)
                case 0x41...0x46: v = Int(b - 0x41 + 10)
                case 0x3B, 0x20, 0x09:
                    guard digits > 0 else { return -1 }
                    state = .ext
                    continue
                case 0x0D:
                    guard digits > 0 else { return -1 }
                    state = .sizeLF
                    continue
                default: return -1
                }
                digits += 1
                guard digits <= 15 else { return -1 }  // A size that does not fit: refused, not wrapped.
                remaining = remaining << 4 | v
            case .ext:
                if b == 0x0D {
                    state = .sizeLF
                } else if (b < 0x20 && b != 0x09) || b == 0x7F {
                    return -1  // A bare LF (or another control) would end the line for a lenient reader.
                }
            case .sizeLF:
                guard b == 0x0A else { return -1 }
                digits = 0
                state = remaining == 0 ? .trailerStart : .data
            case .dataCR:
                guard b == 0x0D else { return -1 }
                state = .dataLF
            case .dataLF:
                guard b == 0x0A else { return -1 }
                state = .size
            case .trailerStart:
                guard b != 0x0A else { return -1 }  // A bare LF where the last CRLF belongs.
                state = b == 0x0D ? .finalLF : .trailerLine
            case .trailerLine:
                // Trailer lines must end in CRLF like header lines; a bare LF or CR is malformed.
                if previous == 0x0D && b != 0x0A { return -1 }
                if b == 0x0A {
                    guard previous == 0x0D else { return -1 }
                    state = .trailerStart
                }
            case .finalLF:
                guard b == 0x0A else { return -1 }
                state = .done
                return i
            case .data, .done:
                break
            }
        }
        return i
    }
}
