// End-to-end tests of cloudevents-gateway: real demo-services and gateway processes on port 0; events go
// in in every content mode and must come out at the notifications service in binary mode.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@Suite("CloudEvents gateway", .serialized)
struct CloudEventsGatewayTests {
    struct Reply {
        var status: Int
        var headers: [(String, String)]
        var body: String
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
    }

    static func send(
        _ client: HTTPClient, _ url: String, method: HTTPMethod = .POST, headers: [(String, String)] = [],
        body: String? = nil
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(Array(body.utf8)) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let buffer = try await response.body.collect(upTo: 1 << 20)
        return Reply(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
            body: String(buffer: buffer))
    }

    static func event(_ id: String, type: String = "shop.order.created", extra: String = "") -> String {
        #"{"specversion":"1.0","id":"\#(id)","source":"/tests/shop","type":"\#(type)"\#(extra)}"#
    }

    /// The events the notifications service received, by id.
    static func received(_ client: HTTPClient, _ demo: DemoServicesProcess) async throws -> [String: [String: Any]] {
        let reply = try await send(client, "http://127.0.0.1:\(demo.notificationsPort)/received", method: .GET)
        let list = (try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]]) ?? []
        var byID: [String: [String: Any]] = [:]
        for event in list { if let id = event["id"] as? String { byID[id] = event } }
        return byID
    }

    @Test func eventsInEveryModeReachTheNotificationsService() async throws {
        let demo = try await DemoServicesProcess.start()
        let gateway: GatewayProcess
        do {
            gateway = try await GatewayProcess.start("cloudevents", configYAML: TestConfig.yaml(demo: demo))
        } catch {
            await demo.stop()
            throw error
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let url = gateway.baseURL + "/"
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            // Binary mode, with a trace context.
            let binary = try await Self.send(
                client, url,
                headers: [
                    ("ce-specversion", "1.0"), ("ce-id", "bin-1"), ("ce-source", "/tests/shop"),
                    ("ce-type", "shop.order.created"), ("ce-tenant", "acme"), ("content-type", "application/json"),
                    ("traceparent", "00-\(traceID)-00f067aa0ba902b7-01"),
                ], body: #"{"orderId":"o-1","totalCents":1250}"#)
            #expect(binary.status == 202)
            #expect(binary.json?["accepted"] as? Int == 1)
            // Structured mode, data_base64.
            let structured = try await Self.send(
                client, url, headers: [("content-type", "application/cloudevents+json")],
                body: Self.event("str-1", extra: #","datacontenttype":"text/plain","data_base64":"aGVsbG8=""#))
            #expect(structured.status == 202)
            // Batched mode: one event for the notifications trigger, one for nobody.
            let batch = try await Self.send(
                client, url, headers: [("content-type", "application/cloudevents-batch+json")],
                body:
                    "[\(Self.event("bat-1", extra: #","data":{"n":1}"#)),\(Self.event("other-1", type: "other.thing"))]"
            )
            #expect(batch.status == 202)
            #expect(batch.json?["accepted"] as? Int == 2)
            // An event no trigger wants, in binary mode.
            let other = try await Self.send(
                client, url,
                headers: [
                    ("ce-specversion", "1.0"), ("ce-id", "other-2"), ("ce-source", "/x"), ("ce-type", "other.thing"),
                ])
            #expect(other.status == 202)

            var received: [String: [String: Any]] = [:]
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                received = try await Self.received(client, demo)
                if ["bin-1", "str-1", "bat-1"].allSatisfy({ received[$0] != nil }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(Set(received.keys) == ["bin-1", "str-1", "bat-1"])
            #expect(received["other-1"] == nil && received["other-2"] == nil)
            for id in ["bin-1", "str-1", "bat-1"] {
                #expect(received[id]?["mode"] as? String == "binary", "delivered in binary mode: \(id)")
                #expect(received[id]?["type"] as? String == "shop.order.created")
            }
            let delivered = try #require(received["bin-1"])
            #expect((delivered["data"] as? [String: Any])?["orderId"] as? String == "o-1")
            #expect((delivered["extensions"] as? [String: String])?["tenant"] == "acme")
            let traceparent = try #require(delivered["traceparent"] as? String)
            #expect(traceparent.split(separator: "-").dropFirst().first.map(String.init) == traceID)
            #expect(received["str-1"]?["data"] as? String == "hello")
            #expect((received["bat-1"]?["data"] as? [String: Any])?["n"] as? Int == 1)

            let metrics = try await Self.send(client, gateway.adminURL + "/metrics", method: .GET)
            let deliveredLine = metrics.body.split(separator: "\n").first {
                $0.hasPrefix("portico_cloudevents_delivered_total") && $0.contains("outcome=\"delivered\"")
                    && $0.contains("trigger=\"shop-events-to-notifications\"")
            }
            #expect(deliveredLine?.hasSuffix(" 3") == true, "\(deliveredLine ?? "no delivered metric")")
        } catch {
            Issue.record("gateway output:\n\(gateway.process.output)")
            throw error
        }
        try await client.shutdown()
        #expect(await gateway.stop() == 0)
        await demo.stop()
    }

    @Test func gracefulShutdownDrainsTheQueue() async throws {
        let demo = try await DemoServicesProcess.start()
        let gateway: GatewayProcess
        do {
            gateway = try await GatewayProcess.start("cloudevents", configYAML: TestConfig.yaml(demo: demo))
        } catch {
            await demo.stop()
            throw error
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let count = 100
        let events = (0..<count).map { Self.event("drain-\($0)", extra: #","data":{"n":\#($0)}"#) }
        let reply = try await Self.send(
            client, gateway.baseURL + "/", headers: [("content-type", "application/cloudevents-batch+json")],
            body: "[\(events.joined(separator: ","))]")
        #expect(reply.status == 202)
        // SIGTERM right away: the listener stops, then the worker delivers what is still queued.
        #expect(await gateway.stop() == 0)
        let received = try await Self.received(client, demo)
        #expect(received.keys.filter { $0.hasPrefix("drain-") }.count == count)
        #expect(gateway.process.output.contains(#""dropped":"0""#))
        try await client.shutdown()
        await demo.stop()
    }

    @Test func invalidRequestsAreRefusedWithProblemDetails() async throws {
        let demo = try await DemoServicesProcess.start()
        let gateway: GatewayProcess
        do {
            gateway = try await GatewayProcess.start("cloudevents", configYAML: TestConfig.yaml(demo: demo))
        } catch {
            await demo.stop()
            throw error
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let url = gateway.baseURL + "/"
            let missingType = try await Self.send(
                client, url, headers: [("ce-specversion", "1.0"), ("ce-id", "bad-1"), ("ce-source", "/x")])
            #expect(missingType.status == 400)
            #expect(
                missingType.headers.contains {
                    $0.0.lowercased() == "content-type" && $0.1 == "application/problem+json"
                })
            #expect(missingType.json?["attribute"] as? String == "type")
            #expect((missingType.json?["detail"] as? String)?.contains("type") == true)

            let badTime = try await Self.send(
                client, url, headers: [("content-type", "application/cloudevents+json")],
                body: Self.event("bad-2", extra: #","time":"not-a-time""#))
            #expect(badTime.status == 400)
            #expect(badTime.json?["attribute"] as? String == "time")

            let badBatch = try await Self.send(
                client, url, headers: [("content-type", "application/cloudevents-batch+json")],
                body: "[\(Self.event("ok-1")),{\"specversion\":\"0.3\",\"id\":\"x\",\"source\":\"/x\",\"type\":\"t\"}]")
            #expect(badBatch.status == 400)
            #expect(badBatch.json?["attribute"] as? String == "specversion")
            #expect(badBatch.json?["index"] as? String == "1")
            #expect((badBatch.json?["detail"] as? String)?.contains("whole batch was rejected") == true)

            let empty = try await Self.send(
                client, url, headers: [("content-type", "application/cloudevents-batch+json")], body: "[]")
            #expect(empty.status == 400)

            let tooMany = Array(repeating: Self.event("n"), count: 101).joined(separator: ",")
            let oversized = try await Self.send(
                client, url, headers: [("content-type", "application/cloudevents-batch+json")], body: "[\(tooMany)]")
            #expect(oversized.status == 413)

            let unsupported = try await Self.send(
                client, url, headers: [("content-type", "application/xml")], body: "<event/>")
            #expect(unsupported.status == 415)

            let wrongMethod = try await Self.send(client, url, method: .GET)
            #expect(wrongMethod.status == 405)

            // None of the refused events, not even the valid one of the bad batch, was delivered.
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await Self.received(client, demo).isEmpty)
        } catch {
            Issue.record("gateway output:\n\(gateway.process.output)")
            throw error
        }
        try await client.shutdown()
        await gateway.stop()
        await demo.stop()
    }

    /// A subscriber that refuses connections, a one-delivery queue and an API-key policy.
    static let failingConfig = """
        services:
          notifications:
            endpoints: ["http://127.0.0.1:1"]
            connectTimeout: 300ms
        auth:
          apiKeys:
            - name: publisher
              key: publisher-key
              scopes: [events:publish]
        observability:
          logLevel: info
          logFormat: json
        gateways:
          cloudevents:
            auth: { require: apiKey, scopes: ["events:publish"] }
            queueCapacity: 1
            deliveryAttempts: 2
            triggers:
              - name: dead-subscriber
                service: notifications
                path: /

        """

    @Test func authQueueLimitAndExhaustedDeliveries() async throws {
        let gateway = try await GatewayProcess.start("cloudevents", configYAML: Self.failingConfig)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let url = gateway.baseURL + "/"
            let json = ("content-type", "application/cloudevents+json")
            let anonymous = try await Self.send(client, url, headers: [json], body: Self.event("anon-1"))
            #expect(anonymous.status == 401)

            let key = ("X-API-Key", "publisher-key")
            // More deliveries than the idle consumers plus the queue can take: refused whole, with 503.
            let flood = (0..<20).map { Self.event("flood-\($0)") }.joined(separator: ",")
            let refused = try await Self.send(
                client, url, headers: [key, ("content-type", "application/cloudevents-batch+json")], body: "[\(flood)]")
            #expect(refused.status == 503)
            #expect(refused.json?["code"] as? String == "unavailable")
            #expect(refused.headers.contains { $0.0.lowercased() == "retry-after" })

            let accepted = try await Self.send(client, url, headers: [json, key], body: Self.event("doomed-1"))
            #expect(accepted.status == 202)
            let line = try await gateway.process.waitForLine(timeout: .seconds(10)) {
                $0.contains("cloudevent not delivered") && $0.contains("doomed-1")
            }
            #expect(line.contains("\"outcome\":\"failed\""))
            #expect(line.contains("\"attempts\":\"2\""))
            #expect(!gateway.process.output.contains("flood-"))

            let metrics = try await Self.send(client, gateway.adminURL + "/metrics", method: .GET)
            let failedLine = metrics.body.split(separator: "\n").first {
                $0.hasPrefix("portico_cloudevents_delivered_total") && $0.contains("outcome=\"failed\"")
            }
            #expect(failedLine?.hasSuffix(" 1") == true, "\(failedLine ?? "no failed metric")")
        } catch {
            Issue.record("gateway output:\n\(gateway.process.output)")
            throw error
        }
        try await client.shutdown()
        #expect(await gateway.stop() == 0)
    }
}
