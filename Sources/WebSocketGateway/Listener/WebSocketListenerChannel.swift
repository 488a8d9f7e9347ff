// The WebSocket listener's connections: HTTP/1.1 with a WebSocket upgrade, like hummingbird-websocket's
// `HTTP1WebSocketUpgradeChannel` (whose structure this follows), with one difference that is the reason
// this file exists: an upgraded connection that negotiated no extension is served on its event loop by
// `DirectConnectionHandler`, with no task and no NIOAsyncChannel while it is idle. A connection with
// permessage-deflate goes through hummingbird-websocket's WebSocket handler as before (its compression
// runs in a task). Plain HTTP requests (the management API, the SDK, the demo page) are answered by the
// Hummingbird router as in any Hummingbird server.
//
// Per idle connection, the task-based path kept about a dozen suspended tasks (Hummingbird's connection
// task, the WebSocket handler's group, reader, pinger, writer…): ~40 KiB each; see docs/benchmarks.md.
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
@_spi(WSInternal) import WSCore

struct WebSocketListenerChannel: ServerChildChannel, HTTPChannelHandler {
    typealias TaskHandler = @Sendable (NIOAsyncChannel<WebSocketFrame, WebSocketFrame>) async -> Void

    enum UpgradeResult: Sendable {
        /// Served by `DirectConnectionHandler` on the event loop; nothing to run.
        case direct
        /// permessage-deflate: hummingbird-websocket's handler, in the connection's task.
        case task(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, TaskHandler)
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    /// What an accepted upgrade request leads to, decided before the 101 is written.
    private enum Accepted: Sendable {
        case direct(WebSocketGatewayContext)
        case task(TaskHandler)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    private let upgradeResponder: RouterResponder<WebSocketGatewayContext>
    private let configuration: WebSocketServerConfiguration
    private let runtime: WebSocketRuntime

    init(
        responder: @escaping HTTPChannelHandler.Responder, upgradeResponder: RouterResponder<WebSocketGatewayContext>,
        configuration: WebSocketServerConfiguration, runtime: WebSocketRuntime
    ) {
        self.responder = Self.redirectingUpgrades(responder)
        self.upgradeResponder = upgradeResponder
        self.configuration = configuration
        self.runtime = runtime
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let attempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let accepted = NIOLoopBoundBox<Accepted?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: configuration.maxFrameSize,
                shouldUpgrade: { channel, head in
                    attempted.value = true
                    return self.shouldUpgrade(head, channel: channel, logger: logger).map { result in
                        guard let (headers, value) = result else { return nil }
                        accepted.value = value
                        return HTTPHeaders(headers)
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        switch accepted.value {
                        case .direct(let context)?:
                            try DirectConnectionHandler.install(on: channel, context: context, runtime: runtime)
                            return .direct
                        case .task(let handler)?:
                            let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                                wrappingChannelSynchronously: channel,
                                configuration: .init(isOutboundHalfClosureEnabled: true))
                            return .task(asyncChannel, handler)
                        case nil:
                            preconditionFailure("an upgrade ran without an accepted handshake")
                        }
                    }
                })
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try sync.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true))
                        return attempted.value ? .failedUpgrade(asyncChannel) : .notUpgraded(asyncChannel)
                    }
                })
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(
                upgradeConfiguration: upgradeConfiguration)
            pipeline.enablePipelining = false  // NIOAsyncChannel orders HTTP requests
            pipeline.enableErrorHandling = false  // Hummingbird answers malformed requests
            pipeline.enableResponseHeaderValidation = false  // swift-http-types validates
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                configuration: pipeline)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .direct:
                return
            case .task(let asyncChannel, let handler):
                await handler(asyncChannel)
            case .notUpgraded(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .failedUpgrade(let http1):
                await Self.writeRefusal(http1, logger: logger)
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("the connection closed before its first request")
        } catch {
            logger.debug("websocket listener connection failed", metadata: ["error": "\(error)"])
        }
    }

    /// Runs the upgrade router (origin, auth, `$connect`) for an upgrade request; nil when it refused.
    /// Extensions are negotiated here, so the data path is known before the 101 goes out.
    private func shouldUpgrade(
        _ head: HTTPRequestHead, channel: any Channel, logger: Logger
    ) -> EventLoopFuture<(HTTPFields, Accepted)?> {
        let promise = channel.eventLoop.makePromise(of: (HTTPFields, Accepted)?.self)
        let responder = upgradeResponder
        let configuration = configuration
        let runtime = runtime
        promise.completeWithTask {
            let request = Request(
                head: try HTTPRequest(head, secure: false, splitCookie: false), body: .init(buffer: .init()))
            let context = WebSocketGatewayContext(source: .init(channel: channel, logger: logger))
            let response = try await responder.respond(to: request, context: context)
            guard response.status == .ok, context.handshake.accepted != nil else { return nil }
            var headers = response.headers
            let requested = WebSocketExtensionHTTPParameters.parseHeaders(request.headers)
            for builder in configuration.extensions {
                if let header = builder.serverResponseHeader(to: requested) {
                    headers.append(HTTPField(name: .secWebSocketExtensions, value: header))
                }
            }
            let extensions = try configuration.extensions.compactMap { try $0.serverExtension(from: requested) }
            guard !extensions.isEmpty else { return (headers, .direct(context)) }
            let handlerConfiguration = WebSocketHandler.Configuration(
                extensions: extensions, autoPing: configuration.autoPing, closeTimeout: configuration.closeTimeout,
                validateUTF8: configuration.validateUTF8, maxFrameSize: configuration.maxFrameSize)
            return (
                headers,
                .task { asyncChannel in
                    do {
                        _ = try await WebSocketHandler.handle(
                            type: .server, configuration: handlerConfiguration, asyncChannel: asyncChannel,
                            context: context
                        ) { inbound, outbound, context in
                            await runtime.serve(inbound: inbound, outbound: outbound, context: context)
                        }
                    } catch {
                        logger.debug("websocket handler ended with an error", metadata: ["error": "\(error)"])
                    }
                }
            )
        }
        return promise.futureResult
    }

    /// NIO's upgrader only looks at a connection's first request: an upgrade request after a plain one is
    /// redirected to the same URI with `Connection: close`, so the client retries on a new connection
    /// (as hummingbird-websocket does).
    private static func redirectingUpgrades(
        _ responder: @escaping HTTPChannelHandler.Responder
    ) -> HTTPChannelHandler.Responder {
        struct RedirectedUpgrade: Error {}
        return { request, writer, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                return try await responder(request, writer, channel)
            }
            var location = request.uri.path
            if let query = request.uri.query { location += "?\(query)" }
            try await writer.writeResponse(
                HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: location]))
            throw RedirectedUpgrade()
        }
    }

    /// A refused upgrade: an empty 400 here, which `RefusedUpgradeWriter` (installed by the refusal)
    /// replaces on the wire with the refusal's status and problem details.
    private static func writeRefusal(
        _ http1: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, logger: Logger
    ) async {
        do {
            try await http1.executeThenClose { _, outbound in
                try await outbound.write(
                    contentsOf: [
                        .head(
                            HTTPResponse(
                                status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])),
                        .end(nil),
                    ])
            }
        } catch {
            logger.trace("the refused upgrade's answer was not written", metadata: ["error": "\(error)"])
        }
    }
}
