// An in-process upstream for tests that need to see what a gateway forwarded or to misbehave on demand:
// `/echo` answers with the request as JSON, `/delay/{ms}` answers late, `/hang` never answers,
// `/status/{code}` answers that status, `/stream/{kib}` streams that many KiB, `/body` answers with
// the request's own body and content type, `/count` with how often it was called; both set
// `Cache-Control` from `?cc=` and `Vary` from `?vary=`.
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

struct EchoedRequest: Decodable {
    var method: String
    var path: String
    var headers: [String: [String]]
    var bodyBytes: Int
    var bodySHA: String?

    func header(_ name: String) -> String? { headers[name.lowercased()]?.first }
}

final class TestUpstream: Sendable {
    let port: Int
    private let group: ServiceGroup

    private init(port: Int, group: ServiceGroup) {
        self.port = port
        self.group = group
    }

    static func start() async throws -> TestUpstream {
        let router = Router()
        let calls = CallCounter()
        @Sendable func cacheHeaders(_ request: Request) -> HTTPFields {
            var fields = HTTPFields()
            if let cc = request.uri.queryParameters["cc"] { fields[.cacheControl] = String(cc) }
            if let vary = request.uri.queryParameters["vary"] { fields[.vary] = String(vary) }
            return fields
        }
        router.post("/body") { request, _ in
            var fields = cacheHeaders(request)
            fields[.contentType] = request.headers[.contentType] ?? "application/octet-stream"
            let body = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok, headers: fields, body: .init(byteBuffer: body))
        }
        router.post("/count") { _, _ in Response(status: .noContent) }
        router.delete("/count") { _, _ in Response(status: .methodNotAllowed) }
        router.get("/count") { request, _ in
            let n = calls.next()
            var fields = cacheHeaders(request)
            fields[.contentType] = "application/json"
            let language = request.headers[.acceptLanguage] ?? ""
            return Response(
                status: .ok, headers: fields,
                body: .init(byteBuffer: ByteBuffer(string: #"{"n":\#(n),"language":"\#(language)"}"#)))
        }
        router.on("/echo/**", method: .get, use: echo)
        router.on("/echo/**", method: .post, use: echo)
        router.on("/echo", method: .get, use: echo)
        router.on("/echo", method: .post, use: echo)
        router.get("/delay/{ms}") { _, context in
            let ms = context.parameters.get("ms", as: Int.self) ?? 0
            try await Task.sleep(for: .milliseconds(ms))
            return "slow"
        }
        router.get("/hang") { _, _ -> String in
            try await Task.sleep(for: .seconds(3600))
            return "never"
        }
        router.get("/status/{code}") { _, context in
            Response(status: .init(code: context.parameters.get("code", as: Int.self) ?? 500))
        }
        router.get("/stream/{kib}") { _, context in
            let kib = context.parameters.get("kib", as: Int.self) ?? 1
            return Response(
                status: .ok,
                body: ResponseBody { writer in
                    for _ in 0..<kib { try await writer.write(ByteBuffer(repeating: UInt8(ascii: "x"), count: 1024)) }
                    try await writer.finish(nil)
                })
        }
        let bound = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in bound.continuation.yield(channel.localAddress?.port ?? 0) })
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "test-upstream")))
        Task { try await group.run() }
        var iterator = bound.stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw HarnessError(description: "test upstream did not start") }
        return TestUpstream(port: port, group: group)
    }

    @Sendable static func echo(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var headers: [String: [String]] = [:]
        for field in request.headers { headers[field.name.canonicalName, default: []].append(field.value) }
        var count = 0
        var hash: UInt64 = 1469598103934665603
        for try await buffer in request.body {
            count += buffer.readableBytes
            for byte in buffer.readableBytesView { hash = (hash ^ UInt64(byte)) &* 1099511628211 }
        }
        let object: [String: Any] = [
            "method": request.method.rawValue, "path": request.uri.description, "headers": headers, "bodyBytes": count,
            "bodySHA": String(hash, radix: 16),
        ]
        let data = try JSONSerialization.data(withJSONObject: object)
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Stops the way a service is meant to stop: gracefully (cancelling it makes Hummingbird log errors).
    func stop() {
        Task { await group.triggerGracefulShutdown() }
    }
}

/// The same FNV-1a hash the echo upstream reports, for comparing bodies.
func fnv1a(_ bytes: [UInt8]) -> String {
    var hash: UInt64 = 1469598103934665603
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 1099511628211 }
    return String(hash, radix: 16)
}

/// How often `/count` was called.
final class CallCounter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).newValue }
}
