// The listener's open client connections, so that a graceful shutdown can quiesce each of them
// (GOAWAY, then close once its streams finish) and wait until the last one has closed.
import NIOCore
import Synchronization

final class ConnectionTracker: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var draining = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.channels.count } }

    /// Tracks a new connection; one accepted while draining is quiesced at once.
    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let draining = state.withLock { state in
            state.channels[id] = channel
            return state.draining
        }
        channel.closeFuture.whenComplete { _ in self.remove(id) }
        if draining { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
    }

    private func remove(_ id: ObjectIdentifier) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.channels[id] = nil
            guard state.channels.isEmpty else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Asks every connection to finish its streams and close (GOAWAY), and returns once all have closed.
    func drain() async {
        let channels = state.withLock { state in
            state.draining = true
            return Array(state.channels.values)
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.channels.isEmpty { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Closes every connection now (grace period over).
    func closeAll() {
        let channels = state.withLock { Array($0.channels.values) }
        for channel in channels { channel.close(promise: nil) }
    }
}
