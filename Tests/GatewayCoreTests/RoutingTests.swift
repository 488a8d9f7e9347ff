// Route matching: templates, wildcards, prefixes, matchers and the documented precedence.
import Testing

@testable import GatewayCore

@Suite("Routing")
struct RoutingTests {
    func table(_ routes: [(String, RouteMatchConfig)]) throws -> RouteTable<String> {
        try RouteTable(routes.map { (name: $0.0, matcher: try RouteMatcher(config: $0.1), target: $0.0) })
    }

    func match(
        _ table: RouteTable<String>, _ method: String, _ path: String, host: String? = nil,
        headers: [String: String] = [:]
    ) -> (String?, [String: String]) {
        let request = RouteRequest(method: method, path: Substring(path), host: host) { headers[$0] }
        if case .matched(let name, let parameters) = table.match(request) { return (name, parameters) }
        return (nil, [:])
    }

    @Test func templateParameters() throws {
        let t = try table([
            ("user", .init(path: "/users/{id}")), ("orders", .init(path: "/users/{id}/orders/{orderId}")),
        ])
        #expect(match(t, "GET", "/users/42").0 == "user")
        #expect(match(t, "GET", "/users/42").1 == ["id": "42"])
        #expect(match(t, "GET", "/users/a%20b").1 == ["id": "a b"])
        #expect(match(t, "GET", "/users/42/orders/7").1 == ["id": "42", "orderId": "7"])
        #expect(match(t, "GET", "/users").0 == nil)
        #expect(match(t, "GET", "/users/42/").0 == "user")
    }

    @Test func wildcardsAndPrefixes() throws {
        let t = try table([
            ("files", .init(path: "/files/{path...}")), ("static", .init(path: "/static/*")),
            ("api", .init(prefix: "/api")),
        ])
        #expect(match(t, "GET", "/files/a/b/c.txt").1 == ["path": "a/b/c.txt"])
        #expect(match(t, "GET", "/static/x/y").0 == "static")
        #expect(match(t, "GET", "/api").0 == "api")
        #expect(match(t, "GET", "/api/v1/things").0 == "api")
        #expect(match(t, "GET", "/apix").0 == nil)
    }

    @Test func precedenceIsDeterministic() throws {
        // Listed in the opposite order of precedence: the table must still pick the most specific.
        let t = try table([
            ("catch-all", .init(prefix: "/")),
            ("api-prefix", .init(prefix: "/api")),
            ("deep-prefix", .init(prefix: "/api/users")),
            ("template", .init(path: "/api/users/{id}")),
            ("exact", .init(path: "/api/users/me")),
        ])
        #expect(match(t, "GET", "/api/users/me").0 == "exact")
        #expect(match(t, "GET", "/api/users/7").0 == "template")
        #expect(match(t, "GET", "/api/users/7/x").0 == "deep-prefix")
        #expect(match(t, "GET", "/api/other").0 == "api-prefix")
        #expect(match(t, "GET", "/elsewhere").0 == "catch-all")
    }

