// gatewayctl: validate a config, print a gateway's effective config (secrets redacted), list routes,
// check a deployment's status, and mint demo tokens.
import ArgumentParser
import Foundation
import GatewayCore
import RESTGateway
import Yams

@main
struct GatewayCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatewayctl", abstract: "Portico's control tool.",
        subcommands: [
            Validate.self, Print.self, Routes.self, Token.self, HashPassword.self, Status.self, Reload.self,
        ])
}

/// Loads a config or exits 2 with located errors.
func loadOrExit(_ path: String) -> LoadedConfig {
    do {
        return try ConfigLoader.load(path: path)
    } catch {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        Foundation.exit(2)
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration file; exit 2 with located errors if it is invalid.")
    @Argument(help: "The configuration file.") var path: String = "portico.yaml"

    func run() throws {
        let loaded = loadOrExit(path)
        // OpenAPI documents are read as the REST gateway reads them, so a broken one fails here too.
        let rest: [HTTPRouteConfig]
        do {
            rest = try RESTGateway.routes(loaded.config.gateways.rest, auth: loaded.config.auth) {
                loaded.resolve(path: $0)
            }
            _ = try RouteTable(rest.map { (name: $0.name, matcher: try RouteMatcher(config: $0.match), target: 0) })
        } catch {
            FileHandle.standardError.write(Data("\(path): \(error)\n".utf8))
            throw ExitCode(2)
        }
        let routes =
            rest.count + loaded.config.gateways.grpc.routes.count + loaded.config.gateways.websocket.routes.count
        print("\(path): valid (\(loaded.config.services.count) services, \(routes) routes)")
    }
}

struct Print: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the effective configuration of one gateway, secrets redacted.")
    @Option(help: "Path of the configuration file.") var config: String = "portico.yaml"
    @Option(help: "rest, graphql, grpc, cloudevents or websocket.") var gateway: String

    func validate() throws {
        guard GatewaysConfig.names.contains(gateway) else {
            throw ValidationError(
                "unknown gateway '\(gateway)' (one of \(GatewaysConfig.names.joined(separator: ", ")))")
        }
    }

    func run() throws {
        let loaded = loadOrExit(config)
        let c = loaded.config
        let section: any Encodable
        switch gateway {
        case "rest": section = c.gateways.rest
        case "graphql": section = c.gateways.graphql
        case "grpc": section = c.gateways.grpc
        case "cloudevents": section = c.gateways.cloudevents
        default: section = c.gateways.websocket
        }
        let effective = EffectiveConfig(
            services: c.services, auth: c.auth, limits: c.limits, observability: c.observability,
            gateways: [gateway: AnyEncodable(section)])
        print(try YAMLEncoder().encode(effective), terminator: "")
    }
}

struct EffectiveConfig: Encodable {
    var services: [String: ServiceConfig]
    var auth: AuthConfig
    var limits: LimitsConfig
    var observability: ObservabilityConfig
    var gateways: [String: AnyEncodable]
}

struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

