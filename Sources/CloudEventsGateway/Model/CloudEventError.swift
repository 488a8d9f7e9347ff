// Why a request does not carry acceptable CloudEvents: which attribute is wrong, and in a batch which
// event. Presented to clients as RFC 9457 problem details (400, 413 or 415) through GatewayError.
public import GatewayCore

/// A rejected CloudEvents request.
public struct CloudEventError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The event (or the body) is malformed: 400.
        case invalid
        /// The body is not in a content mode or event format this gateway speaks: 415.
        case unsupportedMediaType
        /// The batch holds more events than `maxBatchSize`: 413.
        case batchTooLarge
    }

    public var kind: Kind
    /// What is wrong, without the batch position.
    public var reason: String
    /// The attribute at fault (`type`, `time`, an extension name…), when one is.
    public var attribute: String?
    /// The position of the offending event in a batch.
    public var index: Int?
    /// Extra problem-details members.
    public var extra: [String: String]

    public init(
        _ reason: String, kind: Kind = .invalid, attribute: String? = nil, index: Int? = nil,
        extra: [String: String] = [:]
    ) {
        self.kind = kind
        self.reason = reason
        self.attribute = attribute
        self.index = index
        self.extra = extra
    }

    static func invalid(_ attribute: String, _ reason: String) -> CloudEventError {
        CloudEventError(reason, attribute: attribute)
    }

    /// This error, placed at `index` of a batch.
    func inBatch(at index: Int) -> CloudEventError {
        var copy = self
        copy.index = index
        return copy
    }

    public var message: String {
        guard let index else { return reason }
        return "event \(index) of the batch is invalid: \(reason); the whole batch was rejected and none of its "
            + "events was accepted"
    }

    public var description: String { message }
}

extension CloudEventError: GatewayErrorConvertible {
    public var gatewayError: GatewayError {
        var details = extra
        if let attribute { details["attribute"] = attribute }
        if let index { details["index"] = String(index) }
        switch kind {
        case .invalid: return GatewayError(.badRequest, message, details: details)
        case .unsupportedMediaType: return GatewayError(.unsupportedMediaType, message, details: details)
        case .batchTooLarge: return GatewayError(.payloadTooLarge, message, details: details)
        }
    }
}
