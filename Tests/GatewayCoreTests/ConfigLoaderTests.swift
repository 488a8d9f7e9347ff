// Config loading: the demo file is valid, and each kind of mistake is reported with file, line and key path.
import Foundation
import Testing

@testable import GatewayCore

@Suite("Config loading and validation")
struct ConfigLoaderTests {
    static let minimal = """
        services:
          users:
            endpoints: ["http://127.0.0.1:9101"]
        """

    func errors(_ yaml: String, env: [String: String] = [:]) -> [ConfigError] {
        do {
            _ = try ConfigLoader.load(text: yaml, fileName: "test.yaml", environment: env)
            return []
        } catch {
            return error.errors
        }
    }

    @Test func demoConfigIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let loaded = try ConfigLoader.load(path: root.appendingPathComponent("portico.yaml").path, environment: [:])
        #expect(loaded.config.services["users"]?.endpoints.first?.url.port == 9101)
        #expect(loaded.config.gateways.rest.listener.listen.port == 8080)
        #expect(loaded.config.gateways.rest.routes.count == 3)
        #expect(loaded.config.auth.jwt?.keys.first?.secret?.value == "portico-demo-secret-change-me-0123456789")
        #expect(loaded.config.services["orders"]?.protocol == .grpc)
    }

    @Test func unknownKeyIsLocated() {
        let found = errors(Self.minimal + "\n    retries: 3\n")
        #expect(found.count == 1)
        #expect(found.first?.line == 4)
        #expect(found.first?.path == "services.users.retries")
        #expect(found.first?.description.hasPrefix("test.yaml:4: services.users.retries: unknown key") == true)
    }

    @Test func unknownTopLevelSection() {
        let found = errors(Self.minimal + "\nextras:\n  a: 1\n")
        #expect(found.first?.path == "extras")
        #expect(found.first?.line == 4)
    }

    @Test func wrongTypeIsLocated() {
        let found = errors(Self.minimal + "\n    maxConnectionsPerEndpoint: lots\n")
        #expect(found.first?.line == 4)
        #expect(found.first?.path == "services.users.maxConnectionsPerEndpoint")
        #expect(found.first?.message.contains("integer") == true)
    }

    @Test func clientTimeoutsHaveDefaultsAndMustBePositive() throws {
        let defaults = try ConfigLoader.load(text: Self.minimal, fileName: "test.yaml", environment: [:])
        #expect(
            ClientTimeouts(defaults.config.limits)
                == ClientTimeouts(idle: .seconds(75), header: .seconds(30), body: .seconds(60)))
        let set = try ConfigLoader.load(
            text: Self.minimal
                + "\nlimits:\n  clientIdleTimeout: 5s\n  clientHeaderTimeout: 250ms\n  clientBodyTimeout: 1m\n",
            fileName: "test.yaml", environment: [:])
        #expect(
            ClientTimeouts(set.config.limits)
                == ClientTimeouts(idle: .seconds(5), header: .milliseconds(250), body: .seconds(60)))
        let found = errors(Self.minimal + "\nlimits:\n  clientHeaderTimeout: 0s\n")
        #expect(found.count == 1)
        #expect(found.first?.path == "limits.clientHeaderTimeout")
        #expect(found.first?.message == "must be longer than zero")
    }

    @Test func badDuration() {
        let found = errors(Self.minimal + "\n    requestTimeout: soon\n")
        #expect(found.first?.path == "services.users.requestTimeout")
        #expect(found.first?.message.contains("not a duration") == true)
    }

    @Test func badURL() {
        let found = errors("services:\n  users:\n    endpoints: [\"ftp://x\"]\n")
        #expect(found.first?.path == "services.users.endpoints[0]")
        #expect(found.first?.line == 3)
    }

    @Test func undeclaredService() {
        let yaml =
            Self.minimal + """

                gateways:
                  rest:
                    routes:
                      - name: r
                        match: { path: /x }
                        service: billing
                """
        let found = errors(yaml)
        #expect(found.count == 1)
        #expect(found.first?.path == "gateways.rest.routes[0].service")
        #expect(found.first?.line == 9)
        #expect(found.first?.message.contains("'billing' is not declared") == true)
    }

    @Test func conflictingRoutes() {
        let yaml =
            Self.minimal + """

                gateways:
                  rest:
                    routes:
                      - name: a
                        match: { path: "/users/{id}", methods: [GET] }
                        service: users
                      - name: b
                        match: { path: "/users/{userId}", methods: [GET, POST] }
                        service: users
                """
        let found = errors(yaml)
        #expect(found.first?.path == "gateways.rest.routes[1]")
        #expect(found.first?.message.contains("conflicts with route 'a'") == true)
    }

    @Test func environmentSubstitution() throws {
        let yaml = "services:\n  users:\n    endpoints: [\"${USERS_URL}\"]\n    requestTimeout: ${TIMEOUT:-7s}\n"
        let loaded = try ConfigLoader.load(
            text: yaml, fileName: "t.yaml", environment: ["USERS_URL": "http://10.0.0.1:81"])
        #expect(loaded.config.services["users"]?.endpoints.first?.url.host == "10.0.0.1")
        #expect(loaded.config.services["users"]?.requestTimeout.duration == .seconds(7))
        let missing = errors(yaml)
        #expect(missing.first?.line == 3)
        #expect(missing.first?.message.contains("USERS_URL is not set") == true)
    }

    @Test func shortHS256SecretIsRefused() {
        let yaml = Self.minimal + "\nauth:\n  jwt:\n    keys:\n      - algorithm: HS256\n        secret: short\n"
        let found = errors(yaml)
        #expect(found.first?.path == "auth.jwt.keys[0].secret")
        #expect(found.first?.message.contains("32 bytes") == true)
    }

    @Test func unknownAlgorithmIsRefused() {
        let yaml = Self.minimal + "\nauth:\n  jwt:\n    keys:\n      - algorithm: none\n"
        let found = errors(yaml)
        #expect(found.first?.path == "auth.jwt.keys[0].algorithm")
    }

    @Test func unsupportedUpstreamsAreRefused() {
        let yaml = """
            services:
              orders: { endpoints: ["http://127.0.0.1:9102"], protocol: grpc }
            gateways:
              rest:
                routes:
                  - { name: r, match: { prefix: /orders }, service: orders }
            """
        let found = errors(yaml)
        #expect(found.first?.path == "gateways.rest.routes[0].service")
        #expect(found.first?.message.contains("speaks gRPC") == true)
    }

    @Test func invalidYAML() {
        let found = errors("services:\n  users: [\n")
        #expect(found.first?.message.contains("invalid YAML") == true)
    }

    @Test func scalarParsing() {
        #expect(ConfigDuration.parse("1m30s") == .seconds(90))
        #expect(ConfigDuration.parse("250ms") == .milliseconds(250))
        #expect(ConfigDuration.parse("5") == nil)
        #expect(ByteSize.parse("64KiB") == 65536)
        #expect(ListenAddress.parse("[::1]:8080") == ListenAddress(host: "::1", port: 8080))
        #expect(ListenAddress.parse("host:99999") == nil)
    }
}
