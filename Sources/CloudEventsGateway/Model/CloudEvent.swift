// The CloudEvents 1.0 event model: context attributes in their canonical string form plus the event data
// as bytes (what a binary-mode HTTP body carries). Only validated events are turned into this type.

/// One valid CloudEvent.
public struct CloudEvent: Sendable, Equatable {
    /// Always `1.0`.
    public var specversion: String
    public var id: String
    /// A URI-reference.
    public var source: String
    public var type: String
    /// The media type of ``data`` (RFC 2046), if known.
    public var datacontenttype: String?
    /// An absolute URI.
    public var dataschema: String?
    public var subject: String?
    /// An RFC 3339 timestamp, as received.
    public var time: String?
    /// Extension attributes by name, each in its canonical string form (`true`, `42`, `text`).
    public var extensions: [String: String]
    /// The event data, exactly as it goes into a binary-mode body; nil when the event has none.
    public var data: [UInt8]?

    public init(
        id: String, source: String, type: String, specversion: String = "1.0", datacontenttype: String? = nil,
        dataschema: String? = nil, subject: String? = nil, time: String? = nil, extensions: [String: String] = [:],
        data: [UInt8]? = nil
    ) {
        self.specversion = specversion
        self.id = id
        self.source = source
        self.type = type
        self.datacontenttype = datacontenttype
        self.dataschema = dataschema
        self.subject = subject
        self.time = time
        self.extensions = extensions
        self.data = data
    }

    /// The names of the context attributes the specification defines (everything else is an extension).
    public static let specAttributes: Set<String> = [
        "specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time",
    ]

    /// The canonical string value of any attribute, spec-defined or extension; nil when absent.
    public func attribute(_ name: String) -> String? {
        switch name {
        case "specversion": return specversion
        case "id": return id
        case "source": return source
        case "type": return type
        case "datacontenttype": return datacontenttype
        case "dataschema": return dataschema
        case "subject": return subject
        case "time": return time
        default: return extensions[name]
        }
    }

    /// Every present attribute as (name, canonical value): the spec-defined ones first, then extensions
    /// sorted by name.
    public var attributes: [(name: String, value: String)] {
        var result: [(name: String, value: String)] = [
            ("specversion", specversion), ("id", id), ("source", source), ("type", type),
        ]
        for name in ["datacontenttype", "dataschema", "subject", "time"] {
            if let value = attribute(name) { result.append((name, value)) }
        }
        for name in extensions.keys.sorted() { result.append((name, extensions[name] ?? "")) }
        return result
    }
}

/// The three content modes of the CloudEvents HTTP protocol binding.
public enum CloudEventContentMode: String, Sendable, Equatable {
    /// Attributes in `ce-*` headers, data in the body.
    case binary
    /// `application/cloudevents+json`: the whole event is the JSON body.
    case structured
    /// `application/cloudevents-batch+json`: a JSON array of structured events.
    case batched
}
