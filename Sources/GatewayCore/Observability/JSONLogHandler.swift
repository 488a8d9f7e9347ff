// A swift-log handler that writes one JSON object per line (timestamp, level, logger, message and
// flattened metadata). Written by hand: swift-log ships no JSON handler and none is among the
// project's packages.
import Foundation
public import Logging

public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let stream: JSONLogStream

    public init(label: String, level: Logger.Level, stream: JSONLogStream = .standardError) {
        self.label = label
        self.logLevel = level
        self.stream = stream
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(event.level.rawValue)\",\"logger\":"
        line += JSONString.quote(label)
        line += ",\"msg\":" + JSONString.quote(event.message.description)
        var merged = self.metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() {
            line += "," + JSONString.quote(key) + ":" + Self.render(merged[key]!)
        }
        line += "}\n"
        stream.write(line)
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return JSONString.quote(text)
        case .stringConvertible(let convertible):
            if let number = convertible as? any BinaryInteger { return "\(number)" }
            if let number = convertible as? Double, number.isFinite { return "\(number)" }
            if let flag = convertible as? Bool { return flag ? "true" : "false" }
            return JSONString.quote(convertible.description)
        case .array(let values): return "[" + values.map(render).joined(separator: ",") + "]"
        case .dictionary(let values):
            return "{"
                + values.keys.sorted().map { JSONString.quote($0) + ":" + render(values[$0]!) }.joined(separator: ",")
                + "}"
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = time_t(now.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}

/// Where JSON log lines go; writes are whole lines, so concurrent loggers never interleave within a line.
public struct JSONLogStream: Sendable {
    let fd: Int32
    public static let standardError = JSONLogStream(fd: 2)
    public static let standardOutput = JSONLogStream(fd: 1)

    func write(_ line: String) {
        var line = line
        line.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
