// The server-side TLS context of the REST listener, built from `gateways.rest.tls` with NIOSSL:
// certificate chain and key, optional client CA (mutual TLS), minimum version, ALPN `h2` and
// `http/1.1` (or only `http/1.1` when HTTP/2 is off).
import GatewayCore
import NIOSSL

enum ListenerTLS {
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    static func context(_ config: ListenerTLSConfig, http2: Bool, resolve: (String) -> String) throws
        -> NIOSSLContext
    {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(resolve(config.certificateFile)).map {
                NIOSSLCertificateSource.certificate($0)
            }
            let key = try NIOSSLPrivateKey(file: resolve(config.privateKeyFile), format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = config.minimumVersion == .v1_3 ? .tlsv13 : .tlsv12
            tls.applicationProtocols = http2 ? ["h2", "http/1.1"] : ["http/1.1"]
            if let ca = config.clientCAFile {
                tls.trustRoots = .file(resolve(ca))
                tls.certificateVerification = .noHostnameVerification
            }
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw SetupError(description: "gateways.rest.tls: the certificate or key cannot be used: \(error)")
        }
    }
}
