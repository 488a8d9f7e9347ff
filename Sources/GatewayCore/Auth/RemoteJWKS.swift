// A JWKS fetched from a URL (`auth.jwt.jwksUrl`) and kept fresh without a restart: refreshed in the
// background once it is older than the refresh interval (requests keep using the keys they have), and
// at once when a token names a key id the set does not hold (at most once per minimum interval, so
// tokens with made-up key ids cannot hammer the identity provider). Concurrent refreshes share one
// fetch. GatewayCore does no I/O itself: the HTTP fetch is a closure the gateway runner passes in.
public import Foundation
import JWTKit
import Synchronization

/// Fetches the bytes at a URL (the JWKS document); throws on transport errors and non-2xx answers.
public typealias JWKSFetcher = @Sendable (_ url: String) async throws -> [UInt8]

final class RemoteJWKS: Sendable {
    struct Keys: Sendable {
        var collection: JWTKeyCollection
        /// kid -> algorithm Portico accepts.
        var algorithms: [String: String]
    }

    private struct State {
        var keys: Keys?
        var fetchedAt: ContinuousClock.Instant?
        var lastAttempt: ContinuousClock.Instant?
        var lastError: String?
        var inFlight: Task<Void, Never>?
    }

    let url: String
    let refreshInterval: Duration
    let minRefreshInterval: Duration
    private let fetch: JWKSFetcher
    private let state = Mutex(State())

    init(url: String, refreshInterval: Duration, minRefreshInterval: Duration, fetch: @escaping JWKSFetcher) {
        self.url = url
        self.refreshInterval = refreshInterval
        self.minRefreshInterval = minRefreshInterval
        self.fetch = fetch
    }

    /// The key collection holding `kid` with its algorithm, refreshing first when the set is stale or
    /// does not know the key. Throws a 401 error that says why no key is available.
    func keys(for kid: String) async throws(GatewayError) -> (collection: JWTKeyCollection, algorithm: String) {
        let now = ContinuousClock.now
        let (current, stale, mayFetch) = state.withLock { state in
            let stale = state.fetchedAt.map { now - $0 >= refreshInterval } ?? true
            let mayFetch = state.lastAttempt.map { now - $0 >= minRefreshInterval } ?? true
            return (state.keys, stale, mayFetch)
        }
        if let current, let algorithm = current.algorithms[kid] {
            if stale && mayFetch { _ = startRefresh() }  // Served from the old set meanwhile.
            return (current.collection, algorithm)
        }
        if current == nil || mayFetch {
            await startRefresh()?.value
        }
        let (keys, error) = state.withLock { ($0.keys, $0.lastError) }
        if let keys, let algorithm = keys.algorithms[kid] { return (keys.collection, algorithm) }
        if keys == nil, let error {
            throw GatewayError(.unauthenticated, "invalid token: signing keys are unavailable (\(error))")
        }
        throw GatewayError(.unauthenticated, "invalid token: unknown key id '\(kid)'")
    }

    /// Fetches now and waits for it (start-up, tests).
    func refreshNow() async {
        await startRefresh()?.value
    }

    var lastError: String? { state.withLock { $0.lastError } }

    /// Starts a fetch unless one is running; returns the running fetch.
    @discardableResult
    private func startRefresh() -> Task<Void, Never>? {
        state.withLock { state in
            if let running = state.inFlight { return running }
            state.lastAttempt = .now
            let task = Task { await self.performRefresh() }
            state.inFlight = task
            return task
        }
    }

    private func performRefresh() async {
        let result: Result<Keys, any Error>
        do {
            let bytes = try await fetch(url)
            result = .success(try await Self.parse(bytes))
        } catch {
            result = .failure(error)
        }
        state.withLock { state in
            state.inFlight = nil
            switch result {
            case .success(let keys):
                state.keys = keys
                state.fetchedAt = .now
                state.lastError = nil
            case .failure(let error):
                // The previous keys stay in use: an identity provider that is briefly down must not
                // turn every valid token away.
                state.lastError = "\(error)"
            }
        }
    }

    /// Builds a key collection from a JWKS document; keys of algorithms Portico does not accept are
    /// skipped, keys without `kid` are an error.
    static func parse(_ bytes: [UInt8]) async throws -> Keys {
        let set: JWKS
        do {
            set = try JSONDecoder().decode(JWKS.self, from: Data(bytes))
        } catch {
            throw JWTSetupError("the JWKS document is not valid: \(error)")
        }
        var algorithms: [String: String] = [:]
        for jwk in set.keys {
            guard let kid = jwk.keyIdentifier?.string else { throw JWTSetupError("JWKS key without 'kid'") }
            switch (jwk.keyType, jwk.algorithm?.rawValue) {
            case (.rsa, nil), (.rsa, "RS256"): algorithms[kid] = "RS256"
            case (.ecdsa, nil), (.ecdsa, "ES256"): algorithms[kid] = "ES256"
            default: continue
            }
        }
        let collection = JWTKeyCollection()
        try await collection.add(jwks: set)
        return Keys(collection: collection, algorithms: algorithms)
    }
}
