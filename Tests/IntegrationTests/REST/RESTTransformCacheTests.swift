// Body transformation, response caching and aggregation through a running rest-gateway, as a client
// sees them: shaped JSON, XML turned into JSON and back, cache hits with Age and the cache status
// header, and fan-out answers with missing parts named.
import Foundation
import GatewayCore
import NIOHTTP1
import Testing

@Suite("REST transforms, cache and aggregation", .serialized)
struct RESTTransformCacheTests {
    static func config(upstream: Int) -> String {
        """
        services:
          echo: { endpoints: ["http://127.0.0.1:\(upstream)"] }
          other: { endpoints: ["http://127.0.0.1:\(upstream)"] }
        gateways:
          rest:
            routes:
              - name: shaped
                match: { path: /shaped, methods: [POST] }
                service: echo
                rewrite: { path: /body }
                transform:
                  request: { deny: [password], rename: { user.name: fullName } }
                  response: { allow: [user, items.id], nest: data }
              - name: legacy-xml
                match: { path: /legacy, methods: [POST] }
                service: echo
                rewrite: { path: /body }
                transform:
                  request: { convert: jsonToXml, xmlRoot: order }
                  response: { convert: xmlToJson }
              - name: cached
                match: { path: /cached }
                service: echo
                rewrite: { path: /count }
                cache: { ttl: 30s }
              - name: cached-auth
                match: { path: /cached-auth }
                service: echo
                rewrite: { path: /count }
                cache: { ttl: 30s }
              - name: dashboard
                match: { path: "/dashboard/{id}" }
                aggregate:
                  backends:
                    - { service: echo, path: "/echo/users/{id}", key: user }
                    - { service: other, path: "/echo/orders?user={id}", key: orders }
                    - { service: other, path: /status/500, key: stock }
              - name: dashboard-strict
                match: { path: "/strict/{id}" }
                aggregate:
                  requireAll: true
                  backends:
                    - { service: echo, path: "/echo/users/{id}", key: user }
                    - { service: other, path: /delay/3000, key: slow, timeout: 200ms }
              - name: merged
                match: { path: /merged }
                aggregate:
                  merge: merged
                  backends:
                    - { service: echo, path: /count, key: a }
                    - { service: other, path: /echo/x, key: b }
        auth:
          apiKeys: [{ name: svc, key: k-123 }]
        """
    }

