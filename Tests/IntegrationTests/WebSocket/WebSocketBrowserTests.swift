// The demo chat page in real browsers: Tests/Browser/chat_browser_test.py drives two headless Chromium
// tabs (selenium, from the .venv that `make venv` fills) against websocket-gateway's /demo/chat, which
// loads the browser SDK from /sdk/portico-ws.js; each tab must see the other's messages.
import Foundation
import Testing

@Suite("WebSocket gateway in a browser", .serialized)
struct WebSocketBrowserTests {
    @Test func twoBrowsersSeeEachOthersMessages() async throws {
        try await WebSocketGatewayTests.withGateway { gateway, _ in
            // The SDK and the page are served from the binary.
            let sdk = try await WebSocketGatewayTests.http("\(gateway.baseURL)/sdk/portico-ws.js")
            #expect(sdk.status == 200)
            #expect(sdk.headers.first(name: "content-type") == "text/javascript; charset=utf-8")
            #expect(sdk.body.contains("export class PorticoClient"))
            let page = try await WebSocketGatewayTests.http("\(gateway.baseURL)/demo/chat")
            #expect(page.status == 200)
            #expect(page.body.contains("/sdk/portico-ws.js"))

            let root = BuildProducts.repositoryRoot
            let python = root.appendingPathComponent(".venv/bin/python")
            guard FileManager.default.isExecutableFile(atPath: python.path) else {
                Issue.record("\(python.path) is missing: `make venv` (or `make test`) installs selenium there")
                return
            }
            let result = try await runTool(
                python.path, [root.appendingPathComponent("Tests/Browser/chat_browser_test.py").path, gateway.baseURL],
                timeout: .seconds(120))
            #expect(result.status == 0, "\(result.text)\(result.errorText)")
            #expect(result.text.contains("ok: two browsers exchanged messages"))
        }
    }
}
