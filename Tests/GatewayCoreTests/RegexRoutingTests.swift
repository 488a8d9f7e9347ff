// Regex paths (whole-path match, named and numbered groups, precedence), regex rewrites and query
// parameter mapping.
import Testing

@testable import GatewayCore

@Suite("Regex routing and query mapping")
struct RegexRoutingTests {
    func table(_ routes: [(String, RouteMatchConfig)]) throws -> RouteTable<String> {
        try RouteTable(routes.map { (name: $0.0, matcher: try RouteMatcher(config: $0.1), target: $0.0) })
    }

    func regexRoute(_ pattern: String) -> RouteMatchConfig {
        var config = RouteMatchConfig()
        config.regex = pattern
        return config
    }

    func match(_ table: RouteTable<String>, _ path: String) -> (String?, [String: String]) {
        let request = RouteRequest(method: "GET", path: Substring(path), host: nil) { _ in nil }
        if case .matched(let name, let parameters) = table.match(request) { return (name, parameters) }
        return (nil, [:])
    }

    @Test func regexMatchesTheWholePathAndCapturesGroups() throws {
        let t = try table([("item", regexRoute("/items/(?<id>[0-9]+)(/(v[0-9]))?"))])
        #expect(match(t, "/items/42").0 == "item")
        #expect(match(t, "/items/42").1["id"] == "42")
        #expect(match(t, "/items/42/v2").1["3"] == "v2")
        #expect(match(t, "/items/abc").0 == nil)
        #expect(match(t, "/x/items/42").0 == nil)  // anchored at both ends
        #expect(match(t, "/items/42/extra").0 == nil)
    }

    @Test func regexSitsBetweenTemplatesAndPrefixes() throws {
        let t = try table([
            ("prefix", .init(prefix: "/items")), ("regex", regexRoute("/items/[0-9]+")),
            ("template", .init(path: "/items/{id}")), ("exact", .init(path: "/items/7")),
        ])
        #expect(match(t, "/items/7").0 == "exact")
        #expect(match(t, "/items/8").0 == "template")
        #expect(match(t, "/items/8/more").0 == "prefix")
        let r = try table([("prefix", .init(prefix: "/items")), ("regex", regexRoute("/items/[0-9]+/more"))])
        #expect(match(r, "/items/8/more").0 == "regex")
    }

    @Test func badRegexAndAmbiguousMatchesAreRefused() throws {
        #expect(throws: PathTemplateError.self) { try RouteMatcher(config: regexRoute("/items/(")) }
        var both = regexRoute("/a")
        both.path = "/a"
        #expect(throws: PathTemplateError.self) { try RouteMatcher(config: both) }
        #expect(throws: RouteConflictError.self) {
            try table([("one", regexRoute("/a/[0-9]+")), ("two", regexRoute("/a/[0-9]+"))])
        }
    }

    @Test func namedGroupNumbering() {
        let names = PathRegex.namedGroups(in: #"/(a)(?:b)(?<x>c)[(](?<y>d)\((e)"#)
        #expect(names == [2: "x", 3: "y"])
    }

    @Test func regexRewrite() throws {
        let rewrite = try RegexRewrite(pattern: "^/legacy/(?<kind>[a-z]+)/([0-9]+)$", replacement: "/v2/${kind}s/$2?$$")
        #expect(rewrite.apply("/legacy/user/42") == "/v2/users/42?$")
        #expect(rewrite.apply("/other") == "/other")
        #expect(throws: PathTemplateError.self) { try RegexRewrite(pattern: "(a)", replacement: "$2") }
        #expect(throws: PathTemplateError.self) { try RegexRewrite(pattern: "(a)", replacement: "${nope}") }
        #expect(throws: PathTemplateError.self) { try RegexRewrite(pattern: "[", replacement: "") }
    }

    @Test func queryMapping() {
        let mapping = QueryMappingConfig(
            rename: ["q": "search", "p": "page"], remove: ["debug"], set: ["version": "2", "user": "{id}"])
        let mapped = mapping.apply(to: "q=a%20b&debug=1&p=3&keep=x%26y&version=9", parameters: ["id": "u 1"])
        #expect(mapped == "search=a%20b&page=3&keep=x%26y&user=u%201&version=2")
        #expect(QueryMappingConfig(remove: ["a"]).apply(to: "a=1", parameters: [:]) == nil)
        #expect(QueryMappingConfig(set: ["v": "1"]).apply(to: nil, parameters: [:]) == "v=1")
    }
}
