// The REST gateway as a client sees it: the demo contract, header handling, streaming, limits, upstream
// failures as problem details, malformed HTTP, graceful drain and config errors. Real processes.
import AsyncHTTPClient
import Foundation
import GatewayCore
import NIOCore
import NIOHTTP1
import Testing

@Suite("REST gateway", .serialized)
struct RESTGatewayTests {
    static func config(upstream: Int) -> String {
        """
        services:
          echo:
            endpoints: ["http://127.0.0.1:\(upstream)"]
            requestTimeout: 20s  # generous: the whole suite runs at once on two cores
          dead:
            endpoints: ["http://127.0.0.1:1"]
            connectTimeout: 500ms
        auth:
          jwt:
            issuer: portico-demo
            audiences: [portico]
            keys:
              - { kid: demo, algorithm: HS256, secret: \(TestConfig.demoSecret) }
          apiKeys:
            - { name: ops, key: ops-key, scopes: [admin] }
        limits:
          maxRequestBodySize: 64KiB
        gateways:
          rest:
            routes:
              - { name: echo, match: { prefix: /echo }, service: echo }
              - { name: stream, match: { prefix: /stream }, service: echo }
              - { name: secure, match: { prefix: /secure }, service: echo, rewrite: { stripPrefix: /secure, addPrefix: /echo }, auth: { require: any } }
              - { name: slow, match: { path: /slow }, service: echo, rewrite: { path: /hang }, timeout: 500ms }
              - { name: delayed, match: { path: "/delay/{ms}" }, service: echo }
              - { name: dead, match: { prefix: /dead }, service: dead }
        """
    }

