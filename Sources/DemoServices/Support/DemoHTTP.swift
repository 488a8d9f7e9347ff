// Small HTTP helpers shared by the Hummingbird-based demo services: JSON responses, JSON errors, bounded body
// reading and the application factory that reports the bound port.

import Foundation
public import Hummingbird
import Logging

/// The concrete Hummingbird application type every HTTP demo service is built as.
public typealias DemoApplication = Application<RouterResponder<BasicRequestContext>>

enum DemoHTTP {
    /// Largest request body any demo service reads (1 MiB).
    static let maxBodySize = 1 << 20

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A response with `value` encoded as JSON.
    static func json(
        _ value: some Encodable,
        status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:]
    ) -> Response {
        guard let data = try? jsonEncoder.encode(value) else {
            return error("could not encode the response", status: .internalServerError)
        }
        return json(data: data, status: status, headers: headers)
    }

    /// A response whose body is already-encoded JSON.
    static func json(data: Data, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A JSON error response: `{"error": message}`.
    static func error(_ message: String, status: HTTPResponse.Status) -> Response {
        let body = ["error": message]
        let data = (try? jsonEncoder.encode(body)) ?? Data(#"{"error":"internal error"}"#.utf8)
        return json(data: data, status: status)
    }

    /// A response with no body.
    static func empty(status: HTTPResponse.Status) -> Response {
        Response(status: status)
    }

    /// Reads the whole request body, at most ``maxBodySize`` bytes.
    /// - Returns: `.success(data)`, or `.failure(response)` with a JSON 413 (too large) or 400 (unreadable).
    static func readBody(_ request: Request) async -> Result<Data, BodyError> {
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: maxBodySize)
            return .success(Data(buffer.readableBytesView))
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return .failure(BodyError(response: Self.error("request body too large", status: .contentTooLarge)))
        } catch {
            return .failure(BodyError(response: Self.error("could not read request body", status: .badRequest)))
        }
    }

    /// A body that could not be read, with the response to send instead.
    struct BodyError: Error {
        let response: Response
    }

    /// The value of request header `name` (case-insensitive), if present and a valid field name.
    static func header(_ request: Request, _ name: String) -> String? {
        guard let fieldName = HTTPFields.Element.Name(name) else { return nil }
        return request.headers[fieldName]
    }

    /// Adds `GET /healthz` → 200 `{"status":"ok","service":…}`.
    static func addHealth(to router: Router<BasicRequestContext>, service: String) {
        router.get("/healthz") { _, _ in
            json(["status": "ok", "service": service])
        }
    }

    /// Builds the application for `router`, reporting the bound port to `onServerRunning`.
    static func application(
        router: Router<BasicRequestContext>,
        name: String,
        host: String,
        port: Int,
        logger: Logger?,
        onServerRunning: @escaping @Sendable (Int) async -> Void
    ) -> DemoApplication {
        Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: name),
            onServerRunning: { channel in
                await onServerRunning(channel.localAddress?.port ?? port)
            },
            logger: logger ?? Logger(label: "demo-services.\(name)")
        )
    }
}