    @Test func hostHeaderAndMethodMatchers() throws {
        let t = try table([
            ("any", .init(path: "/x")),
            ("host", .init(path: "/x", host: "api.example.com")),
            ("wild", .init(path: "/x", host: "*.example.com")),
            ("header", .init(path: "/x", host: "api.example.com", headers: ["x-version": "2"])),
            ("post", .init(path: "/y", methods: ["POST"])),
        ])
        #expect(match(t, "GET", "/x").0 == "any")
        #expect(match(t, "GET", "/x", host: "api.example.com").0 == "host")
        #expect(match(t, "GET", "/x", host: "api.example.com", headers: ["x-version": "2"]).0 == "header")
        #expect(match(t, "GET", "/x", host: "eu.example.com").0 == "wild")
        #expect(match(t, "GET", "/x", host: "example.com").0 == "any")
        let request = RouteRequest(method: "GET", path: "/y", host: nil) { _ in nil }
        guard case .methodNotAllowed(let allowed) = t.match(request) else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed == ["POST"])
    }

    @Test func conflictsAreRejected() {
        #expect(throws: RouteConflictError.self) {
            _ = try table([("a", .init(path: "/u/{id}")), ("b", .init(path: "/u/{x}"))])
        }
        #expect(throws: RouteConflictError.self) {
            _ = try table([
                ("a", .init(path: "/u", methods: ["GET", "PUT"])), ("b", .init(path: "/u", methods: ["PUT"])),
            ])
        }
        // Different methods, hosts or headers do not conflict.
        #expect(throws: Never.self) {
            _ = try table([("a", .init(path: "/u", methods: ["GET"])), ("b", .init(path: "/u", methods: ["POST"]))])
            _ = try table([("a", .init(path: "/u")), ("b", .init(path: "/u", host: "h"))])
        }
    }

    @Test func badTemplatesAreExplained() {
        #expect((try? RouteMatcher(config: .init(path: "users"))) == nil)
        #expect((try? RouteMatcher(config: .init(path: "/a/*/b"))) == nil)
        #expect((try? RouteMatcher(config: .init(path: "/a/{id}/{id}"))) == nil)
        #expect((try? RouteMatcher(config: .init(path: "/a/x{id}"))) == nil)
        #expect((try? RouteMatcher(config: .init(path: "/a", prefix: "/b"))) == nil)
        #expect((try? RouteMatcher(config: .init(path: "/a", methods: ["G E T"]))) == nil)
    }

    @Test func pathNormalisation() {
        #expect(PathNormalizer.normalize("/api/users") == "/api/users")
        #expect(PathNormalizer.normalize("/api//users") == "/api/users")
        #expect(PathNormalizer.normalize("/api/./users/../admin") == "/api/admin")
        #expect(PathNormalizer.normalize("/api/%2e%2e/admin") == "/admin")
        #expect(PathNormalizer.normalize("/api/%61dmin") == "/api/admin")
        #expect(PathNormalizer.normalize("/a%2Fb") == "/a%2Fb")
        #expect(PathNormalizer.normalize("/../etc/passwd") == nil)
        #expect(PathNormalizer.normalize("/a%00") == nil)
        #expect(PathNormalizer.normalize("/a%zz") == nil)
    }

    @Test func templateRendering() throws {
        let template = try PathTemplate.parse("/users/{id}").get()
        #expect(template.render(["id": "a b"]) == "/users/a%20b")
    }

    @Test func queryAndPresenceConditions() throws {
        let t = try table([
            ("v2", .init(prefix: "/items", query: ["version": "2"])),
            ("debug", .init(prefix: "/items", headers: ["x-debug": "*"])),
            ("any-filter", .init(prefix: "/items", query: ["filter": "*"])),
            ("plain", .init(prefix: "/items")),
        ])
        func lookup(_ query: Substring?, _ headers: [String: String] = [:]) -> (String) -> String? {
            { name in
                name.hasPrefix(RouteRequest.queryPrefix)
                    ? QueryString.value(of: String(name.dropFirst()), in: query) : headers[name]
            }
        }
        func route(_ query: Substring?, _ headers: [String: String] = [:]) -> String? {
            let request = RouteRequest(method: "GET", path: "/items", host: nil, header: lookup(query, headers))
            if case .matched(let name, _) = t.match(request) { return name }
            return nil
        }
        #expect(route("version=2") == "v2")
        #expect(route("a=1&version=2") == "v2")
        #expect(route("version=3") == "plain")
        #expect(route("filter=") == "any-filter")
        #expect(route(nil, ["x-debug": "yes"]) == "debug")
        #expect(route(nil) == "plain")
        #expect(QueryString.value(of: "q", in: "q=a+b%21") == "a b!")
        #expect(QueryString.value(of: "flag", in: "flag") == "")
        // The same query condition twice on one path is a conflict.
        #expect(throws: (any Error).self) {
            try table([
                ("a", .init(prefix: "/x", query: ["v": "1"])), ("b", .init(prefix: "/x", query: ["v": "1"])),
            ])
        }
    }
}