    static func json(_ reply: Resilience.Reply) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any])
    }

    @Test func jsonShapingOnBothSides() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        let body = #"{"password":"x","user":{"name":"Ada","id":7},"items":[{"id":1,"secret":"s"},{"id":2}]}"#
        let reply = try await Resilience.call(
            gateway.baseURL + "/shaped", method: .POST, headers: [("Content-Type", "application/json")],
            body: Array(body.utf8))
        #expect(reply.status == 200)
        // The upstream echoed the shaped request; the response was then shaped again.
        #expect(reply.text == #"{"data":{"items":[{"id":1},{"id":2}],"user":{"fullName":"Ada","id":7}}}"#)
        #expect(reply.headers.first(name: "content-length") == "\(reply.body.count)")
        let bad = try await Resilience.call(
            gateway.baseURL + "/shaped", method: .POST, headers: [("Content-Type", "application/json")],
            body: Array("{not json".utf8))
        #expect(bad.status == 400)
        #expect(bad.text.contains("the request body is not valid JSON"))
        await gateway.stop()
        upstream.stop()
    }

    @Test func xmlForALegacyService() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        // JSON in, XML to the service (echoed back as XML), JSON out again.
        let reply = try await Resilience.call(
            gateway.baseURL + "/legacy", method: .POST, headers: [("Content-Type", "application/json")],
            body: Array(#"{"id":"42","line":[{"sku":"a"},{"sku":"b"}]}"#.utf8))
        #expect(reply.status == 200)
        #expect(reply.headers.first(name: "content-type")?.hasPrefix("application/json") == true)
        #expect(reply.text == #"{"order":{"id":"42","line":[{"sku":"a"},{"sku":"b"}]}}"#)
        await gateway.stop()
        upstream.stop()
    }

    @Test func responsesAreCachedWithAgeAndStatus() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        let url = gateway.baseURL + "/cached?cc=max-age%3D60&vary=Accept-Language"
        let first = try await Resilience.call(url, headers: [("Accept-Language", "en")])
        #expect(first.headers.first(name: CacheStatus.headerName) == "MISS")
        let second = try await Resilience.call(url, headers: [("Accept-Language", "en")])
        #expect(second.headers.first(name: CacheStatus.headerName) == "HIT")
        #expect(second.text == first.text)
        #expect(second.headers.first(name: "age") != nil)
        #expect(second.headers.first(name: "x-request-id") != first.headers.first(name: "x-request-id"))
        // Vary: another language is another entry.
        let french = try await Resilience.call(url, headers: [("Accept-Language", "fr")])
        #expect(french.headers.first(name: CacheStatus.headerName) == "MISS")
        #expect(french.text != first.text)
        // The client can ask for a fresh answer.
        let fresh = try await Resilience.call(url, headers: [("Accept-Language", "en"), ("Cache-Control", "no-cache")])
        #expect(fresh.headers.first(name: CacheStatus.headerName) == "MISS")
        // only-if-cached: a stored response or 504, never the service.
        let onlyStored = try await Resilience.call(
            url, headers: [("Accept-Language", "de"), ("Cache-Control", "only-if-cached")])
        #expect(onlyStored.status == 504)
        #expect(
            try await Resilience.call(url, headers: [("Accept-Language", "en"), ("Cache-Control", "only-if-cached")])
                .status
                == 200)
        // no-store responses are never kept.
        let noStore = gateway.baseURL + "/cached?cc=no-store"
        _ = try await Resilience.call(noStore)
        #expect(try await Resilience.call(noStore).headers.first(name: CacheStatus.headerName) == "MISS")
        #expect(try await Resilience.metric(gateway, "portico_cache_lookups_total", ["route=\"cached\"", "hit"]) >= 1)
        // A successful unsafe request to the URL drops what is stored for it.
        let plain = gateway.baseURL + "/cached?cc=max-age%3D60"
        _ = try await Resilience.call(plain)
        #expect(try await Resilience.call(plain).headers.first(name: CacheStatus.headerName) == "HIT")
        #expect(try await Resilience.call(plain, method: .DELETE).status == 405)  // failed: nothing dropped
        #expect(try await Resilience.call(plain).headers.first(name: CacheStatus.headerName) == "HIT")
        #expect(try await Resilience.call(plain, method: .POST).status == 204)
        #expect(try await Resilience.call(plain).headers.first(name: CacheStatus.headerName) == "MISS")
        await gateway.stop()
        upstream.stop()
    }

    @Test func authorisedResponsesAreNotSharedUnlessPublic() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        let url = gateway.baseURL + "/cached-auth?cc=max-age%3D60"
        let key = ("X-API-Key", "k-123")
        #expect(try await Resilience.call(url, headers: [key]).headers.first(name: CacheStatus.headerName) == "BYPASS")
        #expect(try await Resilience.call(url, headers: [key]).headers.first(name: CacheStatus.headerName) == "BYPASS")
        let publicURL = gateway.baseURL + "/cached-auth?cc=public,max-age%3D60"
        _ = try await Resilience.call(publicURL, headers: [key])
        #expect(
            try await Resilience.call(publicURL, headers: [key]).headers.first(name: CacheStatus.headerName) == "HIT")
        await gateway.stop()
        upstream.stop()
    }

    @Test func aggregationWithAMissingPart() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        let reply = try await Resilience.call(gateway.baseURL + "/dashboard/42", headers: [("X-API-Key", "k-123")])
        #expect(reply.status == 207)
        #expect(reply.headers.first(name: "x-portico-missing") == "stock")
        let body = try Self.json(reply)
        #expect((body["user"] as? [String: Any])?["path"] as? String == "/echo/users/42")
        #expect((body["orders"] as? [String: Any])?["path"] as? String == "/echo/orders?user=42")
        #expect(body["stock"] == nil)
        // Identity reaches every backend.
        let headers = (body["user"] as? [String: Any])?["headers"] as? [String: [String]]
        #expect(headers?["x-portico-subject"] == ["svc"])
        await gateway.stop()
        upstream.stop()
    }

    @Test func requiredPartsAndMergedObjects() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        let strict = try await Resilience.call(gateway.baseURL + "/strict/1")
        #expect(strict.status == 504)
        #expect(strict.headers.first(name: "x-portico-missing") == "slow")
        #expect(strict.text.contains("a required part is missing"))
        let merged = try Self.json(try await Resilience.call(gateway.baseURL + "/merged"))
        #expect(merged["n"] != nil)  // from /count
        #expect(merged["method"] as? String == "GET")  // from /echo
        await gateway.stop()
        upstream.stop()
    }
}
