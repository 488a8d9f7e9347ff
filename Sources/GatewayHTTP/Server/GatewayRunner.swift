// What every gateway executable does: parse process settings, load and validate the shared config
// (exit 2 on any error, before a port is opened), bootstrap observability, build the gateway, and
// run everything in one `ServiceGroup` that drains on SIGTERM/SIGINT within the grace period.
public import ArgumentParser
import Foundation
public import GatewayCore
public import Logging
import NIOCore
public import ServiceClient
public import ServiceLifecycle

/// Process settings: from the command line, else the environment, else defaults.
public struct GatewayOptions: ParsableArguments {
    @Option(name: .long, help: "Path of the shared configuration file (env PORTICO_CONFIG).")
    public var config: String = ProcessInfo.processInfo.environment["PORTICO_CONFIG"] ?? "portico.yaml"

    @Option(
        name: .long,
        help: "Log level override: trace, debug, info, notice, warning, error, critical (env PORTICO_LOG_LEVEL).")
    public var logLevel: String = ProcessInfo.processInfo.environment["PORTICO_LOG_LEVEL"] ?? ""

    @Option(
        name: .long, help: "Override this gateway's listen address for this run (host:port; port 0 picks a free port).")
    public var listen: String?

    @Option(name: .long, help: "Override this gateway's admin listen address for this run (host:port).")
    public var admin: String?

    @Option(
        name: .long,
        help:
            "Event loop threads that serve connections and upstream calls (env PORTICO_EVENT_LOOPS; default: one per core)."
    )
    public var eventLoops: String? = ProcessInfo.processInfo.environment["PORTICO_EVENT_LOOPS"]

    public init() {}
}

/// Everything a gateway needs to build itself.
public struct GatewayEnvironment: Sendable {
    public let gateway: String
    public let loaded: LoadedConfig
    public var config: PorticoConfig { loaded.config }
    /// This gateway's listener settings, command-line overrides applied.
    public let listener: ListenerConfig
    public let client: ServiceClient
    public let authenticator: Authenticator
    public let metrics: RequestMetrics
    public let readiness: Readiness
    public let logger: Logger
    let listening: ListeningReporter

    /// Gateways call this once their main listener is bound (port 0 resolves here).
    public func mainListenerBound(port: Int) async {
        await listening.bound("main", host: listener.listen.host, port: port)
    }
}

/// What a gateway hands back: its long-lived services (listeners, workers), its routes, and how it
/// applies a reloaded configuration (nil: the gateway cannot reload; it must be restarted).
public struct GatewayComponents: Sendable {
    public typealias Reload = @Sendable (GatewayEnvironment) async throws -> [RouteInfo]

    public var services: [any Service]
    public var routes: [RouteInfo]
    public var reload: Reload?

    public init(services: [any Service], routes: [RouteInfo], reload: Reload? = nil) {
        self.services = services
        self.routes = routes
        self.reload = reload
    }
}

