// Path templates: `/users/{id}`, `/files/{path...}`, `/static/*`. Parsed once, matched per request
// without allocation beyond the captured parameters.
import Foundation

/// A parsed path pattern.
public struct PathTemplate: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
    }

    public var segments: [Segment]
    /// When set, the template matches any further segments; the name (if any) captures them.
    public var wildcard: Wildcard?

    public enum Wildcard: Sendable, Hashable {
        case anonymous
        case named(String)
    }

    public var parameterNames: [String] {
        var names = segments.compactMap { segment -> String? in
            if case .parameter(let name) = segment { return name }
            return nil
        }
        if case .named(let name) = wildcard { names.append(name) }
        return names
    }

    public var literalCount: Int {
        segments.reduce(0) { count, segment in
            if case .literal = segment { return count + 1 }
            return count
        }
    }

    public var isExact: Bool { wildcard == nil && parameterNames.isEmpty }

    /// Parses a template, or explains what is wrong with it.
    public static func parse(_ text: String) -> Result<PathTemplate, PathTemplateError> {
        guard text.hasPrefix("/") else { return .failure(.init("a path must start with '/'")) }
        var segments: [Segment] = []
        var wildcard: Wildcard?
        var names = Set<String>()
        let parts = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            let isLast = index == parts.count - 1
            if part.isEmpty {
                if isLast && index > 0 { break }  // a trailing slash is allowed
                if isLast && index == 0 { break }  // the root path "/"
                return .failure(.init("empty path segment"))
            }
            if part == "*" {
                guard isLast else { return .failure(.init("'*' is only allowed as the last segment")) }
                wildcard = .anonymous
            } else if part.hasPrefix("{") && part.hasSuffix("}") {
                var name = String(part.dropFirst().dropLast())
                let isRest = name.hasSuffix("...")
                if isRest { name = String(name.dropLast(3)) }
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    return .failure(.init("'\(part)' is not a valid parameter (use {name} or {name...})"))
                }
                guard names.insert(name).inserted else { return .failure(.init("parameter '\(name)' is used twice")) }
                if isRest {
                    guard isLast else { return .failure(.init("'{\(name)...}' is only allowed as the last segment")) }
                    wildcard = .named(name)
                } else {
                    segments.append(.parameter(name))
                }
            } else if part.contains("{") || part.contains("}") || part.contains("*") {
                return .failure(.init("'\(part)' mixes literal text with a parameter or wildcard"))
            } else {
                segments.append(.literal(String(part)))
            }
        }
        return .success(PathTemplate(segments: segments, wildcard: wildcard))
    }

    /// Matches a request path (without query); returns the captured parameters, percent-decoded.
    public func match(_ path: Substring) -> [String: String]? {
        guard path.first == "/" else { return nil }
        var parameters: [String: String] = [:]
        var rest = path.dropFirst()
        for segment in segments {
            if rest.isEmpty { return nil }
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            let part = rest[..<end]
            if part.isEmpty { return nil }
            switch segment {
            case .literal(let literal):
                guard part == literal else { return nil }
            case .parameter(let name):
                parameters[name] = String(part).removingPercentEncodingIfValid
            }
            rest = end == rest.endIndex ? rest[end...] : rest[rest.index(after: end)...]
        }
        switch wildcard {
        case nil:
            // Allow one trailing slash.
            guard rest.isEmpty else { return nil }
        case .anonymous:
            break
        case .named(let name):
            parameters[name] = String(rest).removingPercentEncodingIfValid
        }
        return parameters
    }

    /// The template with parameter names erased, used to detect conflicting routes.
    var shape: String {
        var text = segments.map { segment -> String in
            switch segment {
            case .literal(let value): return value
            case .parameter: return "{}"
            }
        }.joined(separator: "/")
        if wildcard != nil { text += "/*" }
        return "/" + text
    }

    /// Fills the template's parameters (used for path rewrites).
    public func render(_ parameters: [String: String]) -> String {
        var path = ""
        for segment in segments {
            switch segment {
            case .literal(let value): path += "/" + value
            case .parameter(let name): path += "/" + (parameters[name]?.percentEncodedPathSegment ?? "")
            }
        }
        if case .named(let name) = wildcard, let rest = parameters[name], !rest.isEmpty { path += "/" + rest }
        return path.isEmpty ? "/" : path
    }

    public var description: String {
        var text = segments.map { segment -> String in
            switch segment {
            case .literal(let value): return value
            case .parameter(let name): return "{\(name)}"
            }
        }.joined(separator: "/")
        switch wildcard {
        case nil: break
        case .anonymous: text += text.isEmpty ? "*" : "/*"
        case .named(let name): text += (text.isEmpty ? "" : "/") + "{\(name)...}"
        }
        return "/" + text
    }
}

public struct PathTemplateError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension String {
    var removingPercentEncodingIfValid: String { removingPercentEncoding ?? self }

    var percentEncodedPathSegment: String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        return addingPercentEncoding(withAllowedCharacters: allowed) ?? self
    }
}
