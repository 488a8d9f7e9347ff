// The processes integration tests start: the demo microservices and any gateway, on port 0.
import Foundation

/// `demo-services` on loopback with every service on a free port.
struct DemoServicesProcess: Sendable {
    let process: RunningProcess
    let usersPort: Int
    let ordersPort: Int
    let catalogPort: Int
    let notificationsPort: Int
    let chatPort: Int

    static func start(environment: [String: String] = [:]) async throws -> DemoServicesProcess {
        let process = try RunningProcess(
            name: "demo-services", executable: "demo-services",
            arguments: [
                "--host", "127.0.0.1", "--users-port", "0", "--orders-port", "0", "--catalog-port", "0",
                "--notifications-port", "0", "--chat-port", "0",
            ], environment: environment)
        return DemoServicesProcess(
            process: process,
            usersPort: try await process.listeningPort(["service": "users"]),
            ordersPort: try await process.listeningPort(["service": "orders"]),
            catalogPort: try await process.listeningPort(["service": "catalog"]),
            notificationsPort: try await process.listeningPort(["service": "notifications"]),
            chatPort: try await process.listeningPort(["service": "chat"]))
    }

    func stop() async { await process.stop() }
}

/// One gateway executable with its main and admin listeners on free ports.
struct GatewayProcess: Sendable {
    let name: String
    let process: RunningProcess
    let port: Int
    let adminPort: Int
    let configPath: String

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var adminURL: String { "http://127.0.0.1:\(adminPort)" }

    /// Writes `configYAML` to a temporary file and starts `<name>-gateway` with it.
    static func start(
        _ name: String, configYAML: String, environment: [String: String] = [:], extraArguments: [String] = []
    ) async throws -> GatewayProcess {
        let path = try TestConfig.write(configYAML)
        let process = try RunningProcess(
            name: "\(name)-gateway", executable: "\(name)-gateway",
            arguments: ["--config", path, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"] + extraArguments,
            environment: environment)
        let port = try await process.listeningPort(["listener": "main"])
        let adminPort = try await process.listeningPort(["listener": "admin"])
        return GatewayProcess(name: name, process: process, port: port, adminPort: adminPort, configPath: path)
    }

    @discardableResult
    func stop() async -> Int32 { await process.stop() }
}

enum TestConfig {
    /// The demo configuration pointed at a running `demo-services`.
    static func yaml(demo: DemoServicesProcess, extra: String = "") -> String {
        let template = try! String(
            contentsOf: BuildProducts.repositoryRoot.appendingPathComponent("portico.yaml"), encoding: .utf8)
        return
            template
            .replacingOccurrences(of: "127.0.0.1:9101", with: "127.0.0.1:\(demo.usersPort)")
            .replacingOccurrences(of: "127.0.0.1:9102", with: "127.0.0.1:\(demo.ordersPort)")
            .replacingOccurrences(of: "127.0.0.1:9103", with: "127.0.0.1:\(demo.catalogPort)")
            .replacingOccurrences(of: "127.0.0.1:9104", with: "127.0.0.1:\(demo.notificationsPort)")
            .replacingOccurrences(of: "127.0.0.1:9105", with: "127.0.0.1:\(demo.chatPort)")
            .replacingOccurrences(of: "logLevel: info", with: "logLevel: info") + extra
    }

    /// Writes a config to a fresh temporary file; relative paths in it resolve against the checkout, so the
    /// file goes into a temp dir but `schema:` paths are made absolute.
    static func write(_ yaml: String) throws -> String {
        let root = BuildProducts.repositoryRoot.path
        let absolute = yaml.replacingOccurrences(of: "schema: Protocols/", with: "schema: \(root)/Protocols/")
            .replacingOccurrences(of: "spec: Protocols/", with: "spec: \(root)/Protocols/")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portico-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("portico.yaml").path
        try absolute.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let demoSecret = "portico-demo-secret-change-me-0123456789"
}
