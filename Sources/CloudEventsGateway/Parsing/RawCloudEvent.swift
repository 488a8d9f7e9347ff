// An event as read off the wire in any content mode, before validation: attribute values as JSON values
// (binary mode yields only strings) and the data in the form it arrived in.

/// An unvalidated event.
struct RawCloudEvent: Sendable, Equatable {
    enum Data: Sendable, Equatable {
        case none
        /// Binary mode: the HTTP body.
        case bytes([UInt8])
        /// Structured mode: the `data` member.
        case json(JSONValue)
        /// Structured mode: the `data_base64` member (a string if valid).
        case base64(JSONValue)
    }

    /// Attribute name to value; `null` members of structured events are left out (the JSON format treats
    /// them as absent).
    var attributes: [String: JSONValue]
    var data: Data
    /// Structured mode only: both `data` and `data_base64` were present.
    var hasConflictingData = false

    init(attributes: [String: JSONValue] = [:], data: Data = .none, hasConflictingData: Bool = false) {
        self.attributes = attributes
        self.data = data
        self.hasConflictingData = hasConflictingData
    }
}