    static func withGateway(_ body: (GatewayProcess, TestUpstream) async throws -> Void) async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: config(upstream: upstream.port))
        do {
            try await body(gateway, upstream)
        } catch {
            await gateway.stop()
            upstream.stop()
            throw error
        }
        await gateway.stop()
        upstream.stop()
    }

    static func get(_ url: String, headers: [(String, String)] = [], method: HTTPMethod = .GET, body: [UInt8]? = nil)
        async throws -> (status: Int, headers: HTTPHeaders, body: [UInt8])
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), response.headers, buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    static func json(_ bytes: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }

    @Test func demoContract() async throws {
        let demo = try await DemoServicesProcess.start()
        let gateway = try await GatewayProcess.start("rest", configYAML: TestConfig.yaml(demo: demo))
        defer {
            Task {
                await gateway.stop(); await demo.stop()
            }
        }
        let base = gateway.baseURL

        let list = try await Self.get("\(base)/api/users")
        #expect(list.status == 200)
        let users = (try? JSONSerialization.jsonObject(with: Data(list.body))) as? [[String: Any]]
        #expect(users?.count ?? 0 >= 3)
        #expect(list.headers.first(name: "x-request-id")?.count == 32)

        let one = try await Self.get("\(base)/api/users/1")
        #expect(Self.json(one.body)["name"] as? String == "Ada Lovelace")
        #expect(try await Self.get("\(base)/api/users/999").status == 404)

        let body = Array(#"{"name":"Lin","email":"lin@example.com"}"#.utf8)
        let anonymous = try await Self.get("\(base)/api/users", method: .POST, body: body)
        #expect(anonymous.status == 401)
        #expect(anonymous.headers.first(name: "content-type") == "application/problem+json")
        #expect(Self.json(anonymous.body)["code"] as? String == "unauthenticated")

        let noScope = try await TokenMinter.hs256(
            secret: TestConfig.demoSecret, subject: "bob", issuer: "portico-demo", audience: "portico", kid: "demo")
        #expect(
            try await Self.get(
                "\(base)/api/users", headers: [("Authorization", "Bearer \(noScope)")], method: .POST, body: body
            ).status == 403)

        let writer = try await TokenMinter.hs256(
            secret: TestConfig.demoSecret, subject: "alice", scopes: ["users:write"], issuer: "portico-demo",
            audience: "portico", kid: "demo")
        let created = try await Self.get(
            "\(base)/api/users",
            headers: [("Authorization", "Bearer \(writer)"), ("Content-Type", "application/json")],
            method: .POST, body: body)
        #expect(created.status == 201)
        #expect(Self.json(created.body)["name"] as? String == "Lin")

        let missing = try await Self.get("\(base)/no/such/route")
        #expect(missing.status == 404)
        #expect(Self.json(missing.body)["type"] as? String == "https://portico.dev/problems/not-found")
        let wrongMethod = try await Self.get("\(base)/api/users/1", method: .DELETE)
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.headers.first(name: "allow") == "GET")

        let metrics = String(decoding: try await Self.get("\(gateway.adminURL)/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"portico_requests_total{gateway="rest",route="users-list",status="200"}"#))
        #expect(metrics.contains("portico_request_duration_seconds_bucket"))
        #expect(try await Self.get("\(gateway.adminURL)/readyz").status == 200)
        #expect(try await Self.get("\(gateway.adminURL)/healthz").status == 200)
    }

    @Test func forwardsWhatItShouldAndNothingElse() async throws {
        try await Self.withGateway { gateway, _ in
            let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            let response = try await Self.get(
                "\(gateway.baseURL)/echo/a%20b?x=1&y=2",
                headers: [
                    ("X-Portico-Subject", "mallory"), ("X-Forwarded-For", "6.6.6.6"), ("Keep-Alive", "timeout=5"),
                    ("Connection", "keep-alive, X-Drop-Me"), ("X-Drop-Me", "1"), ("X-Custom", "kept"),
                    ("traceparent", traceparent), ("X-Request-Id", "req-42"),
                ])
            #expect(response.status == 200)
            let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(response.body))
            #expect(echoed.path == "/echo/a%20b?x=1&y=2")
            #expect(echoed.header("x-portico-subject") == nil)
            #expect(echoed.header("x-forwarded-for") == "127.0.0.1")
            #expect(echoed.header("x-forwarded-proto") == "http")
            #expect(echoed.header("x-forwarded-host") == "127.0.0.1:\(gateway.port)")
            #expect(echoed.header("forwarded")?.hasPrefix("for=127.0.0.1;proto=http") == true)
            #expect(echoed.header("keep-alive") == nil)
            #expect(echoed.header("x-drop-me") == nil)
            #expect(echoed.header("x-custom") == "kept")
            #expect(echoed.header("x-request-id") == "req-42")
            let sent = echoed.header("traceparent") ?? ""
            #expect(sent.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
            #expect(!sent.contains("00f067aa0ba902b7"))
            #expect(response.headers.first(name: "x-request-id") == "req-42")
        }
    }

    @Test func verifiedIdentityIsForwarded() async throws {
        try await Self.withGateway { gateway, _ in
            #expect(try await Self.get("\(gateway.baseURL)/secure/x").status == 401)
            let viaKey = try await Self.get(
                "\(gateway.baseURL)/secure/x", headers: [("X-API-Key", "ops-key"), ("X-Portico-Subject", "mallory")])
            #expect(viaKey.status == 200)
            let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(viaKey.body))
            #expect(echoed.path == "/echo/x")
            #expect(echoed.header("x-portico-subject") == "ops")
            #expect(echoed.header("x-portico-scopes") == "admin")
            #expect(echoed.header("x-portico-auth-method") == "apiKey")
            #expect(try await Self.get("\(gateway.baseURL)/secure/x", headers: [("X-API-Key", "wrong")]).status == 401)
            #expect(
                try await Self.get("\(gateway.baseURL)/secure/x", headers: [("Authorization", "Bearer not.a.jwt")])
                    .status == 401)
        }
    }

    @Test func streamsBodiesBothWays() async throws {
        try await Self.withGateway { gateway, _ in
            let upload = (0..<(60 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let posted = try await Self.get("\(gateway.baseURL)/echo", method: .POST, body: upload)
            let echoed = try JSONDecoder().decode(EchoedRequest.self, from: Data(posted.body))
            #expect(echoed.bodyBytes == upload.count)
            #expect(echoed.bodySHA == fnv1a(upload))
            let download = try await Self.get("\(gateway.baseURL)/stream/4096")
            #expect(download.status == 200)
            #expect(download.body.count == 4096 * 1024)
        }
    }

    @Test func limitsAndUpstreamFailures() async throws {
        try await Self.withGateway { gateway, _ in
            let tooBig = try await Self.get(
                "\(gateway.baseURL)/echo", method: .POST, body: [UInt8](repeating: 1, count: 100 << 10))
            #expect(tooBig.status == 413)
            #expect(Self.json(tooBig.body)["code"] as? String == "payload_too_large")

            let start = ContinuousClock.now
            let slow = try await Self.get("\(gateway.baseURL)/slow")
            #expect(slow.status == 504)
            #expect(Self.json(slow.body)["code"] as? String == "upstream_timeout")
            #expect(ContinuousClock.now - start < .seconds(5))

            let dead = try await Self.get("\(gateway.baseURL)/dead/x")
            #expect(dead.status == 502)
            #expect(Self.json(dead.body)["code"] as? String == "upstream_connect_failed")
            // The gateway is still healthy after all that.
            #expect(try await Self.get("\(gateway.baseURL)/echo").status == 200)
        }
    }

    @Test func malformedHTTPGetsA400AndTheProcessSurvives() async throws {
        try await Self.withGateway { gateway, _ in
            let garbage = try await RawSocket.exchange(port: gateway.port, "THIS IS NOT HTTP\r\n\r\n")
            #expect(garbage.hasPrefix("HTTP/1.1 400"))
            let smuggled = try await RawSocket.exchange(
                port: gateway.port,
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            #expect(smuggled.hasPrefix("HTTP/1.1 400"))
            #expect(try await Self.get("\(gateway.baseURL)/echo").status == 200)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await Self.withGateway { gateway, _ in
            // Three requests in one write; the slow one in the middle must not let the third overtake it.
            let text = try await RawSocket.exchange(
                port: gateway.port,
                "GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\nGET /delay/300 HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /echo/three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", untilClosed: true)
            let one = try #require(text.range(of: #"\/echo\/one"#))
            let slow = try #require(text.range(of: "slow"))
            let three = try #require(text.range(of: #"\/echo\/three"#))
            #expect(one.lowerBound < slow.lowerBound && slow.lowerBound < three.lowerBound)
            #expect(text.components(separatedBy: "HTTP/1.1 200").count == 4)
        }
    }

    @Test func drainsInFlightRequestsOnSIGTERM() async throws {
        let upstream = try await TestUpstream.start()
        defer { upstream.stop() }
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: upstream.port))
        async let slow = Self.get("\(gateway.baseURL)/delay/1500")
        try await Task.sleep(for: .milliseconds(400))
        kill(gateway.process.process.processIdentifier, SIGTERM)
        let response = try await slow
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "slow")
        let status = await gateway.process.waitForExit(timeout: .seconds(15))
        #expect(status == 0)
    }

    @Test func eventLoopsSetsTheNumberOfLoopThreads() async throws {
        let upstream = try await TestUpstream.start()
        defer { upstream.stop() }
        let gateway = try await GatewayProcess.start(
            "rest", configYAML: Self.config(upstream: upstream.port), extraArguments: ["--event-loops", "3"])
        let status = try await Self.get("\(gateway.baseURL)/echo/loops").status
        // NIO names the shared group's loop threads NIO-SGLTN-<group>-#<n>.
        let tasks = "/proc/\(gateway.process.process.processIdentifier)/task"
        let names = try FileManager.default.contentsOfDirectory(atPath: tasks).compactMap {
            try? String(contentsOfFile: "\(tasks)/\($0)/comm", encoding: .utf8)
        }
        await gateway.stop()
        #expect(status == 200)
        #expect(names.filter { $0.hasPrefix("NIO-SGLTN-") }.count == 3)
    }

    @Test(arguments: ["0", "many"]) func eventLoopsOutOfRangeExitsWithStatus2(value: String) async throws {
        let path = try TestConfig.write("services: {}\n")
        let process = try RunningProcess(
            name: "rest-gateway", executable: "rest-gateway", arguments: ["--config", path, "--event-loops", value])
        let status = await process.waitForExit(timeout: .seconds(20))
        #expect(status == 2)
        #expect(process.output.contains("--event-loops: '\(value)' is not a number from 1 to 1024"))
    }

    @Test func invalidConfigExitsWithStatus2BeforeListening() async throws {
        let path = try TestConfig.write(
            "services:\n  users:\n    endpoints: [\"http://127.0.0.1:1\"]\n    retries: 3\n")
        let process = try RunningProcess(
            name: "rest-gateway", executable: "rest-gateway", arguments: ["--config", path])
        let status = await process.waitForExit(timeout: .seconds(20))
        #expect(status == 2)
        #expect(process.output.contains("\(path):4: services.users.retries: unknown key"))
        #expect(!process.output.contains("listening"))
    }
}

/// Sends raw bytes and reads the first response, for malformed-HTTP tests.
enum RawSocket {
    /// A TCP connection to 127.0.0.1:`port` whose reads time out after 15 s; with `receiveBuffer`, the kernel
    /// keeps at most about that much unread for it. The caller closes the descriptor.
    static func connect(port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 15, tv_usec: 0)  // Generous: the suite runs loaded on 2 cores.
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw HarnessError(description: "connect failed")
        }
        return fd
    }

    /// Sends `text` and reads the answer (until the gateway closes, with `untilClosed`). The blocking
    /// reads run on a thread of their own: on the cooperative pool (2 threads here) two of them waiting
    /// for a gateway that calls an in-process test service would starve that service.
    static func exchange(port: Int, _ text: String, untilClosed: Bool = false) async throws -> String {
        try await offPool { try blockingExchange(port: port, text, untilClosed: untilClosed) }
    }

    private static func blockingExchange(port: Int, _ text: String, untilClosed: Bool) throws -> String {
        let fd = try connect(port: port)
        defer { close(fd) }
        _ = text.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        guard untilClosed else {
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
        }
        var received: [UInt8] = []
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }
}
