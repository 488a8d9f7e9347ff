// Fetches small documents the gateways need from outside the request path, such as a JWKS from an
// identity provider: one GET on AsyncHTTPClient's shared client, with a timeout and a size cap.
import AsyncHTTPClient
import NIOCore

public enum DocumentFetcher {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The body of `url`; throws unless the answer is 2xx within `timeout` and under `maxBytes`.
    public static func get(_ url: String, timeout: Duration = .seconds(5), maxBytes: Int = 1 << 20) async throws
        -> [UInt8]
    {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "accept", value: "application/json")
        let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        guard (200..<300).contains(response.status.code) else {
            throw Failure(description: "GET \(url) answered \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: maxBytes)
        return Array(body.readableBytesView)
    }
}