struct Routes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a gateway's routes in precedence order.")
    @Option(help: "Path of the configuration file.") var config: String = "portico.yaml"
    @Option(help: "rest, graphql, grpc, cloudevents or websocket.") var gateway: String

    func run() throws {
        let loaded = loadOrExit(config)
        let c = loaded.config
        var rows: [[String]] = []
        switch gateway {
        case "rest":
            // Configured routes and those generated from OpenAPI documents, as the gateway builds them.
            let routes = try RESTGateway.routes(c.gateways.rest, auth: c.auth) { loaded.resolve(path: $0) }
            let table = try RouteTable(
                routes.map { (name: $0.name, matcher: try RouteMatcher(config: $0.match), target: $0) })
            for entry in table.entries {
                let route = entry.target
                rows.append([
                    route.name, route.match.methods.isEmpty ? "*" : route.match.methods.joined(separator: ","),
                    entry.matcher.pathDescription + (route.match.host.map { " host=\($0)" } ?? ""), route.service,
                    Self.describe(route.auth),
                ])
            }
        case "grpc":
            for route in c.gateways.grpc.routes {
                let methods = route.methods.isEmpty ? ["*"] : route.methods
                for method in methods {
                    rows.append([
                        route.name, "POST", "/\(route.grpcService)/\(method)", route.service, Self.describe(route.auth),
                    ])
                }
            }
            if c.gateways.grpc.health {
                rows.append(["health", "POST", "/grpc.health.v1.Health/Check", "(gateway)", "none"])
            }
        case "graphql":
            let g = c.gateways.graphql
            for (field, source) in g.fields.sorted(by: { $0.key < $1.key }) {
                rows.append([
                    "Query.\(field)", "POST,GET", g.path,
                    "\(source.service) (\(source.kind.rawValue) \(source.path ?? ""))", Self.describe(g.auth),
                ])
            }
        case "cloudevents":
            let g = c.gateways.cloudevents
            for trigger in g.triggers {
                let filter = trigger.filter
                let text =
                    (filter.exact.map { "\($0.key)=\($0.value)" } + filter.prefix.map { "\($0.key)^=\($0.value)" }
                    + filter.suffix.map { "\($0.key)$=\($0.value)" }).joined(separator: " ")
                rows.append([
                    trigger.name, "POST", g.path + (text.isEmpty ? "" : " [\(text)]"),
                    "\(trigger.service)\(trigger.path)", Self.describe(g.auth),
                ])
            }
        case "websocket":
            let g = c.gateways.websocket
            for (key, route) in g.routes.sorted(by: { $0.key < $1.key }) {
                rows.append([
                    key, "WS", g.path, "\(route.service)\(route.path)",
                    key == "$connect" ? Self.describe(g.auth) : (route.twoWay ? "two-way" : "one-way"),
                ])
            }
        default:
            throw ValidationError("unknown gateway '\(gateway)'")
        }
        let header = ["NAME", "METHODS", "MATCH", "TARGET", "AUTH"]
        let all = [header] + rows
        let widths = (0..<header.count).map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            print(
                row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                    .joined(separator: "  "))
        }
    }

    static func describe(_ policy: AuthPolicyConfig) -> String {
        policy.require.rawValue + (policy.scopes.isEmpty ? "" : " scopes=" + policy.scopes.joined(separator: ","))
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a demo JWT signed with the configuration's HS256 key.")
    @Option(help: "Path of the configuration file.") var config: String = "portico.yaml"
    @Option(help: "The subject (caller identity).") var sub: String
    @Option(help: "Space-separated scopes.") var scope: String = ""
    @Option(help: "Lifetime in seconds.") var ttl: Int = 3600

    func run() async throws {
        let auth = loadOrExit(config).config.auth
        guard let key = TokenMinter.demoSecret(in: auth) else {
            throw ValidationError("the configuration has no HS256 key under auth.jwt.keys")
        }
        let token = try await TokenMinter.hs256(
            secret: key.secret, subject: sub, scopes: scope.split(separator: " ").map(String.init),
            issuer: auth.jwt?.issuer, audience: auth.jwt?.audiences.first, lifetime: TimeInterval(ttl), kid: key.kid)
        print(token)
    }
}

struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hash a password for auth.basic.users[].passwordHash (PBKDF2-SHA256).",
        discussion: "Reads the password from standard input (one line) so it stays out of the shell history.")
    @Option(help: "PBKDF2 rounds.") var rounds: Int = PasswordHash.defaultRounds

    func run() throws {
        guard rounds >= 10_000 else { throw ValidationError("--rounds must be at least 10000") }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("no password on standard input")
        }
        print(try PasswordHash.make(password: line, rounds: rounds))
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask every gateway's admin listener whether it is ready.")
    @Option(help: "Path of the configuration file.") var config: String = "portico.yaml"

    func run() async throws {
        let c = loadOrExit(config).config
        var allReady = true
        for name in GatewaysConfig.names {
            guard let listener = c.gateways.listener(for: name) else { continue }
            let ready = await AdminProbe.isReady(host: listener.admin.host, port: listener.admin.port)
            allReady = allReady && ready
            print(
                "\(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(ready ? "ready" : "DOWN ")  listen \(listener.listen)  admin \(listener.admin)"
            )
        }
        if !allReady { throw ExitCode(1) }
    }
}

struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running gateway to reload the configuration file (POST /reload on its admin listener).")
    @Option(help: "Path of the configuration file (to find the admin listener).") var config: String = "portico.yaml"
    @Option(help: "The gateway: rest, graphql, grpc, cloudevents or websocket.") var gateway: String = "rest"
    @Option(help: "The admin listener (host:port), instead of the one in the configuration file.") var admin: String?

    func run() async throws {
        let address: ListenAddress
        if let admin {
            guard let parsed = ListenAddress.parse(admin) else {
                FileHandle.standardError.write(Data("--admin: '\(admin)' is not host:port\n".utf8))
                throw ExitCode(2)
            }
            address = parsed
        } else {
            guard let listener = loadOrExit(config).config.gateways.listener(for: gateway) else {
                FileHandle.standardError.write(Data("--gateway: '\(gateway)' is not a gateway\n".utf8))
                throw ExitCode(2)
            }
            address = listener.admin
        }
        guard let (status, body) = AdminProbe.request("POST", "/reload", host: address.host, port: address.port) else {
            FileHandle.standardError.write(Data("no answer from \(address)\n".utf8))
            throw ExitCode(1)
        }
        print(body)
        if status != 200 { throw ExitCode(1) }
    }
}
