// Request mirroring for a REST route: a copy of the request (head and a body of at most `maxBody`)
// is sent to the shadow service through ServiceClient's async API once the client's request has
// ended; the shadow's answer is read and dropped. A bounded number of copies per route are in flight.
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import ServiceClient
import Synchronization

final class RESTMirror: Sendable {
    let config: MirrorConfig
    private let inFlight = Atomic<Int>(0)

    init(config: MirrorConfig) {
        self.config = config
    }

    /// Takes an in-flight slot for one copy, or nil when the route has `maxInFlight` already.
    func begin() -> Bool {
        let now = inFlight.wrappingAdd(1, ordering: .relaxed).newValue
        if now > config.maxInFlight {
            inFlight.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Gives back a slot taken by `begin` when no copy will be sent.
    func abandon() { inFlight.wrappingSubtract(1, ordering: .relaxed) }

    /// Sends the copy in the background; the slot is given back when it is done.
    func send(
        head: HTTPRequestHead, path: String, body: [ByteBuffer], context: UpstreamCallContext, client: ServiceClient,
        managed: Set<String>, logger: Logger
    ) {
        var headers: [(String, String)] = []
        let hopByHop = HTTPHeaderRules.hopByHopNames(connectionHeaderValues: head.headers["connection"])
        for (name, value) in head.headers
        where !hopByHop.contains(name.lowercased()) && !managed.contains(name.lowercased())
            && name.lowercased() != "host" && name.lowercased() != "content-length"
        {
            headers.append((name, value))
        }
        headers.append(("X-Portico-Shadow", "true"))
        var bytes: [UInt8] = []
        for buffer in body { bytes.append(contentsOf: buffer.readableBytesView) }
        let request = UpstreamRequest(
            method: head.method.rawValue, path: path, headers: headers, body: bytes.isEmpty ? nil : bytes)
        let service = config.service
        Task {
            defer { self.inFlight.wrappingSubtract(1, ordering: .relaxed) }
            do {
                // No retries: a shadow must not add load beyond one copy.
                _ = try await client.send(
                    request, to: service, context: context,
                    options: UpstreamCallOptions(retry: RetryConfig(attempts: 1)))
            } catch {
                logger.debug("mirror failed", metadata: ["service": "\(service)", "error": "\(error)"])
            }
        }
    }
}
