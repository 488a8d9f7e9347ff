// The WebSocket listener's connections: HTTP/1.1 with a WebSocket upgrade, like hummingbird-websocket's
// `HTTP1WebSocketUpgradeChannel` (whose structure this follows), with one difference that is the reason
// this file exists: an upgraded connection is served on its event loop by `DirectConnectionHandler`,
// with no task and no NIOAsyncChannel while it is idle, with or without permessage-deflate (negotiated
// here, before the 101: PerMessageDeflate.swift). Plain HTTP requests (the management API, the SDK,
// the demo page) are answered by the Hummingbird router as in any Hummingbird server.
//
// Per idle connection, hummingbird-websocket's task-based handler kept about a dozen suspended tasks
// (Hummingbird's connection task, the WebSocket handler's group, reader, pinger, writer…): ~40 KiB
// each, and with permessage-deflate both zlib streams besides; see docs/benchmarks.md.
import GatewayCore
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
    enum UpgradeResult: Sendable {
        /// Served by `DirectConnectionHandler` on the event loop; nothing to run.
        case upgraded
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    /// An accepted upgrade request, decided before the 101 is written.
    private struct Accepted: Sendable {
        let context: WebSocketGatewayContext
        /// permessage-deflate, when the client offered it acceptably and the gateway allows it.
        let deflate: DeflateAgreement?
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    private let upgradeResponder: RouterResponder<WebSocketGatewayContext>
    private let maxFrameSize: Int
    private let runtime: WebSocketRuntime
    /// limits.clientHeaderTimeout bounds the wait for the first request head (the handshake);
    /// clientIdleTimeout closes plain HTTP connections with no request in progress.
    private let clientTimeouts: ClientTimeouts

    init(
        responder: @escaping HTTPChannelHandler.Responder, upgradeResponder: RouterResponder<WebSocketGatewayContext>,
        maxFrameSize: Int, runtime: WebSocketRuntime, clientTimeouts: ClientTimeouts
    ) {
        self.responder = Self.redirectingUpgrades(responder)
        self.upgradeResponder = upgradeResponder
        self.maxFrameSize = maxFrameSize
        self.runtime = runtime
        self.clientTimeouts = clientTimeouts
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let attempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            // A client that opens a connection and never finishes its first head is closed (slowloris).
            // Only the client's part counts: the timer stops when the head has arrived, before auth
            // and `$connect` run.
            let handshakeTimer = NIOLoopBoundBox<Scheduled<Void>?>(
                channel.eventLoop.scheduleTask(in: .nanoseconds(clientTimeouts.header.nanoseconds)) {
                    channel.close(promise: nil)
                }, eventLoop: channel.eventLoop)
            let headArrived = {
                handshakeTimer.value?.cancel()
                handshakeTimer.value = nil
            }
            let accepted = NIOLoopBoundBox<Accepted?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: maxFrameSize,
                shouldUpgrade: { channel, head in
                    // A handshake has no body. When one is announced, NIO upgrades only after it has
                    // arrived, so the timer keeps running until then (the upgrade result stops it).
                    let length = head.headers["content-length"]
                    if length.allSatisfy({ $0 == "0" }) && !head.headers.contains(name: "transfer-encoding") {
                        headArrived()
                    }
                    attempted.value = true
                    return self.shouldUpgrade(head, channel: channel, logger: logger).map { result in
                        guard let (headers, value) = result else { return nil }
                        accepted.value = value
                        return HTTPHeaders(headers)
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let accepted = accepted.value else {
                            preconditionFailure("an upgrade ran without an accepted handshake")
                        }
                        try DirectConnectionHandler.install(
                            on: channel, context: accepted.context, deflate: accepted.deflate, runtime: runtime)
                        return .upgraded
                    }
                })
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    headArrived()
                    return channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try sync.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: clientTimeouts.idle, logger: logger))
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
            result.whenComplete { _ in headArrived() }
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .upgraded:
                return
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
        let compression = runtime.config.compression
        promise.completeWithTask {
            let request = Request(
                head: try HTTPRequest(head, secure: false, splitCookie: false), body: .init(buffer: .init()))
            let context = WebSocketGatewayContext(source: .init(channel: channel, logger: logger))
            let response = try await responder.respond(to: request, context: context)
            guard response.status == .ok, context.handshake.accepted != nil else { return nil }
            var headers = response.headers
            var deflate: DeflateAgreement?
            if compression.enabled,
                let agreement = DeflateAgreement.negotiate(
                    DeflateAgreement.offers(in: request.headers),
                    noContextTakeover: compression.noContextTakeover)
            {
                headers.append(HTTPField(name: .secWebSocketExtensions, value: agreement.responseHeader))
                deflate = agreement
            }
            return (headers, Accepted(context: context, deflate: deflate))
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
