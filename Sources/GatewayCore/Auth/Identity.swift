// Who is calling: the verified identity a policy decision produces and microservices receive.

import Foundation

/// How a caller proved who they are.
public enum AuthMethod: String, Sendable, Codable {
    case jwt
    case apiKey
}

/// A verified caller.
public struct Identity: Sendable, Equatable, Codable {
    public var subject: String
    public var scopes: Set<String>
    public var method: AuthMethod

    public init(subject: String, scopes: Set<String>, method: AuthMethod) {
        self.subject = subject
        self.scopes = scopes
        self.method = method
    }

    /// The headers that carry this identity to a microservice (names from `auth.identityHeaders`).
    public func forwardedHeaders(_ names: IdentityHeadersConfig) -> [(String, String)] {
        [
            (names.subject, subject),
            (names.scopes, scopes.sorted().joined(separator: " ")),
            (names.method, method.rawValue),
        ]
    }
}

/// The credentials a protocol adapter found on a request.
public struct Credentials: Sendable {
    /// A bearer token from `Authorization: Bearer …` (or `?token=` where a protocol allows it).
    public var bearerToken: String?
    public var apiKey: String?

    public init(bearerToken: String? = nil, apiKey: String? = nil) {
        self.bearerToken = bearerToken
        self.apiKey = apiKey
    }

    /// Extracts credentials using a header lookup; `apiKeyHeader` comes from the config.
    public init(header: (String) -> String?, apiKeyHeader: String) {
        if let authorization = header("authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                bearerToken = String(parts[1]).trimmingCharacters(in: .whitespaces)
            }
        }
        apiKey = header(apiKeyHeader.lowercased())
    }

    public var isEmpty: Bool { bearerToken == nil && apiKey == nil }
}
