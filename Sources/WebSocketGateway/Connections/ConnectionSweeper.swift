// One task for every connection's timers, instead of a watchdog task per connection (which woke once
// a second each: 10,000 idle connections meant 10,000 wake-ups a second and a task's memory each).
// Every second it closes connections idle for `idleTimeout` (1001 "idle timeout") or open for
// `maxConnectionDuration` (1001 "maximum connection duration reached"), and closes the socket of a
// connection whose close handshake has not finished within the close timeout.
import GatewayCore
import Logging
import NIOCore
import ServiceLifecycle

struct ConnectionSweeper: Service {
    let registry: ConnectionRegistry
    let config: WebSocketGatewayConfig
    let closeTimeout: Duration
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            sweep(now: .now)
        }
    }

    /// Applies the timeouts to every open connection as of `now`.
    func sweep(now: ContinuousClock.Instant) {
        let idleTimeout = config.idleTimeout.duration
        let lifetime = config.maxConnectionDuration.duration
        for connection in registry.all {
            if let requestedAt = connection.closeRequestedAt {
                if now - requestedAt > closeTimeout { connection.channel.close(promise: nil) }
            } else if lifetime > .zero, now - connection.openedAt > lifetime {
                connection.close(code: 1001, reason: "maximum connection duration reached", drain: true)
            } else if idleTimeout > .zero, now - connection.lastActiveInstant > idleTimeout {
                connection.close(code: 1001, reason: "idle timeout", drain: true)
            }
        }
    }
}
