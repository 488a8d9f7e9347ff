// Route policies of the REST gateway as a client sees them: header edits on the request (seen by the
// upstream) and the response, client IP allow/deny lists, and CORS preflights and responses.
import Foundation
import GatewayCore
import NIOHTTP1
import Testing

@Suite("REST route policies", .serialized)
struct RESTRoutePolicyTests {
    static func config(upstream: Int) -> String {
        """
        services:
          echo: { endpoints: ["http://127.0.0.1:\(upstream)"] }
        gateways:
          rest:
            routes:
              - name: edited
                match: { prefix: /edited }
                service: echo
                rewrite: { stripPrefix: /edited, addPrefix: /echo }
                headers:
                  request: { set: { X-Api-Version: "2" }, add: { X-Tag: added }, remove: [X-Debug] }
                  response: { set: { Cache-Control: no-store }, remove: [Content-Type] }
              - { name: local-only, match: { prefix: /local }, service: echo, rewrite: { stripPrefix: /local, addPrefix: /echo }, ipAllow: ["127.0.0.0/8", "::1"] }
              - { name: elsewhere, match: { prefix: /elsewhere }, service: echo, ipAllow: ["10.0.0.0/8"] }
              - { name: denied, match: { prefix: /denied }, service: echo, ipAllow: ["0.0.0.0/0"], ipDeny: ["127.0.0.1"] }
              - name: cors
                match: { prefix: /cors, methods: [GET, POST] }
                service: echo
                rewrite: { stripPrefix: /cors, addPrefix: /echo }
                cors: { allowOrigins: ["https://app.example.com"], allowHeaders: [Authorization, Content-Type], exposeHeaders: [X-Total], maxAge: 5m }
              - { name: by-query, match: { prefix: /edited, query: { v: "2" } }, service: echo, rewrite: { stripPrefix: /edited, addPrefix: /echo/v2 } }
              - { name: limited, match: { prefix: /limited }, service: echo, rewrite: { stripPrefix: /limited, addPrefix: /echo }, rateLimit: { requests: 3, per: 1m } }
        """
    }

