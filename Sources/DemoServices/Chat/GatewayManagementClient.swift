// Minimal client for the websocket gateway's management API (`POST /@connections/{connectionId}` with an API
// key), over Foundation's URLSession (FoundationNetworking on Linux).

import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Pushes messages to websocket clients through the gateway.
struct GatewayManagementClient: Sendable {
    /// Base URL of the gateway, e.g. `http://127.0.0.1:8084` (a trailing slash is ignored).
    let baseURL: String
    /// Sent as `X-API-Key`.
    let apiKey: String
    /// Per-request timeout in seconds.
    var timeout: TimeInterval = 5

    init(baseURL: String, apiKey: String) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
    }

    /// Characters left unescaped in the connection id path segment.
    private static let segmentAllowed: CharacterSet = {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#%")
        return allowed
    }()

    /// POSTs `body` (JSON) to the connection; returns the HTTP status, or `nil` if the request failed.
    func post(connectionID: String, body: Data) async -> Int? {
        guard
            let segment = connectionID.addingPercentEncoding(withAllowedCharacters: Self.segmentAllowed),
            let url = URL(string: "\(baseURL)/@connections/\(segment)")
        else { return nil }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(apiKey, forHTTPHeaderField: "X-API-Key")
        request.httpBody = body
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            return (response as? HTTPURLResponse)?.statusCode
        } catch {
            return nil
        }
    }
}
