// Graceful shutdown of WebSocket connections: when the process begins to drain, stop accepting upgrades,
// close every open connection with 1001 "going away" and wait until each has called `$disconnect`.
// Listed after the application, so the service group shuts it down first.
import Logging
import ServiceLifecycle

struct ConnectionDrainService: Service {
    let registry: ConnectionRegistry
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let open = registry.startDraining()
        if !open.isEmpty {
            logger.info("closing websocket connections", metadata: ["count": "\(open.count)"])
        }
        for connection in open {
            connection.close(code: 1001, reason: "server shutting down", drain: true)
        }
        await registry.waitUntilEmpty()
    }
}