    @Test func headerEditsReachTheUpstreamAndTheClient() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        let reply = try await Resilience.call(
            gateway.baseURL + "/edited/x", headers: [("X-Debug", "1"), ("X-Api-Version", "1"), ("X-Tag", "client")])
        #expect(reply.status == 200)
        let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(reply.body))
        #expect(echoed.headers["x-api-version"] == ["2"])
        #expect(echoed.headers["x-tag"] == ["client", "added"])
        #expect(echoed.headers["x-debug"] == nil)
        #expect(reply.headers.first(name: "cache-control") == "no-store")
        #expect(reply.headers.first(name: "content-type") == nil)
        await gateway.stop()
        upstream.stop()
    }

    @Test func queryConditionsPickTheRoute() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        let v2 = try JSONDecoder().decode(
            EchoedRequest.self, from: Data(try await Resilience.call(gateway.baseURL + "/edited/x?v=2").body))
        #expect(v2.path == "/echo/v2/x?v=2")
        let other = try JSONDecoder().decode(
            EchoedRequest.self, from: Data(try await Resilience.call(gateway.baseURL + "/edited/x?v=1").body))
        #expect(other.path == "/echo/x?v=1")
        await gateway.stop()
        upstream.stop()
    }

    @Test func clientAddressRules() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        #expect(try await Resilience.call(gateway.baseURL + "/local/x").status == 200)
        let elsewhere = try await Resilience.call(gateway.baseURL + "/elsewhere/x")
        #expect(elsewhere.status == 403)
        #expect(elsewhere.text.contains("permission_denied"))
        #expect(try await Resilience.call(gateway.baseURL + "/denied/x").status == 403)
        await gateway.stop()
        upstream.stop()
    }

    @Test func corsPreflightAndResponses() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        let origin = ("Origin", "https://app.example.com")
        let preflight = try await Resilience.call(
            gateway.baseURL + "/cors/items", method: .OPTIONS,
            headers: [
                origin, ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "content-type"),
            ])
        #expect(preflight.status == 204)
        #expect(preflight.headers.first(name: "access-control-allow-origin") == "https://app.example.com")
        #expect(preflight.headers.first(name: "access-control-allow-methods") == "GET, POST")
        #expect(preflight.headers.first(name: "access-control-allow-headers") == "Authorization, Content-Type")
        #expect(preflight.headers.first(name: "access-control-max-age") == "300")
        #expect(preflight.body.isEmpty)

        // A method the route does not take, and an origin it does not trust, are refused.
        let badMethod = try await Resilience.call(
            gateway.baseURL + "/cors/items", method: .OPTIONS,
            headers: [origin, ("Access-Control-Request-Method", "DELETE")])
        #expect(badMethod.status == 405 || badMethod.status == 403)
        let stranger = try await Resilience.call(
            gateway.baseURL + "/cors/items", method: .OPTIONS,
            headers: [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "GET")])
        #expect(stranger.status == 403)
        #expect(stranger.headers.first(name: "access-control-allow-origin") == nil)

        let actual = try await Resilience.call(gateway.baseURL + "/cors/items", headers: [origin])
        #expect(actual.status == 200)
        #expect(actual.headers.first(name: "access-control-allow-origin") == "https://app.example.com")
        #expect(actual.headers["vary"].contains { $0.contains("Origin") })
        #expect(actual.headers.first(name: "access-control-expose-headers") == "X-Request-Id, X-Total")
        let noOrigin = try await Resilience.call(gateway.baseURL + "/cors/items")
        #expect(noOrigin.headers.first(name: "access-control-allow-origin") == nil)
        await gateway.stop()
        upstream.stop()
    }

    @Test func rateLimitsAnswer429WithTheirHeaders() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        var remaining: [String?] = []
        for _ in 0..<3 {
            let reply = try await Resilience.call(gateway.baseURL + "/limited/x")
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "ratelimit-limit") == "3")
            remaining.append(reply.headers.first(name: "ratelimit-remaining"))
        }
        #expect(remaining == ["2", "1", "0"])
        let refused = try await Resilience.call(gateway.baseURL + "/limited/x")
        #expect(refused.status == 429)
        #expect(refused.text.contains("rate_limited"))
        // One token per 20 s: about 20 s to wait (less if the calls above took a while).
        #expect(refused.headers.first(name: "retry-after").flatMap { Int($0) }.map { (1...20).contains($0) } == true)
        #expect(refused.headers.first(name: "ratelimit-policy") == "3;w=60")
        // Other routes are not limited.
        #expect(try await Resilience.call(gateway.baseURL + "/edited/x").status == 200)
        await gateway.stop()
        upstream.stop()
    }

    @Test func trustedProxiesNameTheClient() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  echo: { endpoints: ["http://127.0.0.1:\(upstream.port)"] }
                gateways:
                  rest:
                    trustedProxies: ["127.0.0.0/8"]
                    routes:
                      - { name: echo, match: { prefix: /echo }, service: echo, ipDeny: ["203.0.113.0/24"], rateLimit: { requests: 1, per: 1m } }
                """)
        let proxied = try await Resilience.call(
            gateway.baseURL + "/echo/a",
            headers: [
                ("X-Forwarded-For", "198.51.100.7"), ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "shop.example.com"),
            ])
        #expect(proxied.status == 200)
        let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(proxied.body))
        #expect(echoed.header("x-forwarded-for") == "198.51.100.7, 127.0.0.1")
        #expect(echoed.header("x-forwarded-proto") == "https")
        #expect(echoed.header("x-forwarded-host") == "shop.example.com")
        // Rate limits and IP rules see the forwarded client, not the proxy.
        #expect(
            try await Resilience.call(gateway.baseURL + "/echo/a", headers: [("X-Forwarded-For", "198.51.100.8")])
                .status == 200)
        #expect(
            try await Resilience.call(gateway.baseURL + "/echo/a", headers: [("X-Forwarded-For", "198.51.100.7")])
                .status == 429)
        #expect(
            try await Resilience.call(gateway.baseURL + "/echo/a", headers: [("X-Forwarded-For", "203.0.113.5")]).status
                == 403)
        await gateway.stop()
        upstream.stop()
    }

    @Test func badPoliciesAreRefusedAtLoad() {
        func errors(_ route: String) -> [ConfigError] {
            let yaml =
                "services:\n  s: { endpoints: [\"http://127.0.0.1:1\"] }\ngateways:\n  rest:\n    routes:\n      - \(route)\n"
            do {
                _ = try ConfigLoader.load(text: yaml, fileName: "t.yaml")
                return []
            } catch {
                return error.errors
            }
        }
        let identity = errors(
            "{ name: r, match: { prefix: /r }, service: s, headers: { request: { set: { X-Portico-Subject: admin } } } }"
        )
        #expect(identity.first?.path == "gateways.rest.routes[0].headers.request")
        let hop = errors(
            "{ name: r, match: { prefix: /r }, service: s, headers: { response: { remove: [Connection] } } }")
        #expect(hop.first?.path == "gateways.rest.routes[0].headers.response")
        let cidr = errors("{ name: r, match: { prefix: /r }, service: s, ipAllow: [\"10.0.0.0/33\"] }")
        #expect(cidr.first?.path == "gateways.rest.routes[0].ipAllow[0]")
        let wildcard = errors(
            "{ name: r, match: { prefix: /r }, service: s, cors: { allowOrigins: [\"*\"], allowCredentials: true } }")
        #expect(wildcard.first?.path == "gateways.rest.routes[0].cors.allowCredentials")
        let zero = errors("{ name: r, match: { prefix: /r }, service: s, rateLimit: { requests: 0, per: 1s } }")
        #expect(zero.first?.path == "gateways.rest.routes[0].rateLimit.requests")
    }
}

@Suite("REST size limits", .serialized)
struct RESTSizeLimitTests {
    @Test func routesSetTheirOwnRequestAndResponseLimits() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start(
            "rest",
            configYAML: """
                services:
                  echo: { endpoints: ["http://127.0.0.1:\(upstream.port)"] }
                limits:
                  maxRequestBodySize: 64KiB
                gateways:
                  rest:
                    routes:
                      - { name: uploads, match: { prefix: /uploads }, service: echo, rewrite: { stripPrefix: /uploads, addPrefix: /echo }, maxRequestBodySize: 256KiB }
                      - { name: small, match: { prefix: /small }, service: echo, rewrite: { stripPrefix: /small, addPrefix: /echo }, maxRequestBodySize: 1KiB }
                      - { name: capped, match: { prefix: /stream }, service: echo, maxResponseBodySize: 8KiB }
                """)
        let body = [UInt8](repeating: 7, count: 100 << 10)
        #expect(try await Resilience.call(gateway.baseURL + "/uploads/x", method: .POST, body: body).status == 200)
        let small = try await Resilience.call(
            gateway.baseURL + "/small/x", method: .POST, body: [UInt8](repeating: 1, count: 2048))
        #expect(small.status == 413)
        #expect(small.text.contains("1KiB"))
        // Within the cap the response passes; a streamed one past it is cut short.
        #expect(try await Resilience.call(gateway.baseURL + "/stream/4").body.count == 4096)
        await #expect(throws: (any Error).self) {
            let reply = try await Resilience.call(gateway.baseURL + "/stream/64")
            if reply.body.count < 64 << 10 { throw CancellationError() }
        }
        await gateway.stop()
        upstream.stop()
    }
}

@Suite("REST regex routes and query mapping", .serialized)
struct RESTRegexRouteTests {
    static func config(upstream: Int) -> String {
        """
        services:
          echo: { endpoints: ["http://127.0.0.1:\(upstream)"] }
        gateways:
          rest:
            routes:
              - name: legacy
                match: { regex: "/legacy/(?<kind>user|order)/(?<id>[0-9]+)" }
                service: echo
                rewrite:
                  regex: { pattern: "^/legacy/([a-z]+)/([0-9]+)$", replacement: "/echo/v2/$1s/$2" }
                  query: { rename: { q: search }, remove: [debug], set: { kind: "{kind}" } }
              - { name: numbered, match: { regex: "/n/([0-9]+)" }, service: echo, rewrite: { path: "/echo/number/{1}" } }
        """
    }

    @Test func regexPathsRewriteAndQueryMapping() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        let reply = try await Resilience.call(gateway.baseURL + "/legacy/user/42?q=bob&debug=1&page=2")
        #expect(reply.status == 200)
        let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(reply.body))
        #expect(echoed.path == "/echo/v2/users/42?search=bob&page=2&kind=user")
        #expect(try await Resilience.call(gateway.baseURL + "/legacy/robot/42").status == 404)
        let numbered = try JSONDecoder().decode(
            EchoedRequest.self, from: Data(try await Resilience.call(gateway.baseURL + "/n/7").body))
        #expect(numbered.path == "/echo/number/7")
        await gateway.stop()
        upstream.stop()
    }

    @Test func badRegexIsRefusedAtLoad() throws {
        let yaml = Self.config(upstream: 1).replacingOccurrences(of: "(?<id>[0-9]+)\"", with: "(?<id>[0-9]+\"")
        #expect(throws: (any Error).self) { try ConfigLoader.load(text: yaml, fileName: "t.yaml") }
    }
}
