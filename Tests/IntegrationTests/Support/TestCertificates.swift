// Throwaway PKI for TLS and mTLS tests: a CA, a server certificate for localhost/127.0.0.1 and a client certificate,
// all EC P-256 PEM files made with the `openssl` CLI in a fresh temporary directory.
import Foundation

struct TestCertificates: Sendable {
    /// The directory holding every file below.
    var directory: String
    var caPath: String
    var serverCertPath: String
    var serverKeyPath: String
    var clientCertPath: String
    var clientKeyPath: String

    /// Makes a new CA and two leaf certificates signed by it, valid from now for 30 days. The server certificate
    /// names DNS `localhost` and IPs 127.0.0.1, 127.0.0.2, 127.0.0.3 and ::1; the client certificate's CN is
    /// `portico-test-client`.
    static func make() async throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portico-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let openssl = OpenSSL(directory: directory)

        try await openssl.run(
            "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=Portico Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        try await openssl.leaf(
            "server", subject: "/CN=localhost",
            extensions: [
                "basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth",
                "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:::1",
            ])
        try await openssl.leaf(
            "client", subject: "/CN=portico-test-client",
            extensions: [
                "basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth",
            ])

        let path = { (file: String) in directory.appendingPathComponent(file).path }
        return TestCertificates(
            directory: directory.path, caPath: path("ca.pem"), serverCertPath: path("server.pem"),
            serverKeyPath: path("server.key"), clientCertPath: path("client.pem"), clientKeyPath: path("client.key"))
    }

    /// Deletes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

private struct OpenSSL {
    let directory: URL

    /// `NAME.key` and `NAME.pem`, signed by `ca.pem`/`ca.key` in the same directory.
    func leaf(_ name: String, subject: String, extensions: [String]) async throws {
        let extensionsFile = directory.appendingPathComponent("\(name).ext")
        try (extensions.joined(separator: "\n") + "\n").write(to: extensionsFile, atomically: true, encoding: .utf8)
        try await run(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject)
        try await run(
            "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", "0x\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16))",
            "-days", "30", "-sha256", "-extfile", "\(name).ext", "-out", "\(name).pem")
    }

    func run(_ arguments: String...) async throws {
        let result = try await runTool("/usr/bin/openssl", arguments, in: directory, timeout: .seconds(30))
        guard result.status == 0 else {
            throw HarnessError(
                description: "openssl \(arguments.joined(separator: " ")) exited \(result.status): \(result.errorText)")
        }
    }
}
