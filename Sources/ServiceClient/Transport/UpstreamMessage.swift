// The request/response types of the async request API that translating gateways use.

/// A buffered request to a microservice.
public struct UpstreamRequest: Sendable {
    public var method: String
    /// Path and query, starting with `/`; the endpoint's base path is put in front.
    public var path: String
    public var headers: [(String, String)]
    public var body: [UInt8]?

    public init(method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// A buffered response from a microservice.
public struct UpstreamResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.0.lowercased() == lowered }?.1
    }
}
