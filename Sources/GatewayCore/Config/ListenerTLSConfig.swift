// TLS termination on a gateway's main listener: the certificate and key it presents, and optionally
// the CA its clients' certificates must chain to (mutual TLS). Paths resolve against the config file.

/// `tls` of a gateway section. Keys: `certificateFile` (PEM chain, leaf first), `privateKeyFile` (PEM),
/// `clientCAFile` (PEM; when set, clients must present a certificate signed by it), `minimumVersion`
/// (`1.2` or `1.3`, default `1.2`).
public struct ListenerTLSConfig: Codable, Sendable, Equatable {
    public enum Version: String, Codable, Sendable {
        case v1_2 = "1.2"
        case v1_3 = "1.3"
    }
    public var certificateFile: String
    public var privateKeyFile: String
    public var clientCAFile: String?
    public var minimumVersion: Version

    public init(certificateFile: String, privateKeyFile: String, clientCAFile: String? = nil) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFile = clientCAFile
        self.minimumVersion = .v1_2
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        certificateFile = try c.decode(String.self, forKey: .certificateFile)
        privateKeyFile = try c.decode(String.self, forKey: .privateKeyFile)
        clientCAFile = try c.decodeIfPresent(String.self, forKey: .clientCAFile)
        minimumVersion = try c.value(.minimumVersion, or: .v1_2)
    }
}
