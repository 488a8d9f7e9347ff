// TLS to a service's https endpoints, built once per service from its `tls` settings: trusted roots
// (the system's or a CA file), an optional client certificate for mTLS, and the server name checked.
// One `TLSConfiguration` feeds every transport (the NIO pools and AsyncHTTPClient).
import GatewayCore
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

struct UpstreamTLS: Sendable {
    /// For AsyncHTTPClient (which sets its own ALPN).
    let configuration: TLSConfiguration
    /// For the NIO pools: ALPN `http/1.1` for the HTTP/1.1 pool, `h2` for the HTTP/2 pool.
    let http1Context: NIOSSLContext
    let http2Context: NIOSSLContext
    let serverName: String?

    /// nil when the service has no https endpoint and no TLS settings.
    init?(service: ServiceConfig) throws(GatewayError) {
        let usesTLS = service.endpoints.contains { $0.url.isTLS } || service.discovery?.scheme == "https"
        guard usesTLS else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        let settings = service.tls ?? UpstreamTLSConfig()
        do {
            if let ca = settings.ca {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            }
            if let certificate = settings.certificate, let key = settings.key {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            var http1 = configuration
            http1.applicationProtocols = ["http/1.1"]
            var http2 = configuration
            http2.applicationProtocols = ["h2"]
            self.http1Context = try NIOSSLContext(configuration: http1)
            self.http2Context = try NIOSSLContext(configuration: http2)
        } catch {
            throw GatewayError(.internalError, "TLS settings cannot be used: \(error)")
        }
        self.configuration = configuration
        self.serverName = settings.serverName
    }

    /// Adds the client TLS handler first in `channel`'s pipeline, verifying `address`'s host name
    /// (or the configured server name) and sending it as SNI when it is a name, not an IP literal.
    func addHandler(to channel: any Channel, address: UpstreamAddress, http2: Bool) throws {
        let name = serverName ?? address.url.host
        let isLiteral = IPLiteral.isValid(name)
        let handler = try NIOSSLClientHandler(
            context: http2 ? http2Context : http1Context, serverHostname: isLiteral ? nil : name)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.pipeline.syncOperations.addHandler(TLSHandshakeObserver())
    }

    /// `channel` once it can carry requests: at once without TLS, after the handshake with it. A
    /// handshake that fails or takes longer than `timeout` (the connect timeout) closes the channel
    /// and fails, so that it counts as a connect failure.
    static func ready(_ channel: any Channel, tls: UpstreamTLS?, within timeout: Duration) -> EventLoopFuture<
        any Channel
    > {
        guard tls != nil else { return channel.eventLoop.makeSucceededFuture(channel) }
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
            channel.close(promise: nil)
        }
        return channel.pipeline.handler(type: TLSHandshakeObserver.self)
            .flatMap { $0.done(on: channel) }
            .always { _ in timer.cancel() }
            .map { channel }
            .flatMapError { error in
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(error)
            }
    }
}

/// Watches the TLS handshake of a new connection so that its failure counts as a connect failure.
// Safety: lives in one pipeline; touched only on its event loop.
final class TLSHandshakeObserver: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    private var promise: EventLoopPromise<Void>?
    private var result: Result<Void, any Error>?

    func done(on channel: any Channel) -> EventLoopFuture<Void> {
        if let result { return channel.eventLoop.makeCompletedFuture(result) }
        let promise = promise ?? channel.eventLoop.makePromise()
        self.promise = promise
        return promise.futureResult
    }

    private func complete(_ result: Result<Void, any Error>) {
        guard self.result == nil else { return }
        self.result = result
        promise?.completeWith(result)
        promise = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { complete(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        complete(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete(.failure(ChannelError.ioOnClosedChannel))
        context.fireChannelInactive()
    }
}

/// The TLS settings of every service by name, shared by the NIO pools and replaced on reload.
final class UpstreamTLSTable: Sendable {
    private let table: Mutex<[String: UpstreamTLS]>

    init(_ table: [String: UpstreamTLS] = [:]) {
        self.table = Mutex(table)
    }

    subscript(service service: String) -> UpstreamTLS? { table.withLock { $0[service] } }

    func replace(with table: [String: UpstreamTLS]) { self.table.withLock { $0 = table } }
}