public enum GatewayRunner {
    /// Runs a gateway process to completion and exits: 0 after a clean shutdown, 2 on a config error,
    /// 1 when it cannot start.
    public static func main(
        gateway: String, build: @Sendable (GatewayEnvironment) async throws -> GatewayComponents
    ) async -> Never {
        let options = GatewayOptions.parseOrExit()
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: options.config)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            exit(2)
        }
        var listener = loaded.config.gateways.listener(for: gateway)!
        for (flag, value) in [("--listen", options.listen), ("--admin", options.admin)] {
            guard let value else { continue }
            guard let address = ListenAddress.parse(value) else {
                FileHandle.standardError.write(Data("\(flag): '\(value)' is not host:port\n".utf8))
                exit(2)
            }
            if flag == "--listen" { listener.listen = address } else { listener.admin = address }
        }
        if let value = options.eventLoops, !value.isEmpty {
            // Like nginx's worker_processes or Envoy's --concurrency. NIO's shared group is created on
            // first use, which comes after this.
            guard let loops = Int(value), (1...1024).contains(loops) else {
                FileHandle.standardError.write(Data("--event-loops: '\(value)' is not a number from 1 to 1024\n".utf8))
                exit(2)
            }
            NIOSingletons.groupLoopCountSuggestion = loops
        }
        if !options.logLevel.isEmpty && Logger.Level(rawValue: options.logLevel) == nil {
            FileHandle.standardError.write(
                Data(
                    "--log-level: '\(options.logLevel)' is not one of trace, debug, info, notice, warning, error, critical\n"
                        .utf8))
            exit(2)
        }
        Observability.bootstrap(
            loaded.config.observability, logLevelOverride: options.logLevel.isEmpty ? nil : options.logLevel)
        GatewayLimits.maxRequestBodySize = loaded.config.limits.maxRequestBodySize.bytes
        var logger = Logger(label: "portico.\(gateway)")
        logger[metadataKey: "gateway"] = "\(gateway)"
        do {
            try await run(gateway: gateway, loaded: loaded, listener: listener, logger: logger, build: build)
            logger.info("stopped")
            exit(0)
        } catch let error as GatewayBuildError {
            // The configuration was valid YAML but the gateway cannot be built from it (a schema that does not
            // parse, a field without a source): that is a configuration error too.
            FileHandle.standardError.write(Data("\(loaded.fileName): \(error.underlying)\n".utf8))
            exit(2)
        } catch {
            logger.critical("gateway failed", metadata: ["error": "\(error)"])
            exit(1)
        }
    }

    /// Builds and runs the gateway until shutdown (also used by tests).
    public static func run(
        gateway: String, loaded: LoadedConfig, listener: ListenerConfig, logger: Logger,
        build: @Sendable (GatewayEnvironment) async throws -> GatewayComponents
    ) async throws {
        let authenticator: Authenticator
        do {
            authenticator = try await Authenticator.make(for: loaded)
        } catch {
            throw GatewayBuildError(underlying: error)
        }
        let client: ServiceClient
        do {
            client = try ServiceClient(config: loaded.config, logger: logger)
        } catch {
            throw GatewayBuildError(underlying: error)
        }
        let readiness = Readiness()
        let listening = ListeningReporter(logger: logger, readiness: readiness, expected: ["main", "admin"])
        let environment = GatewayEnvironment(
            gateway: gateway, loaded: loaded, listener: listener, client: client, authenticator: authenticator,
            metrics: RequestMetrics(gateway: gateway), readiness: readiness, logger: logger, listening: listening)
        let components: GatewayComponents
        do {
            components = try await build(environment)
        } catch {
            // Close the client's pools before giving up: a client dropped while open is a programming error.
            await client.shutdown()
            throw GatewayBuildError(underlying: error)
        }
        let routes = RoutesBox(components.routes)
        let reloader = GatewayReloader(environment: environment, apply: components.reload, routes: routes)
        let admin = AdminServer.makeApplication(
            gateway: gateway, address: listener.admin, readiness: readiness, routes: { routes.get() },
            registry: { client.registry }, reload: { await reloader.reload() }, logger: logger
        ) { port in
            await listening.bound("admin", host: listener.admin.host, port: port)
        }
        // Shutdown runs in reverse order: the gateway's listeners drain first, then the client, the
        // admin listener last so that /readyz reports draining until the end.
        var services: [any Service] = [admin, client]
        services.append(contentsOf: components.services)
        services.append(ReloadSignal(reloader: reloader))
        // Last in the list, so first to hear of shutdown: /readyz turns 503 before the listeners drain.
        services.append(DrainSignal(readiness: readiness))
        var configuration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = listener.gracePeriod.duration
        try await ServiceGroup(configuration: configuration).run()
    }
}

extension Authenticator {
    /// The authenticator of a loaded file, as start-up and reload build it: key files resolved against
    /// the file's directory, JWKS URLs fetched with the shared HTTP client.
    static func make(for loaded: LoadedConfig) async throws -> Authenticator {
        try await Authenticator(config: loaded.config.auth) { path in
            try String(contentsOfFile: loaded.resolve(path: path), encoding: .utf8)
        } fetch: { url in
            try await DocumentFetcher.get(url)
        }
    }
}

/// A gateway could not be built from a configuration that passed validation.
struct GatewayBuildError: Error {
    var underlying: any Error
}

/// Marks the process not ready as soon as graceful shutdown begins.
struct DrainSignal: Service {
    let readiness: Readiness
    func run() async throws {
        try? await gracefulShutdown()
        readiness.markDraining()
    }
}

/// Logs one `listening` line per bound listener and flips readiness once all are bound. Tests and
/// `make deploy` read these lines to learn ports chosen with port 0.
actor ListeningReporter {
    let logger: Logger
    let readiness: Readiness
    var pending: Set<String>

    init(logger: Logger, readiness: Readiness, expected: Set<String>) {
        self.logger = logger
        self.readiness = readiness
        self.pending = expected
    }

    func bound(_ listener: String, host: String, port: Int) {
        logger.info(
            "listening", metadata: ["listener": "\(listener)", "address": "\(host):\(port)", "port": "\(port)"])
        pending.remove(listener)
        if pending.isEmpty { readiness.markReady() }
    }
}
