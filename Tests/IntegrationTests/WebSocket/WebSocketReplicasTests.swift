// Two websocket-gateway replicas sharing a real redis-server (`bus: redis://…`): the management API of
// one replica pushes to, describes and closes a connection held by the other.
import Foundation
import Testing

@Suite("WebSocket replicas on Redis", .serialized)
struct WebSocketReplicasTests {
    @Test func theManagementAPIReachesConnectionsOnAnyReplica() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let demo = try await DemoServicesProcess.start()
        let yaml = WebSocketGatewayTests.websocketKeys("    bus: \(redis.url)\n")(TestConfig.yaml(demo: demo))
        let first = try await GatewayProcess.start("websocket", configYAML: yaml)
        let second = try await GatewayProcess.start("websocket", configYAML: yaml)
        defer {
            Task {
                await first.stop()
                await second.stop()
                await demo.stop()
            }
        }
        let client = try await TestWebSocketClient.open("ws://127.0.0.1:\(first.port)/ws")
        let id = try #require(try await WebSocketGatewayTests.chatConnections(demo).first)
        let other = second.baseURL

        let pushed = try await WebSocketGatewayTests.http(
            "\(other)/@connections/\(id)", method: .POST, headers: WebSocketGatewayTests.apiKey,
            body: #"{"hello":"from the other replica"}"#)
        #expect(pushed.status == 204)
        #expect(try await client.next()["hello"] as? String == "from the other replica")

        let described = try await WebSocketGatewayTests.http(
            "\(other)/@connections/\(id)", headers: WebSocketGatewayTests.apiKey)
        #expect(described.status == 200)
        #expect(WebSocketGatewayTests.json(described.body)["connectionId"] as? String == id)

        let unknown = try await WebSocketGatewayTests.http(
            "\(other)/@connections/AAAAAAAAAAAAAAAAAAAAAA", headers: WebSocketGatewayTests.apiKey)
        #expect(unknown.status == 410)

        let closed = try await WebSocketGatewayTests.http(
            "\(other)/@connections/\(id)?code=4001&reason=moved", method: .DELETE, headers: WebSocketGatewayTests.apiKey
        )
        #expect(closed.status == 204)
        #expect(
            try await WebSocketGatewayTests.eventually { try await WebSocketGatewayTests.chatConnections(demo).isEmpty }
        )
        // Gone everywhere once the holding replica has let it go.
        #expect(
            try await WebSocketGatewayTests.eventually {
                try await WebSocketGatewayTests.http(
                    "\(other)/@connections/\(id)", headers: WebSocketGatewayTests.apiKey
                )
                .status == 410
            })
        await client.close()
    }
}
