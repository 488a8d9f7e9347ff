// How a client connection to the REST listener is set up: TLS when configured (certificates from the
// current config, so a reload serves new certificates to new connections), then HTTP/2 or HTTP/1.1:
// chosen by ALPN under TLS, by the HTTP/2 connection preface on plain connections (prior-knowledge
// h2c). Each HTTP/2 stream gets the same proxy handler as an HTTP/1.1 connection, behind NIOHTTP2's
// HTTP/1 codec. The preface detection is hand-written: NIO has no server-side h2c detector.
import GatewayCore
import GatewayHTTP
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOHTTPCompression
import NIOSSL
import NIOTLS

enum RESTListenerPipeline {
    static func configure(_ channel: any Channel, shared box: RESTSharedBox) throws {
        let current = box.current
        let sync = channel.pipeline.syncOperations
        // The TLS handshake and telling HTTP/2 from HTTP/1.1 come before any request timer.
        if let tls = current.tlsContext {
            try sync.addHandler(NIOSSLServerHandler(context: tls))
            try sync.addHandler(SetupDeadline(current.clientTimeouts.header, untilHandshake: true))
            if current.http2 {
                try sync.addHandler(
                    ApplicationProtocolNegotiationHandler { result in
                        channel.eventLoop.makeCompletedFuture {
                            if case .negotiated("h2") = result {
                                try configureHTTP2(channel, shared: box)
                            } else {
                                try configureFastHTTP1(channel, shared: box)
                            }
                        }
                    })
                return
            }
            return try configureFastHTTP1(channel, shared: box)
        }
        if current.http2 {
            try sync.addHandler(SetupDeadline(current.clientTimeouts.header, untilHandshake: false))
            return try sync.addHandler(PriorKnowledgeSwitch(shared: box))
        }
        try configureFastHTTP1(channel, shared: box)
    }

    /// HTTP/1.1 on the byte-level data path, which hands the connection to `configureHTTP1`'s codec
    /// path when a request needs it (FastProxyHandler.swift).
    static func configureFastHTTP1(_ channel: any Channel, shared box: RESTSharedBox) throws {
        SetupDeadline.remove(from: channel)
        try channel.pipeline.syncOperations.addHandler(FastProxyHandler(box: box))
    }

    static func configureHTTP1(_ channel: any Channel, shared box: RESTSharedBox) throws {
        // Outbound header validation is off: every header value sent was parsed by llhttp (which
        // refuses CR/LF) or checked by the proxy handler on the way in.
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = box.current.maxHeadBytes
        limits.maxHeaderFieldSize = box.current.maxHeadBytes
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withErrorHandling: true, withOutboundHeaderValidation: false,
            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
        try channel.pipeline.syncOperations.addHandler(HTTP1ClientIdleHandler(timeouts: box.current.clientTimeouts))
        try addProxy(to: channel, shared: box)
    }

    static func configureHTTP2(_ channel: any Channel, shared box: RESTSharedBox) throws {
        SetupDeadline.remove(from: channel)
        let timeouts = box.current.clientTimeouts
        // Closed with GOAWAY after clientIdleTimeout with no stream open; each stream's request body is
        // held to clientBodyTimeout like an HTTP/1.1 one.
        let idle = HTTP2IdleCloser(idle: timeouts.idle, goAway: true)
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: .init(), streamConfiguration: .init(),
            streamDelegate: idle.streamDelegate(on: channel)
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try stream.pipeline.syncOperations.addHandler(HTTP1ClientIdleHandler(timeouts: timeouts))
                try addProxy(to: stream, shared: box)
            }
        }
        try channel.pipeline.syncOperations.addHandler(idle)
    }

    private static func addProxy(to channel: any Channel, shared box: RESTSharedBox) throws {
        let compression = box.current.compression
        if compression.enabled {
            // NIOHTTPCompression negotiates gzip/deflate from Accept-Encoding and streams.
            try channel.pipeline.syncOperations.addHandler(
                HTTPResponseCompressor(responseCompressionPredicate: { head, _ in
                    compression.shouldCompress(
                        contentType: head.headers.first(name: "content-type"),
                        contentLength: head.headers.first(name: "content-length"),
                        contentEncoding: head.headers.first(name: "content-encoding"))
                        ? .compressIfPossible : .doNotCompress
                }))
        }
        try channel.pipeline.syncOperations.addHandler(RESTProxyHandler(box: box))
    }
}

/// Reads the first bytes of a plain connection: the HTTP/2 preface means prior-knowledge h2c,
/// anything else HTTP/1.1. Then it sets the pipeline up, passes the bytes on and removes itself.
final class PriorKnowledgeSwitch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    let shared: RESTSharedBox
    private var buffered: ByteBuffer?

    init(shared: RESTSharedBox) { self.shared = shared }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        guard let bytes = buffered else { return }
        let seen = bytes.readableBytesView.prefix(Self.preface.count)
        let isPrefix = seen.elementsEqual(Self.preface.prefix(seen.count))
        if isPrefix && seen.count < Self.preface.count { return }  // Wait for more.
        do {
            if isPrefix {
                try RESTListenerPipeline.configureHTTP2(context.channel, shared: shared)
            } else {
                try RESTListenerPipeline.configureFastHTTP1(context.channel, shared: shared)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Closes a connection that has not finished its TLS handshake, or shown whether it speaks HTTP/2,
/// within limits.clientHeaderTimeout of being accepted. Behind TLS it leaves at the handshake's end;
/// on a plain listener when the HTTP handlers are installed.
final class SetupDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    let untilHandshake: Bool
    private var timer: Scheduled<Void>?

    init(_ timeout: Duration, untilHandshake: Bool) {
        self.timeout = .nanoseconds(timeout.nanoseconds)
        self.untilHandshake = untilHandshake
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [context] in
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if untilHandshake, case .handshakeCompleted = event as? TLSUserEvent {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    /// Removes the plain listener's deadline (the TLS one leaves by itself at the handshake's end).
    static func remove(from channel: any Channel) {
        let sync = channel.pipeline.syncOperations
        if let handler = try? sync.handler(type: SetupDeadline.self), !handler.untilHandshake {
            sync.removeHandler(handler, promise: nil)
        }
    }
}
