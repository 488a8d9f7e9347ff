// Hot reload of the shared configuration (SIGHUP or POST /reload on the admin listener): the file is
// read and validated again; a valid file is applied to the client layer (services) and then to the
// gateway (routes, auth, policies), each built completely before it is swapped in, so requests in
// flight finish on what they started with and new ones see the new file. An invalid file changes
// nothing. Listener addresses and observability settings need a restart (the answer says so).
import Foundation
import GatewayCore
import Logging
import ServiceClient
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The answer to a reload, as `/reload` returns it.
public struct ReloadOutcome: Codable, Sendable {
    /// `reloaded`, `rejected` (nothing changed) or `unsupported`.
    public var status: String
    public var errors: [String]
    /// What the new file changes that only a restart applies.
    public var notes: [String]
    public var routes: Int?
}

actor GatewayReloader {
    private var environment: GatewayEnvironment
    private let apply: GatewayComponents.Reload?
    let routes: RoutesBox
    private var count = 0

    init(environment: GatewayEnvironment, apply: GatewayComponents.Reload?, routes: RoutesBox) {
        self.environment = environment
        self.apply = apply
        self.routes = routes
    }

    func reload() async -> ReloadOutcome {
        let logger = environment.logger
        guard let apply else {
            return ReloadOutcome(
                status: "unsupported", errors: ["the \(environment.gateway) gateway cannot reload yet; restart it"],
                notes: [], routes: nil)
        }
        let old = environment.loaded
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: old.fileName)
        } catch {
            logger.error("config reload rejected", metadata: ["errors": "\(error.description)"])
            return ReloadOutcome(status: "rejected", errors: error.errors.map(\.description), notes: [], routes: nil)
        }
        let authenticator: Authenticator
        do {
            authenticator = try await Authenticator.make(for: loaded)
        } catch {
            return rejected("auth: \(error)")
        }
        do {
            try environment.client.reload(config: loaded.config)
        } catch {
            return rejected(error.description)
        }
        let next = GatewayEnvironment(
            gateway: environment.gateway, loaded: loaded, listener: environment.listener, client: environment.client,
            authenticator: authenticator, metrics: environment.metrics, readiness: environment.readiness,
            logger: logger, listening: environment.listening)
        do {
            routes.set(try await apply(next))
        } catch {
            // Put the services back as they were so that the gateway and its client agree again.
            try? environment.client.reload(config: old.config)
            return rejected("\(error)")
        }
        environment = next
        count += 1
        var notes: [String] = []
        let gateway = environment.gateway
        if old.config.gateways.listener(for: gateway)?.listen != loaded.config.gateways.listener(for: gateway)?.listen
            || old.config.gateways.listener(for: gateway)?.admin != loaded.config.gateways.listener(for: gateway)?.admin
        {
            notes.append("listen and admin addresses change only after a restart")
        }
        if old.config.observability != loaded.config.observability {
            notes.append("observability settings change only after a restart")
        }
        logger.info("config reloaded", metadata: ["reload": "\(count)", "routes": "\(routes.get().count)"])
        return ReloadOutcome(status: "reloaded", errors: [], notes: notes, routes: routes.get().count)
    }

    private func rejected(_ message: String) -> ReloadOutcome {
        environment.logger.error("config reload rejected", metadata: ["error": "\(message)"])
        return ReloadOutcome(status: "rejected", errors: [message], notes: [], routes: nil)
    }
}

/// The routes the admin listener shows, replaced by a reload.
final class RoutesBox: Sendable {
    private let routes: Mutex<[RouteInfo]>
    init(_ routes: [RouteInfo]) { self.routes = Mutex(routes) }
    func get() -> [RouteInfo] { routes.withLock { $0 } }
    func set(_ routes: [RouteInfo]) { self.routes.withLock { $0 = routes } }
}

/// Reloads on SIGHUP until graceful shutdown.
struct ReloadSignal: Service {
    let reloader: GatewayReloader

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            _ = await reloader.reload()
        }
    }
}
