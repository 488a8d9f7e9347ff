// The CloudEvents HTTP protocol binding, receiving side: picks the content mode from Content-Type and the
// `ce-*` headers, parses the body in that mode and validates every event. Pure: no sockets, no framework.

/// Decodes the CloudEvents carried by one HTTP request.
public enum CloudEventsHTTPDecoder {
    /// The events of a request and the mode they came in.
    public struct Decoded: Sendable, Equatable {
        public var mode: CloudEventContentMode
        public var events: [CloudEvent]
    }

    /// The content mode of a request: structured or batched by the JSON event-format media types, binary
    /// when `ce-*` headers are present; anything else (another event format, or no event at all) is 415.
    public static func mode(
        contentType: String?, headers: [(name: String, value: String)]
    ) throws(CloudEventError) -> CloudEventContentMode {
        let essence = contentType.map(MediaType.essence) ?? ""
        if essence == MediaType.structuredJSON { return .structured }
        if essence == MediaType.batchJSON { return .batched }
        if MediaType.isCloudEventsFormat(essence) {
            throw CloudEventError(
                "event format '\(essence)' is not supported; use \(MediaType.structuredJSON), "
                    + "\(MediaType.batchJSON) or binary mode", kind: .unsupportedMediaType,
                extra: ["contentType": essence])
        }
        if BinaryModeParser.hasAttributeHeaders(headers) { return .binary }
        throw CloudEventError(
            "Content-Type '\(contentType ?? "")' carries no CloudEvent: send \(MediaType.structuredJSON), "
                + "\(MediaType.batchJSON), or a binary-mode event with ce-specversion, ce-id, ce-source and "
                + "ce-type headers", kind: .unsupportedMediaType, extra: ["contentType": essence])
    }

    /// Decodes and validates every event of a request; any invalid event fails the whole request.
    ///
    /// - Parameters:
    ///   - contentType: the Content-Type header, if any.
    ///   - headers: every request header (name, value); names in any case.
    ///   - body: the request body.
    ///   - maxBatchSize: the most events a batch may hold (more is 413).
    public static func decode(
        contentType: String?, headers: [(name: String, value: String)], body: [UInt8], maxBatchSize: Int
    ) throws(CloudEventError) -> Decoded {
        let mode = try mode(contentType: contentType, headers: headers)
        switch mode {
        case .binary:
            let raw = try BinaryModeParser.parse(headers: headers, contentType: contentType, body: body)
            return Decoded(mode: mode, events: [try CloudEventValidator.validate(raw)])
        case .structured:
            let raw = try StructuredModeParser.parseEvent(body: body)
            return Decoded(mode: mode, events: [try CloudEventValidator.validate(raw)])
        case .batched:
            let raws = try StructuredModeParser.parseBatch(body: body, maxBatchSize: maxBatchSize)
            var events: [CloudEvent] = []
            events.reserveCapacity(raws.count)
            for (index, raw) in raws.enumerated() {
                do {
                    events.append(try CloudEventValidator.validate(raw))
                } catch {
                    throw error.inBatch(at: index)
                }
            }
            return Decoded(mode: mode, events: events)
        }
    }
}
