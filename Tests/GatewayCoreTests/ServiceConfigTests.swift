// The `services` section: every policy key decodes, defaults are the documented ones, and bad values
// are refused with the key path that names them.
import Foundation
import Testing

@testable import GatewayCore

@Suite struct ServiceConfigTests {
    func load(_ yaml: String) throws -> PorticoConfig {
        try ConfigLoader.load(text: yaml, fileName: "test.yaml").config
    }

    func errors(_ yaml: String) -> [ConfigError] {
        do {
            _ = try ConfigLoader.load(text: yaml, fileName: "test.yaml")
            return []
        } catch {
            return error.errors
        }
    }

    @Test func everyKeyDecodes() throws {
        let config = try load(
            """
            services:
              users:
                endpoints:
                  - http://127.0.0.1:9101
                  - { url: "http://users.internal:9102/v1", weight: 3 }
                discovery: { refreshInterval: 5s, srv: _http._tcp.users.internal, nameservers: ["127.0.0.1:5353"] }
                loadBalancing: ringHash
                hashOn: header:X-User-Id
                connectTimeout: 500ms
                requestTimeout: 4s
                maxConnectionsPerEndpoint: 16
                idleTimeout: 30s
                failureStatuses: [502, 503]
                healthCheck: { path: /ready, expectedStatuses: [200, 204], interval: 3s, timeout: 1s, healthyThreshold: 1, unhealthyThreshold: 2 }
                whenAllUnhealthy: panic
                outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 10s, maxEjectionTime: 60s, maxEjectionPercent: 34 }
                circuitBreaker: { maxConcurrentRequests: 100, maxPendingRequests: 10, maxConcurrentRetries: 4, consecutiveFailures: 5, openDuration: 2s, halfOpenRequests: 2 }
                retry: { attempts: 3, retryOn: [connectFailure, timeout], statuses: [502, 503], grpcStatuses: [UNAVAILABLE, RESOURCE_EXHAUSTED], backoff: { base: 10ms, max: 100ms }, perTryTimeout: 1s, nonIdempotent: true, maxBufferedBody: 8KiB }
                retryBudget: { percent: 10, minConcurrency: 1 }
            """)
        let users = try #require(config.services["users"])
        #expect(users.endpoints.map(\.weight) == [1, 3])
        #expect(users.endpoints[1].url.basePath == "/v1")
        #expect(users.discovery?.srv == "_http._tcp.users.internal")
        #expect(users.hashOn == .header("x-user-id"))
        #expect(users.healthCheck?.accepts(status: 204) == true)
        #expect(users.healthCheck?.accepts(status: 201) == false)
        #expect(users.whenAllUnhealthy == .panic)
        #expect(users.outlierDetection.maxEjectionPercent == 34)
        #expect(users.circuitBreaker.halfOpenRequests == 2)
        #expect(users.retry.grpcStatuses.map(\.code) == [14, 8])
        #expect(users.retry.maxBufferedBody.bytes == 8 << 10)
        #expect(users.retryBudget.percent == 10)
    }

