// Refused handshakes get a real HTTP answer. hummingbird-websocket answers every refused upgrade with
// an empty `400`; the middleware here turns the refusal into problem details, and a one-shot channel
// handler replaces that `400` on the wire with this status, headers and body.
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// A `$connect` integration refused the connection with a non-2xx status, passed on to the client.
struct ConnectRejection: Error {
    var status: Int
    var error: GatewayError
}

/// Innermost middleware of the upgrade router: any refusal (auth, `$connect`, unknown path, draining)
/// becomes problem details, written in place of hummingbird-websocket's empty `400`.
struct HandshakeRefusalMiddleware: RouterMiddleware {
    typealias Context = WebSocketGatewayContext
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let requestID = context.gateway.requestID
        let instance = request.uri.path
        let problem: HTTPProblem
        do {
            var response = try await next(request, context)
            if response.status == .ok, context.handshake.accepted != nil {
                Self.name(&response)
                return response
            }
            problem = HTTPProblem(
                status: Int(response.status.code), code: "upgrade_refused", detail: "the WebSocket upgrade was refused",
                instance: instance, requestID: requestID)
        } catch let rejection as ConnectRejection {
            problem = HTTPProblem(
                status: rejection.status, code: rejection.error.code.name, detail: rejection.error.message,
                instance: instance, requestID: requestID)
        } catch let error as any GatewayErrorConvertible {
            problem = HTTPProblem(error.gatewayError, instance: instance, requestID: requestID)
        } catch let error as HTTPError {
            let gatewayError =
                error.status == .notFound
                ? GatewayError(.notFound, "no WebSocket endpoint at \(instance)")
                : GatewayError(.badRequest, error.body ?? error.status.reasonPhrase)
            problem = HTTPProblem(gatewayError, instance: instance, requestID: requestID)
        } catch {
            logger.error("websocket handshake failed", metadata: ["error": "\(error)", "request_id": "\(requestID)"])
            problem = HTTPProblem(
                GatewayError(.internalError, "internal error"), instance: instance, requestID: requestID)
        }
        var onWire = problem
        onWire.headers.append((RequestID.headerName, requestID))
        await RefusedUpgradeWriter.install(onWire, on: context.channel)
        var response = problem.response
        Self.name(&response)
        return response
    }

    /// Names the handshake's route for the request metrics and access log.
    static func name(_ response: inout Response) {
        if let name = HTTPField.Name(ObservabilityMiddleware<WebSocketGatewayContext>.routeHeader) {
            response.headers[name] = "websocket-handshake"
        }
    }
}

/// Rewrites the refused-upgrade response hummingbird-websocket writes (`400`, empty) into `problem`.
/// Added at the end of the pipeline before the not-upgraded HTTP handlers, so it sees their NIOHTTP1 parts.
final class RefusedUpgradeWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let problem: HTTPProblem

    init(problem: HTTPProblem) {
        self.problem = problem
    }

    static func install(_ problem: HTTPProblem, on channel: any Channel) async {
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(RefusedUpgradeWriter(problem: problem))
        }.get()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            head.status = HTTPResponseStatus(statusCode: problem.status)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: GatewayError.problemContentType)
            headers.add(name: "Content-Length", value: String(problem.body.count))
            headers.add(name: "Connection", value: "close")
            for (name, value) in problem.headers { headers.add(name: name, value: value) }
            head.headers = headers
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            // The refused-upgrade response has no body of its own.
            promise?.succeed()
        case .end(let trailers):
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: problem.body)))), promise: nil
            )
            context.write(wrapOutboundOut(.end(trailers)), promise: promise)
        }
    }
}
