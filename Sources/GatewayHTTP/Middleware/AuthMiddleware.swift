// Applies one GatewayCore auth policy to the requests behind it and records the verified identity in
// the context. 401/403 come back as problem details via the observability middleware.
public import GatewayCore
import HTTPTypes
public import Hummingbird

public struct AuthMiddleware<Context: GatewayRequestContextProtocol>: RouterMiddleware {
    let authenticator: Authenticator
    let policy: AuthPolicyConfig
    /// Accept `?token=` as a bearer token (WebSocket handshakes, where browsers cannot set headers).
    let allowQueryToken: Bool

    public init(authenticator: Authenticator, policy: AuthPolicyConfig, allowQueryToken: Bool = false) {
        self.authenticator = authenticator
        self.policy = policy
        self.allowQueryToken = allowQueryToken
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.gateway.identity = try await authenticator.authorize(
            credentials(
                for: request, apiKeyHeader: authenticator.config.apiKeyHeader, allowQueryToken: allowQueryToken),
            policy: policy)
        return try await next(request, context)
    }
}

/// Credentials found on a Hummingbird request.
public func credentials(for request: Request, apiKeyHeader: String, allowQueryToken: Bool = false) -> Credentials {
    var found = Credentials(
        header: { name in HTTPField.Name(name).flatMap { request.headers[$0] } }, apiKeyHeader: apiKeyHeader)
    if found.bearerToken == nil, allowQueryToken, let token = request.uri.queryParameters.get("token") {
        found.bearerToken = token
    }
    return found
}