    @Test func defaultsAreSafe() throws {
        let users = try #require(
            try load("services:\n  users:\n    endpoints: [\"http://127.0.0.1:9101\"]\n").services["users"])
        #expect(users.loadBalancing == .roundRobin)
        #expect(users.healthCheck == nil)
        #expect(users.outlierDetection.enabled && users.outlierDetection.consecutiveFailures == 5)
        #expect(users.retry.attempts == 2)
        #expect(users.retry.retryOn == [.connectFailure, .reset])
        #expect(users.retry.statuses == [503])
        #expect(!users.retry.nonIdempotent)
        #expect(users.failureStatuses == [502, 503, 504])
        #expect(users.circuitBreaker.consecutiveFailures == 20)
    }

    @Test func badValuesAreRefusedByPath() {
        let cases: [(String, String, String)] = [
            ("loadBalancing: ringHash", "services.s.hashOn", "needs hashOn"),
            ("hashOn: header:x", "services.s.hashOn", "only used with"),
            ("hashOn: body", "services.s.hashOn", "not a hash key"),
            ("retry: { attempts: 0 }", "services.s.retry.attempts", "between 1 and 10"),
            ("retry: { backoff: { base: 1s, max: 10ms } }", "services.s.retry.backoff.max", "not be shorter"),
            ("retry: { retryOn: [always] }", "services.s.retry.retryOn[0]", ""),
            (
                "healthCheck: { interval: 1s, timeout: 2s }", "services.s.healthCheck.timeout",
                "longer than the interval"
            ),
            ("healthCheck: { path: healthz }", "services.s.healthCheck.path", "must start with /"),
            ("healthCheck: { type: grpc }", "services.s.healthCheck.type", "protocol grpc or http2"),
            (
                "outlierDetection: { maxEjectionPercent: 120 }", "services.s.outlierDetection.maxEjectionPercent",
                "0 and 100"
            ),
            ("circuitBreaker: { halfOpenRequests: 0 }", "services.s.circuitBreaker.halfOpenRequests", "at least 1"),
            ("failureStatuses: [404]", "services.s.failureStatuses", "not a 5xx"),
            ("tls: { certificate: /tmp/x.pem }", "services.s.tls", ""),
            ("discovery: { nameservers: [\"dns.local:53\"] }", "services.s.discovery.nameservers[0]", "IP address"),
            ("discovery: { nameservers: [\"a:b:c\"] }", "services.s.discovery.nameservers[0]", "IP address"),
            ("circuitBreaker: { maxPendingRequests: 0 }", "services.s.circuitBreaker.maxPendingRequests", "at least 1"),
        ]
        for (line, path, message) in cases {
            let found = errors("services:\n  s:\n    endpoints: [\"http://127.0.0.1:9101\"]\n    \(line)\n")
            #expect(
                found.contains { $0.path == path && (message.isEmpty || $0.message.contains(message)) },
                "\(line): \(found)")
        }
    }

    @Test func endpointsNeedOneOrSRVAndValidWeights() {
        let none = errors("services:\n  s:\n    endpoints: []\n")
        #expect(none.first?.path == "services.s.endpoints")
        let srv = errors(
            "services:\n  s:\n    discovery: { srv: _http._tcp.s.internal, nameservers: [\"127.0.0.1:53\", \"[::1]:53\"] }\n"
        )
        #expect(srv.isEmpty)
        let weight = errors("services:\n  s:\n    endpoints: [{ url: \"http://a:1\", weight: 0 }]\n")
        #expect(weight.first?.path == "services.s.endpoints[0].weight")
        let url = errors("services:\n  s:\n    endpoints: [\"ftp://a:1\"]\n")
        #expect(url.first?.message.contains("not a valid endpoint URL") == true)
    }

    @Test func tlsFilesMustExistAndAreMadeAbsolute() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portico-tls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("x".utf8).write(to: directory.appendingPathComponent("ca.pem"))
        let yaml = "services:\n  s:\n    endpoints: [\"https://a:443\"]\n    tls: { ca: ca.pem }\n"
        let loaded = try ConfigLoader.load(text: yaml, fileName: "t.yaml", baseDirectory: directory.path)
        #expect(loaded.config.services["s"]?.tls?.ca == directory.appendingPathComponent("ca.pem").path)
        let missing = errors(
            "services:\n  s:\n    endpoints: [\"https://a:443\"]\n    tls: { ca: /nonexistent/ca.pem }\n")
        #expect(missing.first?.path == "services.s.tls.ca")
        let unused = errors("services:\n  s:\n    endpoints: [\"http://a:80\"]\n    tls: {}\n")
        #expect(unused.first?.message.contains("no endpoint uses https") == true)
    }

    @Test func routesMayOverrideRetry() throws {
        let config = try load(
            """
            services:
              s: { endpoints: ["http://127.0.0.1:1"] }
            gateways:
              rest:
                routes:
                  - { name: r, match: { prefix: /s }, service: s, retry: { attempts: 3, statuses: [502] } }
            """)
        #expect(config.gateways.rest.routes[0].retry?.attempts == 3)
        let bad = errors(
            """
            services:
              s: { endpoints: ["http://127.0.0.1:1"] }
            gateways:
              rest:
                routes:
                  - { name: r, match: { prefix: /s }, service: s, retry: { attempts: 11 } }
            """)
        #expect(bad.first?.path == "gateways.rest.routes[0].retry.attempts")
    }
}

@Suite struct IPRangeTests {
    @Test func cidrBlocksMatchTheirAddresses() throws {
        let ten = try #require(IPRange("10.0.0.0/8"))
        #expect(ten.contains(IPRange.bytes(of: "10.200.3.4")!))
        #expect(!ten.contains(IPRange.bytes(of: "11.0.0.1")!))
        let one = try #require(IPRange("192.168.1.7"))
        #expect(one.contains(IPRange.bytes(of: "192.168.1.7")!))
        #expect(!one.contains(IPRange.bytes(of: "192.168.1.8")!))
        let v6 = try #require(IPRange("2001:db8::/32"))
        #expect(v6.contains(IPRange.bytes(of: "2001:db8:1::5")!))
        #expect(!v6.contains(IPRange.bytes(of: "2001:db9::5")!))
        // IPv4-mapped IPv6 clients are matched as IPv4.
        #expect(ten.contains(IPRange.bytes(of: "::ffff:10.1.2.3")!))
        #expect(IPRange("10.0.0.0/33") == nil)
        #expect(IPRange("example.com") == nil)
        let rules = IPRules(allow: [ten], deny: [try #require(IPRange("10.9.0.0/16"))])
        #expect(rules.permits("10.1.1.1"))
        #expect(!rules.permits("10.9.1.1"))
        #expect(!rules.permits("172.16.0.1"))
        #expect(!rules.permits(nil))
    }
}

@Suite struct ForwardedClientTests {
    let trusted = [IPRange("10.0.0.0/8")!]

    @Test func onlyATrustedPeerIsBelieved() {
        let direct = ForwardedClient(
            peer: "203.0.113.9", trusted: trusted, forwardedFor: ["1.2.3.4"], proto: "https", forwardedHost: "x",
            host: "api.example.com")
        #expect(
            direct
                == .init(
                    peer: "203.0.113.9", address: "203.0.113.9", priorForwardedFor: nil, scheme: "http",
                    host: "api.example.com"))

        let proxied = ForwardedClient(
            peer: "10.0.0.5", trusted: trusted, forwardedFor: ["198.51.100.7, 10.1.1.1"], proto: "HTTPS",
            forwardedHost: "shop.example.com", host: "internal")
        // The client is the nearest hop that is not a trusted proxy itself.
        #expect(proxied.address == "198.51.100.7")
        #expect(proxied.priorForwardedFor == "198.51.100.7, 10.1.1.1")
        #expect(proxied.scheme == "https")
        #expect(proxied.host == "shop.example.com")

        // A client cannot hide behind a forged first hop: the rightmost untrusted address wins.
        let forged = ForwardedClient(
            peer: "10.0.0.5", trusted: trusted, forwardedFor: ["6.6.6.6", "198.51.100.7"], proto: "gopher",
            forwardedHost: nil, host: "h")
        #expect(forged.address == "198.51.100.7")
        #expect(forged.scheme == "http")
    }
}
