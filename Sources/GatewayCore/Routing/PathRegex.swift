// Regular-expression paths and regex rewrites. NSRegularExpression (ICU syntax) is used because it is
// thread-safe and Sendable, which Swift's Regex is not; group names are read from the pattern here
// because NSRegularExpression does not list them, and replacement templates (`$1`, `${name}`, `$$`)
// are expanded here because corelibs Foundation does not expand named groups.
import Foundation

/// A route path given as a regular expression that must match the whole normalised path. Named groups
/// (`(?<id>[0-9]+)`) become route parameters by name, the others by number (`"1"`, `"2"`, …).
public struct PathRegex: Sendable, CustomStringConvertible {
    public let pattern: String
    let expression: NSRegularExpression
    let groupNames: [Int: String]

    public init(_ pattern: String) throws(PathTemplateError) {
        guard !pattern.isEmpty else { throw PathTemplateError("a regex path must not be empty") }
        do {
            // Anchored on both ends without changing the group numbers.
            expression = try NSRegularExpression(pattern: "^(?:" + pattern + ")$")
        } catch {
            throw PathTemplateError("'\(pattern)' is not a valid regular expression")
        }
        self.pattern = pattern
        self.groupNames = Self.namedGroups(in: pattern)
    }

    /// Route parameters when the whole path matches, nil otherwise.
    public func match(_ path: Substring) -> [String: String]? {
        let text = String(path)
        let nsText = text as NSString
        guard let result = expression.firstMatch(in: text, range: NSRange(location: 0, length: nsText.length))
        else { return nil }
        var parameters: [String: String] = [:]
        for group in 1..<result.numberOfRanges {
            let range = result.range(at: group)
            guard range.location != NSNotFound else { continue }
            let value = nsText.substring(with: range).removingPercentEncodingIfValid
            parameters[groupNames[group] ?? String(group)] = value
        }
        return parameters
    }

    public var description: String { "~" + pattern }

    /// Capture group numbers of named groups, counted the way ICU counts them (by opening parenthesis).
    static func namedGroups(in pattern: String) -> [Int: String] {
        var names: [Int: String] = [:]
        var number = 0
        var inClass = false
        let chars = Array(pattern)
        var index = 0
        while index < chars.count {
            let char = chars[index]
            if char == "\\" {
                index += 2
                continue
            }
            if inClass {
                if char == "]" { inClass = false }
            } else if char == "[" {
                inClass = true
            } else if char == "(" {
                let next = index + 1 < chars.count ? chars[index + 1] : " "
                if next != "?" {
                    number += 1
                } else if index + 2 < chars.count, chars[index + 2] == "<",
                    index + 3 < chars.count, chars[index + 3] != "=", chars[index + 3] != "!"
                {
                    number += 1
                    var name = ""
                    var cursor = index + 3
                    while cursor < chars.count, chars[cursor] != ">" {
                        name.append(chars[cursor])
                        cursor += 1
                    }
                    names[number] = name
                }
            }
            index += 1
        }
        return names
    }
}

/// A regex rewrite of the upstream path: where `pattern` matches (anywhere in the path, first match),
/// the match is replaced by `replacement`, in which `$1` … `$9` and `${name}` insert capture groups
/// and `$$` is a dollar sign. A path the pattern does not match is sent unchanged.
public struct RegexRewrite: Sendable {
    public let pattern: String
    public let replacement: String
    let expression: NSRegularExpression
    let groupNames: [Int: String]
    /// Group name to number, for `${name}` in the replacement.
    let groupNumbers: [String: Int]

    public init(pattern: String, replacement: String) throws(PathTemplateError) {
        do {
            expression = try NSRegularExpression(pattern: pattern)
        } catch {
            throw PathTemplateError("'\(pattern)' is not a valid regular expression")
        }
        self.pattern = pattern
        self.replacement = replacement
        self.groupNames = PathRegex.namedGroups(in: pattern)
        self.groupNumbers = Dictionary(groupNames.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
        let known = Set(groupNames.values)
        for reference in Self.references(in: replacement) {
            switch reference {
            case .number(let number) where number > expression.numberOfCaptureGroups:
                throw PathTemplateError(
                    "the replacement refers to group $\(number), but the pattern has \(expression.numberOfCaptureGroups)"
                )
            case .name(let name) where !known.contains(name):
                throw PathTemplateError("the replacement refers to group '\(name)', which the pattern does not name")
            default:
                break
            }
        }
    }

    public func apply(_ path: String) -> String {
        let nsPath = path as NSString
        guard let result = expression.firstMatch(in: path, range: NSRange(location: 0, length: nsPath.length)) else {
            return path
        }
        func group(_ number: Int) -> String {
            guard number < result.numberOfRanges else { return "" }
            let range = result.range(at: number)
            return range.location == NSNotFound ? "" : nsPath.substring(with: range)
        }
        var expanded = ""
        var chars = replacement[...]
        while let char = chars.popFirst() {
            guard char == "$", let next = chars.first else {
                expanded.append(char)
                continue
            }
            if next == "$" {
                expanded.append("$")
                chars.removeFirst()
            } else if next == "{", let close = chars.firstIndex(of: "}") {
                let name = String(chars[chars.index(after: chars.startIndex)..<close])
                expanded += groupNumbers[name].map(group) ?? ""
                chars = chars[chars.index(after: close)...]
            } else if let digit = next.wholeNumberValue {
                expanded += group(digit)
                chars.removeFirst()
            } else {
                expanded.append(char)
            }
        }
        return nsPath.replacingCharacters(in: result.range, with: expanded)
    }

    enum Reference: Equatable {
        case number(Int)
        case name(String)
    }

    static func references(in replacement: String) -> [Reference] {
        var found: [Reference] = []
        var chars = replacement[...]
        while let char = chars.popFirst() {
            guard char == "$", let next = chars.first else { continue }
            if next == "$" {
                chars.removeFirst()
            } else if next == "{", let close = chars.firstIndex(of: "}") {
                found.append(.name(String(chars[chars.index(after: chars.startIndex)..<close])))
                chars = chars[chars.index(after: close)...]
            } else if let digit = next.wholeNumberValue {
                found.append(.number(digit))
                chars.removeFirst()
            }
        }
        return found
    }
}
