// Reassembles WebSocket messages from data frames (text, binary, continuations) with a size cap, so the
// gateway controls the close code for oversized and malformed messages. Pure; unit-tested.
import NIOCore

struct MessageAssembler {
    enum Kind: Equatable, Sendable { case text, binary }

    enum Event: Equatable {
        /// More frames are needed.
        case incomplete
        case text(String)
        case binary(ByteBuffer)
        /// The message is larger than `maxSize` (close 1009).
        case tooLarge
        /// A continuation without a start, a new message inside a fragmented one (close 1002).
        case protocolError
        /// A text message is not valid UTF-8 (close 1007).
        case invalidUTF8
        /// A compressed message whose data does not inflate (close 1002); DirectConnectionHandler's.
        case undecodable
    }

    let maxSize: Int
    private var kind: Kind?
    private var buffer = ByteBuffer()

    init(maxSize: Int) {
        self.maxSize = maxSize
    }

    /// Adds one data frame. `opcode` is `nil` for a continuation.
    mutating func append(kind frameKind: Kind?, fin: Bool, data: ByteBuffer) -> Event {
        switch (kind, frameKind) {
        case (nil, nil), (.some, .some):
            reset()
            return .protocolError
        case (nil, .some(let started)):
            kind = started
            buffer.clear()
        case (.some, nil):
            break
        }
        guard buffer.readableBytes + data.readableBytes <= maxSize else {
            reset()
            return .tooLarge
        }
        var data = data
        buffer.writeBuffer(&data)
        guard fin else { return .incomplete }
        defer { reset() }
        switch kind {
        case .text?:
            guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else { return .invalidUTF8 }
            return .text(text)
        default:
            return .binary(buffer)
        }
    }

    private mutating func reset() {
        kind = nil
        buffer = ByteBuffer()
    }
}
