// Structured and batched content modes (JSON event format): one event is a JSON object whose members are
// the attributes plus `data` or `data_base64`; a batch is a JSON array of such objects.

enum StructuredModeParser {
    /// Reads one structured-mode body.
    static func parseEvent(body: [UInt8]) throws(CloudEventError) -> RawCloudEvent {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw CloudEventError("the body is not valid JSON: \(error)")
        }
        guard case .object(let object) = value else {
            throw CloudEventError("a structured-mode event must be a JSON object, not \(value.typeName)")
        }
        return event(from: object)
    }

    /// Reads a batched-mode body: the events as JSON objects, at least one and at most `maxBatchSize`.
    static func parseBatch(body: [UInt8], maxBatchSize: Int) throws(CloudEventError) -> [RawCloudEvent] {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw CloudEventError("the body is not valid JSON: \(error)")
        }
        guard case .array(let items) = value else {
            throw CloudEventError("a batch must be a JSON array of events, not \(value.typeName)")
        }
        guard !items.isEmpty else { throw CloudEventError("the batch is empty") }
        guard items.count <= maxBatchSize else {
            throw CloudEventError(
                "the batch holds \(items.count) events, more than the limit of \(maxBatchSize); nothing was accepted",
                kind: .batchTooLarge, extra: ["maxBatchSize": String(maxBatchSize)])
        }
        var events: [RawCloudEvent] = []
        events.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard case .object(let object) = item else {
                throw CloudEventError("an event must be a JSON object, not \(item.typeName)").inBatch(at: index)
            }
            events.append(event(from: object))
        }
        return events
    }

    /// Splits a JSON event object into attributes and data; `null` members count as absent.
    static func event(from object: JSONObject) -> RawCloudEvent {
        var raw = RawCloudEvent()
        let data = object["data"].flatMap { $0 == .null ? nil : $0 }
        let base64 = object["data_base64"].flatMap { $0 == .null ? nil : $0 }
        if let data { raw.data = .json(data) }
        if let base64 { raw.data = .base64(base64) }
        raw.hasConflictingData = data != nil && base64 != nil
        for (key, value) in object.members where key != "data" && key != "data_base64" && value != .null {
            raw.attributes[key] = value
        }
        return raw
    }
}
