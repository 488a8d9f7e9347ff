// The protocol robustness suite (Tests/WebSocketRobustness, Autobahn-style cases 1–7, 9 and 12–13 on raw
// sockets: framing, fragmentation, control frames, invalid UTF-8, close handling, compression) against a
// websocket-gateway with the demo configuration. Every case must PASS, or be INFO/NON-STRICT where the
// RFC leaves a choice; a FAIL, or the gateway dying on a case, fails this test with the suite's report.
import Foundation
import Testing

@Suite("WebSocket protocol robustness", .serialized)
struct WebSocketRobustnessTests {
    @Test func autobahnStyleCasesPass() async throws {
        try await WebSocketGatewayTests.withGateway { gateway, _ in
            let root = BuildProducts.repositoryRoot
            let result = try await runTool(
                "/usr/bin/python3",
                [
                    root.appendingPathComponent("Tests/WebSocketRobustness/run.py").path,
                    "ws://127.0.0.1:\(gateway.port)/ws",
                ],
                timeout: .seconds(180))
            let output = result.text + result.errorText
            #expect(result.status == 0, "\(output)")
            let summary = output.split(separator: "\n").last { $0.contains(" cases in ") } ?? ""
            #expect(summary.contains("PASS") && !summary.contains("FAIL"), "\(output)")
            // The gateway is still up after every case.
            let health = try await WebSocketGatewayTests.http("\(gateway.adminURL)/healthz")
            #expect(health.status == 200)
        }
    }
}
