// Who is calling: the verified identity a policy decision produces and microservices receive.

import Foundation

/// How a caller proved who they are.
public enum AuthMethod: String, Sendable, Codable {
    case jwt
    case apiKey
    case basic
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
            (names.subject, Self.headerSafe(subject)),
            (names.scopes, Self.headerSafe(scopes.sorted().joined(separator: " "))),
            (names.method, method.rawValue),
        ]
    }

    /// A claim as a header value: control characters (CR and LF above all) removed, so a token's
    /// claims can never add header lines to the upstream request.
    static func headerSafe(_ value: String) -> String {
        guard value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else { return value }
        return String(
            value.unicodeScalars.filter { ($0.value >= 0x20 || $0.value == 0x09) && $0.value != 0x7F }.map(
                Character.init))
    }
}

/// The credentials a protocol adapter found on a request.
public struct Credentials: Sendable {
    /// A bearer token from `Authorization: Bearer …` (or `?token=` where a protocol allows it).
    public var bearerToken: String?
    public var apiKey: String?
    /// From `Authorization: Basic …`.
    public var basic: BasicCredentials?
    /// `Authorization: Basic` that does not decode to `user:password`.
    public var malformedBasic = false

    public init(bearerToken: String? = nil, apiKey: String? = nil, basic: BasicCredentials? = nil) {
        self.bearerToken = bearerToken
        self.apiKey = apiKey
        self.basic = basic
    }

    /// Extracts credentials using a header lookup; `apiKeyHeader` comes from the config.
    public init(header: (String) -> String?, apiKeyHeader: String) {
        if let authorization = header("authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                bearerToken = String(parts[1]).trimmingCharacters(in: .whitespaces)
            } else if parts.count == 2, parts[0].lowercased() == "basic" {
                let encoded = String(parts[1]).trimmingCharacters(in: .whitespaces)
                if let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
                    let colon = text.firstIndex(of: ":")
                {
                    basic = BasicCredentials(
                        user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
                } else {
                    malformedBasic = true
                }
            }
        }
        apiKey = header(apiKeyHeader.lowercased())
    }

    public var isEmpty: Bool { bearerToken == nil && apiKey == nil && basic == nil && !malformedBasic }
}

/// A user name and password from HTTP Basic.
public struct BasicCredentials: Sendable {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }
}
