// An ordered set of routes with deterministic precedence and conflict detection at build time.

/// The outcome of matching a request.
public enum RouteMatchResult<Target: Sendable>: Sendable {
    case matched(Target, parameters: [String: String])
    /// A route matches the path but not the method: answer 405 with `Allow`.
    case methodNotAllowed(allowed: [String])
    case notFound
}

/// Routes sorted by precedence.
///
/// Precedence, highest first: exact paths; templates with parameters (more literal segments first);
/// wildcards and prefixes (more segments, then longer prefix first); then routes with an exact host
/// before a wildcard host before no host; more header conditions first; routes naming methods before
/// routes for any method; and finally the order in the file.
public struct RouteTable<Target: Sendable>: Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var matcher: RouteMatcher
        public var target: Target
    }

    public private(set) var entries: [Entry]

    /// Builds a table; routes that no request could tell apart are an error naming both.
    public init(_ routes: [(name: String, matcher: RouteMatcher, target: Target)]) throws(RouteConflictError) {
        for i in routes.indices {
            for j in routes.indices where j > i && routes[i].matcher.conflicts(with: routes[j].matcher) {
                throw RouteConflictError(first: routes[i].name, second: routes[j].name, index: j)
            }
        }
        let indexed = routes.enumerated().map { (offset: $0.offset, route: $0.element) }
        entries = indexed.sorted { lhs, rhs in
            let (a, b) = (lhs.route.matcher.precedence, rhs.route.matcher.precedence)
            return a != b ? a < b : lhs.offset < rhs.offset
        }.map { Entry(name: $0.route.name, matcher: $0.route.matcher, target: $0.route.target) }
    }

    public func match(_ request: RouteRequest) -> RouteMatchResult<Target> {
        var allowed: [String] = []
        var pathMatched = false
        for entry in entries {
            guard entry.matcher.matchesHost(request.host), let parameters = entry.matcher.matchPath(request.path),
                entry.matcher.matchesHeaders(request.header)
            else { continue }
            if entry.matcher.matchesMethod(request.method) {
                return .matched(entry.target, parameters: parameters)
            }
            pathMatched = true
            allowed.append(contentsOf: entry.matcher.methods)
        }
        return pathMatched ? .methodNotAllowed(allowed: Array(Set(allowed)).sorted()) : .notFound
    }
}

public struct RouteConflictError: Error, Sendable, CustomStringConvertible {
    public var first: String
    public var second: String
    /// Index of the second route in the configured list.
    public var index: Int
    public var description: String {
        "route '\(second)' conflicts with route '\(first)': same path, host, headers and overlapping methods"
    }
}
