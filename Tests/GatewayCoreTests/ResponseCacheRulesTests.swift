// Which responses a shared cache may store and serve: response directives, Vary, Set-Cookie,
// credentials, statuses and the headers kept; plus the cache config keys and their checks.
import Foundation
import Testing

@testable import GatewayCore

@Suite struct ResponseCacheRulesTests {
    @Test func responseDirectivesThatForbidStoring() {
        let cache = makeTestCache(CacheTestClock())
        let cases: [(String, CacheSkipReason)] = [
            ("no-store", .noStore), ("private", .private), (#"private="Set-Cookie""#, .private),
            ("no-cache", .noCache), (#"no-cache="X-Secret", max-age=60"#, .noCache), ("max-age=60, no-store", .noStore),
        ]
        for (value, reason) in cases {
            #expect(
                storeBody(cache, cacheRequest(), headers: [("Cache-Control", value)]) == .notStored(reason), "\(value)")
        }
        #expect(
            storeBody(cache, cacheRequest(), headers: [("cache-control", "max-age=60"), ("Cache-Control", "private")])
                == .notStored(.private))
        #expect(
            storeBody(cache, cacheRequest(), headers: [("Set-Cookie", "a=b"), ("Cache-Control", "public, max-age=60")])
                == .notStored(.setCookie))
        #expect(storeBody(cache, cacheRequest(), headers: [("Vary", "Accept, *")]) == .notStored(.varyAll))
        #expect(cache.stats.stores == 0 && cache.lookup(cacheRequest(), config: .init()).isMiss)
    }

    @Test func varyKeepsOneVariantPerRequestHeaderValues() {
        let cache = makeTestCache(CacheTestClock())
        let vary: CacheHeaders = [("Vary", "Accept-Encoding"), ("vary", " accept ")]
        storeBody(
            cache, cacheRequest(headers: [("Accept-Encoding", "gzip,  br"), ("Accept", "application/json")]),
            headers: vary, body: "gzip-json")
        storeBody(
            cache, cacheRequest(headers: [("Accept-Encoding", "identity"), ("Accept", "application/json")]),
            headers: vary, body: "plain-json")
        storeBody(cache, cacheRequest(headers: [("Accept", "application/json")]), headers: vary, body: "none-json")
        func get(_ headers: CacheHeaders) -> String? {
            cache.lookup(cacheRequest(headers: headers), config: .init()).bodyText
        }
        #expect(get([("accept-encoding", "gzip, br"), ("ACCEPT", "application/json")]) == "gzip-json")
        #expect(get([("Accept-Encoding", " gzip ,br "), ("Accept", "application/json")]) == "gzip-json")
        #expect(get([("Accept-Encoding", "identity"), ("Accept", "application/json")]) == "plain-json")
        #expect(get([("Accept", "application/json")]) == "none-json")
        #expect(get([("Accept-Encoding", "gzip, br"), ("Accept", "text/html")]) == nil)
        #expect(get([("Accept-Encoding", "gzip, br")]) == nil)
        #expect(cache.stats.entries == 3)
    }

    @Test func variantsPerKeyAreBounded() {
        let cache = makeTestCache(CacheTestClock(), maxVariants: 2)
        for language in ["en", "fr", "de"] {
            storeBody(
                cache, cacheRequest(headers: [("Accept-Language", language)]), headers: [("Vary", "Accept-Language")],
                body: language)
        }
        func get(_ language: String) -> String? {
            cache.lookup(cacheRequest(headers: [("Accept-Language", language)]), config: .init()).bodyText
        }
        #expect(get("en") == nil)
        #expect(get("fr") == "fr" && get("de") == "de")
        #expect(cache.stats.entries == 2 && cache.stats.evictions == 1)
    }

    @Test func credentialedRequestsNeedPublicOrTheRouteFlag() {
        let cache = makeTestCache(CacheTestClock())
        let bearer = cacheRequest("/me", headers: [("Authorization", "Bearer t")])
        let keyed = cacheRequest("/me", headers: [("x-api-key", "k1")])
        // Nothing stored: credentialed requests bypass, anonymous ones miss.
        let first = cache.lookup(bearer, config: .init())
        #expect(first.bypassReason == .credentials && first.mayStore)
        #expect(cache.lookup(keyed, config: .init()).bypassReason == .credentials)
        #expect(storeBody(cache, bearer, headers: [("Cache-Control", "max-age=60")]) == .notStored(.authorization))
        #expect(storeBody(cache, keyed) == .notStored(.authorization))
        // Stored from an anonymous request without `public`: not shared with credentialed ones.
        storeBody(cache, cacheRequest("/me"), body: "anonymous")
        #expect(cache.lookup(bearer, config: .init()).bypassReason == .credentials)
        #expect(cache.lookup(cacheRequest("/me"), config: .init()).bodyText == "anonymous")
        // `public`, `s-maxage` or `must-revalidate` make it shareable (RFC 9111 §3.5).
        for directive in ["public", "s-maxage=60", "must-revalidate"] {
            #expect(storeBody(cache, bearer, headers: [("Cache-Control", directive)], body: directive) == .stored)
            #expect(cache.lookup(keyed, config: .init()).bodyText == directive)
        }
        // A route that is `authorized` stores and serves them all.
        let authorized = RouteCacheConfig(authorized: true, keyHeaders: ["authorization"])
        let other = cacheRequest("/mine", headers: [("Authorization", "Bearer u")])
        #expect(cache.lookup(other, config: authorized).isMiss)
        #expect(storeBody(cache, other, body: "u's", config: authorized) == .stored)
        #expect(cache.lookup(other, config: authorized).bodyText == "u's")
        #expect(
            cache.lookup(cacheRequest("/mine", headers: [("Authorization", "Bearer v")]), config: authorized).isMiss)
    }

    @Test func onlyTheRoutesStatusesAreStored() {
        let cache = makeTestCache(CacheTestClock())
        for status in [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501] {
            #expect(storeBody(cache, cacheRequest("/\(status)"), status: status) == .stored, "\(status)")
        }
        for status in [201, 206, 302, 304, 400, 403, 500, 502, 503] {
            #expect(storeBody(cache, cacheRequest("/\(status)"), status: status) == .notStored(.status), "\(status)")
        }
        let config = RouteCacheConfig(statuses: [200, 302])
        #expect(storeBody(cache, cacheRequest("/x"), status: 302, config: config) == .stored)
        #expect(storeBody(cache, cacheRequest("/y"), status: 404, config: config) == .notStored(.status))
        #expect(cache.lookup(cacheRequest("/404"), config: .init()).response?.status == 404)
    }

    @Test func hopByHopAgeAndExcludedHeadersAreNeitherStoredNorServed() {
        let cache = makeTestCache(CacheTestClock(), excluded: ["X-Request-Id"])
        storeBody(
            cache, cacheRequest(),
            headers: [
                ("Content-Type", "application/json"), ("Connection", "keep-alive, X-Hop"), ("Keep-Alive", "timeout=5"),
                ("Transfer-Encoding", "chunked"), ("TE", "trailers"), ("Trailer", "X-Sum"), ("Upgrade", "h2c"),
                ("Proxy-Authenticate", "Basic"), ("Proxy-Foo", "1"), ("X-Hop", "1"), ("x-request-id", "abc"),
                ("Age", "2"), ("ETag", "\"v1\""), ("Set-Cookie2", "legacy"),
            ])
        let names = cache.lookup(cacheRequest(), config: .init()).response?.headers.map(\.name)
        #expect(names == ["Content-Type", "ETag", "Set-Cookie2"])
    }

    @Test func configKeysHaveDefaultsAndBadValuesAreNamed() throws {
        let decoder = JSONDecoder()
        let route = try decoder.decode(RouteCacheConfig.self, from: Data("{}".utf8))
        #expect(route == RouteCacheConfig())
        #expect(route.ttl == .seconds(60) && route.maxEntrySize.bytes == 1 << 20 && route.methods == ["GET", "HEAD"])
        #expect(!route.authorized && route.statuses == RouteCacheConfig.defaultStatuses && route.keyHeaders.isEmpty)
        #expect(route.problems().isEmpty)
        let custom = try decoder.decode(
            RouteCacheConfig.self,
            from: Data(
                (#"{"ttl":"5m","maxEntrySize":"64KiB","methods":["get"],"authorized":true,"statuses":[200],"#
                    + #""keyHeaders":["X-Tenant"]}"#).utf8))
        #expect(custom.ttl == .seconds(300) && custom.maxEntrySize.bytes == 65_536 && custom.methods == ["GET"])
        #expect(custom.authorized && custom.statuses == [200] && custom.keyHeaders == ["x-tenant"])
        let bad = RouteCacheConfig(
            ttl: .milliseconds(500), maxEntrySize: .init(bytes: 0), methods: ["POST"], statuses: [206, 99],
            keyHeaders: ["bad header"])
        #expect(bad.problems().map(\.key) == ["ttl", "maxEntrySize", "methods", "statuses", "statuses", "keyHeaders"])
        #expect(bad.problems()[2].description == "methods: 'POST' cannot be cached (only GET and HEAD)")
        #expect(throws: DecodingError.self) {
            try decoder.decode(RouteCacheConfig.self, from: Data(#"{"ttl":"soon"}"#.utf8))
        }

        let store = try decoder.decode(CacheStoreConfig.self, from: Data("{}".utf8))
        #expect(store.maxSize.bytes == 64 << 20 && store.maxEntries == 10_000 && store.problems().isEmpty)
        let small = try decoder.decode(CacheStoreConfig.self, from: Data(#"{"maxSize":"1MiB","maxEntries":0}"#.utf8))
        #expect(small.maxSize.bytes == 1 << 20 && small.problems().map(\.key) == ["maxEntries"])
    }
}
