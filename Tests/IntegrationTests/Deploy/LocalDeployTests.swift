// `make deploy` / `make undeploy` as scripts: the local deploy script on the debug binaries, with the demo
// configuration moved to ports no other test uses (2808x gateways, 2908x admin, 2910x demo services).
import AsyncHTTPClient
import Foundation
import Testing

@Suite("Local deployment", .serialized)
struct LocalDeployTests {
    static func script(_ verb: String, runDir: String, config: String) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [
            BuildProducts.repositoryRoot.appendingPathComponent("deploy/local/portico-local.sh").path, verb,
        ]
        var env = ProcessInfo.processInfo.environment
        env["PORTICO_BIN_DIR"] = BuildProducts.directory.path
        env["PORTICO_CONFIG"] = config
        env["PORTICO_RUN_DIR"] = runDir
        env["PORTICO_DEMO_ARGS"] =
            "--users-port 29101 --orders-port 29102 --catalog-port 29103 --notifications-port 29104 --chat-port 29105 --websocket-gateway-url http://127.0.0.1:28084"
        process.environment = env
        // Output goes to a file: the processes the script leaves running must not hold a pipe open.
        let outputPath = runDir + ".\(verb).out"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = output
        try ProcessSpawner.spawn { try process.run() }
        // Poll rather than waitUntilExit(), which can stall an async test's thread.
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        try output.close()
        return (process.terminationStatus, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }

    @Test func deployIsIdempotentAndUndeployStopsEverything() async throws {
        var yaml = try String(
            contentsOf: BuildProducts.repositoryRoot.appendingPathComponent("portico.yaml"), encoding: .utf8)
        for (from, to) in [
            ("127.0.0.1:80", "127.0.0.1:280"), ("127.0.0.1:90", "127.0.0.1:290"), ("127.0.0.1:91", "127.0.0.1:291"),
        ] {
            yaml = yaml.replacingOccurrences(of: from, with: to)
        }
        let config = try TestConfig.write(yaml)
        let runDir = URL(fileURLWithPath: config).deletingLastPathComponent().appendingPathComponent("run").path

        let first = try await Self.script("start", runDir: runDir, config: config)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("Portico is up"))
        do {
            try await Self.checkDeployment(runDir: runDir, config: config, first: first)
        } catch {
            _ = try? await Self.script("stop", runDir: runDir, config: config)
            throw error
        }
    }

    static func checkDeployment(runDir: String, config: String, first: (status: Int32, output: String)) async throws {
        let pids = try FileManager.default.contentsOfDirectory(atPath: runDir).filter { $0.hasSuffix(".pid") }.sorted()
        #expect(
            pids == ["cloudevents.pid", "demo-services.pid", "graphql.pid", "grpc.pid", "rest.pid", "websocket.pid"])

        let users = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:28080/api/users"), timeout: .seconds(10))
        #expect(users.status == .ok)

        let pidBefore = try String(contentsOfFile: "\(runDir)/rest.pid", encoding: .utf8)
        let second = try await Self.script("start", runDir: runDir, config: config)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("rest already running"))
        #expect(try String(contentsOfFile: "\(runDir)/rest.pid", encoding: .utf8) == pidBefore)

        let status = try await Self.script("status", runDir: runDir, config: config)
        #expect(status.status == 0, "\(status.output)")

        let stop = try await Self.script("stop", runDir: runDir, config: config)
        #expect(stop.status == 0)
        #expect(stop.output.contains("rest stopped"))
        let pid = Int32(pidBefore.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(kill(pid, 0) != 0, "rest-gateway must be gone after undeploy")
        let after = try await Self.script("status", runDir: runDir, config: config)
        #expect(after.status != 0)
    }
}
