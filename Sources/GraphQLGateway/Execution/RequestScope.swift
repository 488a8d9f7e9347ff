// What the resolvers of one GraphQL request share: how to call upstreams on the caller's behalf,
// the raw variables (forwarded to subgraphs) and the errors subgraphs reported next to their data.
import GraphQL
import ServiceClient
import Synchronization

/// The GraphQL execution context of one request.
final class RequestScope: Sendable {
    /// Request id, trace context and verified identity, propagated by ServiceClient.
    let upstream: UpstreamCallContext
    /// The variables as the client sent them.
    let variables: [String: Map]
    private let extraErrors = Mutex<[GraphQLError]>([])

    init(upstream: UpstreamCallContext, variables: [String: Map]) {
        self.upstream = upstream
        self.variables = variables
    }

    /// Records errors that belong in the response without failing a field (e.g. a subgraph's errors
    /// for parts of a value it did return).
    func report(_ errors: [GraphQLError]) {
        guard !errors.isEmpty else { return }
        extraErrors.withLock { $0.append(contentsOf: errors) }
    }

    /// The errors recorded with ``report(_:)``.
    var reportedErrors: [GraphQLError] {
        extraErrors.withLock { $0 }
    }
}
