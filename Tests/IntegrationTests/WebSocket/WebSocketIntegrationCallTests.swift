// Integration calls from connections served on the event loop (no compression), which go over
// ServiceClient's NIO keep-alive pool without a task: the envelope arrives as a POST on the route's path
// with the gateway's headers, and a slow, resetting or refusing integration comes back to the client as
// an error message with its code, after which calls work again. A route to a `protocol: http2` service
// takes the other transport (AsyncHTTPClient, in a task) and answers the same way.
import Foundation
import Testing

@Suite("WebSocket integration calls", .serialized)
struct WebSocketIntegrationCallTests {
    @Test func callsReuseConnectionsAndFailuresBecomeErrorMessages() async throws {
        let upstream = try await FaultyUpstream.start(name: "faulty")
        let edit: (String) -> String = { yaml in
            yaml.replacingOccurrences(
                of: "services:\n",
                with: "services:\n  faulty:\n    endpoints: [\"\(upstream.url)\"]\n"
                    // `http2` services are called through AsyncHTTPClient in a task (HTTP/1.1 on http://).
                    + "  faulty2:\n    endpoints: [\"\(upstream.url)\"]\n    protocol: http2\n"
            ).replacingOccurrences(
                of: "      sendMessage: { service: chat, path: /sendMessage, twoWay: false }\n",
                with: "      sendMessage: { service: chat, path: /sendMessage, twoWay: false }\n"
                    + "      flaky: { service: faulty, path: /calls, timeout: 5s }\n"
                    + "      other: { service: faulty2, path: /other }\n")
        }
        try await WebSocketGatewayTests.withGateway(edit: edit) { gateway, _ in
            let client = try await TestWebSocketClient.open("ws://127.0.0.1:\(gateway.port)/ws")
            for index in 1...4 {
                client.send(#"{"action":"flaky","n":\#(index)}"#)
                let reply = try await client.next()
                #expect(reply["upstream"] as? String == "faulty")
                #expect(reply["method"] as? String == "POST")
                #expect(reply["path"] as? String == "/calls")
                #expect((reply["bodyBytes"] as? Int ?? 0) > 0)
            }
            #expect(upstream.requestCount == 4)
            let headers = Dictionary(
                upstream.lastRequestHeaders.map { ($0.0.lowercased(), $0.1) }, uniquingKeysWith: { first, _ in first })
            #expect(headers["content-type"] == "application/json")
            #expect(headers["x-request-id"]?.isEmpty == false)
            #expect(headers["host"] == "127.0.0.1:\(upstream.port)")

            // The route allows 5 s: long enough that the other failures below are not timeouts on a loaded
            // machine (with 2 s, a fresh-clone CI run, every suite in parallel on 2 cores, once saw the reset
            // call below time out).
            upstream.set(.delay(.seconds(20)))
            client.send(#"{"action":"flaky","correlationId":"slow"}"#)
            let slow = try await client.next()
            #expect(slow["type"] as? String == "error")
            #expect(slow["code"] as? String == "upstream_timeout")
            #expect(slow["correlationId"] as? String == "slow")

            upstream.set(.resetBeforeResponse)
            client.send(#"{"action":"flaky","correlationId":"reset"}"#)
            let reset = try await client.next()
            #expect(reset["type"] as? String == "error")
            #expect(reset["code"] as? String == "upstream_error")

            upstream.set(.status(503))
            client.send(#"{"action":"flaky","correlationId":"busy"}"#)
            let busy = try await client.next()
            #expect(busy["type"] as? String == "error")
            #expect(busy["code"] as? String == "unavailable")
            #expect(busy["status"] as? Int == 503)

            upstream.set(.ok)
            client.send(#"{"action":"flaky","correlationId":"again"}"#)
            let again = try await client.next()
            #expect(again["correlationId"] as? String == "again")
            #expect((again["data"] as? [String: Any])?["upstream"] as? String == "faulty")

            // The other transport, from the same connection.
            client.send(#"{"action":"other","correlationId":"h2"}"#)
            let other = try await client.next()
            #expect(other["correlationId"] as? String == "h2")
            #expect((other["data"] as? [String: Any])?["path"] as? String == "/other")
            upstream.set(.status(503))
            client.send(#"{"action":"other","correlationId":"h2-busy"}"#)
            let otherBusy = try await client.next()
            #expect(otherBusy["code"] as? String == "unavailable")
            await client.close()
        }
        await upstream.stop()
    }
}
