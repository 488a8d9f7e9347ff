// What a request must look like to take a route: path (template or prefix), methods, host and
// headers. Pure and protocol-neutral; every gateway matches with these.

/// The parts of a request that routing looks at.
public struct RouteRequest {
    /// Header lookups for names starting with this are query parameter lookups.
    public static let queryPrefix = "?"

    public var method: String
    /// The path without the query string, already normalised.
    public var path: Substring
    /// The `Host` (or `:authority`) without port, lower-cased.
    public var host: String?
    public var header: (String) -> String?

    public init(method: String, path: Substring, host: String?, header: @escaping (String) -> String?) {
        self.method = method
        self.path = path
        self.host = host
        self.header = header
    }
}

/// A compiled route condition.
public struct RouteMatcher: Sendable {
    public enum PathMatch: Sendable {
        case template(PathTemplate)
        case prefix(String)
        /// A regular expression over the whole path.
        case regex(PathRegex)
    }

    public var path: PathMatch
    /// Upper-case methods; empty matches any.
    public var methods: Set<String>
    /// Exact host or `*.suffix`; lower-case.
    public var host: String?
    /// Header name (lower-case) to exact value.
    public var headers: [(name: String, value: String)]

    public init(path: PathMatch, methods: Set<String> = [], host: String? = nil, headers: [(String, String)] = []) {
        self.path = path
        self.methods = Set(methods.map { $0.uppercased() })
        self.host = host?.lowercased()
        self.headers = headers.map { (name: $0.0.lowercased(), value: $0.1) }.sorted { $0.name < $1.name }
    }

    /// Builds a matcher from its config, or says what is wrong.
    public init(config: RouteMatchConfig) throws(PathTemplateError) {
        if let regex = config.regex {
            guard config.path == nil && config.prefix == nil else {
                throw PathTemplateError("a route takes one of 'path', 'prefix' or 'regex'")
            }
            self.path = .regex(try PathRegex(regex))
        } else {
            self.path = try Self.pathMatch(path: config.path, prefix: config.prefix)
        }
        let tokenCharacters = Set("!#$%&'*+-.^_`|~ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        for method in config.methods where method.isEmpty || !method.uppercased().allSatisfy(tokenCharacters.contains) {
            throw PathTemplateError("'\(method)' is not an HTTP method")
        }
        self.methods = Set(config.methods.map { $0.uppercased() })
        self.host = config.host?.lowercased()
        // Query conditions ride along as headers named `?name`: a request's lookup answers them from its
        // query string, so precedence and conflict detection treat them alike.
        self.headers =
            (config.headers.map { (name: $0.key.lowercased(), value: $0.value) }
            + config.query.map { (name: RouteRequest.queryPrefix + $0.key, value: $0.value) })
            .sorted { $0.name < $1.name }
    }

    static func pathMatch(path: String?, prefix: String?) throws(PathTemplateError) -> PathMatch {
        switch (path, prefix) {
        case (let path?, nil):
            switch PathTemplate.parse(path) {
            case .success(let template): return .template(template)
            case .failure(let error): throw error
            }
        case (nil, let prefix?):
            guard prefix.hasPrefix("/") else { throw PathTemplateError("a prefix must start with '/'") }
            var normalized = prefix
            while normalized.count > 1 && normalized.hasSuffix("/") { normalized.removeLast() }
            return .prefix(normalized)
        case (nil, nil):
            throw PathTemplateError("a route needs 'path', 'prefix' or 'regex'")
        case (.some, .some):
            throw PathTemplateError("a route takes 'path' or 'prefix', not both")
        }
    }

    /// Path parameters when the path matches, nil otherwise.
    public func matchPath(_ path: Substring) -> [String: String]? {
        switch self.path {
        case .template(let template):
            return template.match(path)
        case .prefix(let prefix):
            // Compared as UTF-8 bytes: paths on the wire are ASCII (percent-encoded), and the
            // Character-based `hasPrefix`/`dropFirst` showed in the request path's profile.
            if prefix == "/" { return [:] }
            let bytes = path.utf8
            guard bytes.starts(with: prefix.utf8) else { return nil }
            let rest = bytes.index(bytes.startIndex, offsetBy: prefix.utf8.count)
            return rest == bytes.endIndex || bytes[rest] == UInt8(ascii: "/") ? [:] : nil
        case .regex(let regex):
            return regex.match(path)
        }
    }

    public func matchesHost(_ requestHost: String?) -> Bool {
        guard let host else { return true }
        guard let requestHost else { return false }
        if host.hasPrefix("*.") {
            return requestHost.hasSuffix(host.dropFirst(1)) && requestHost.count > host.count - 1
        }
        return requestHost == host
    }

    public func matchesHeaders(_ header: (String) -> String?) -> Bool {
        headers.allSatisfy { $0.value == "*" ? header($0.name) != nil : header($0.name) == $0.value }
    }

    public func matchesMethod(_ method: String) -> Bool {
        methods.isEmpty || methods.contains(method) || (method == "HEAD" && methods.contains("GET"))
    }

    // MARK: precedence

    /// Sort key: smaller sorts first. See docs/routing.md, "Precedence".
    var precedence: (Int, Int, Int, Int, Int, Int) {
        let pathClass: Int
        let literals: Int
        let prefixLength: Int
        switch path {
        case .template(let template):
            pathClass = template.isExact ? 0 : (template.wildcard == nil ? 1 : 3)
            literals = template.literalCount
            prefixLength = 0
        case .regex:
            // Regex paths come after templates and before prefixes; among themselves, file order.
            pathClass = 2
            literals = 0
            prefixLength = 0
        case .prefix(let prefix):
            pathClass = 3
            literals = prefix.split(separator: "/").count
            prefixLength = prefix.count
        }
        let hostRank = host == nil ? 2 : (host!.hasPrefix("*.") ? 1 : 0)
        return (pathClass, -literals, -prefixLength, hostRank, -headers.count, methods.isEmpty ? 1 : 0)
    }

    /// Two matchers conflict when some request would match both and precedence cannot tell them apart.
    func conflicts(with other: RouteMatcher) -> Bool {
        guard shape == other.shape, host == other.host,
            headers.map({ "\($0.name)=\($0.value)" }) == other.headers.map({ "\($0.name)=\($0.value)" })
        else { return false }
        if methods.isEmpty || other.methods.isEmpty { return methods.isEmpty == other.methods.isEmpty }
        return !methods.isDisjoint(with: other.methods)
    }

    private var shape: String {
        switch path {
        case .template(let template): return template.shape
        case .prefix(let prefix): return prefix == "/" ? "/*" : prefix + "/*"
        case .regex(let regex): return regex.description
        }
    }

    public var pathDescription: String {
        switch path {
        case .template(let template): return template.description
        case .prefix(let prefix): return prefix == "/" ? "/*" : prefix + "/*"
        case .regex(let regex): return regex.description
        }
    }
}
