// TLS to a service's https endpoints, built once per service from its `tls` settings: trusted roots
// (the system's or a CA file), an optional client certificate for mTLS, and the server name checked.
// One `TLSConfiguration` feeds every transport (the NIO pools and AsyncHTTPClient).
import GatewayCore
import NIOCore
import NIOSSL

struct UpstreamTLS: Sendable {
    let configuration: TLSConfiguration
    let context: NIOSSLContext
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
            if service.protocol != .http1 { configuration.applicationProtocols = ["h2"] }
            self.context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw GatewayError(.internalError, "TLS settings cannot be used: \(error)")
        }
        self.configuration = configuration
        self.serverName = settings.serverName
    }

    /// Adds the client TLS handler first in `channel`'s pipeline, verifying `address`'s host name
    /// (or the configured server name) and sending it as SNI when it is a name, not an IP literal.
    func addHandler(to channel: any Channel, address: UpstreamAddress) throws {
        let name = serverName ?? address.url.host
        let isLiteral = name.contains(":") || name.split(separator: ".").allSatisfy { Int($0) != nil }
        let handler = try NIOSSLClientHandler(context: context, serverHostname: isLiteral ? nil : name)
        try channel.pipeline.syncOperations.addHandler(handler)
    }
}
