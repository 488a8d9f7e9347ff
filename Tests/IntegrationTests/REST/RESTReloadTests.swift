// Hot reload of the REST gateway under load: POST /reload and SIGHUP swap routes, policies and
// services with no failed request; an invalid file is refused and changes nothing.
import Foundation
import Synchronization
import Testing

@Suite("REST hot reload", .serialized)
struct RESTReloadTests {
    static func config(upstream: FaultyUpstream, version: String, extraRoute: Bool = false) -> String {
        """
        services:
          svc: { endpoints: ["\(upstream.url)"] }
        gateways:
          rest:
            routes:
              - { name: api, match: { prefix: /api }, service: svc, headers: { response: { set: { X-Version: "\(version)" } } } }
        \(extraRoute ? "      - { name: added, match: { prefix: /added }, service: svc }" : "")
        """
    }

    final class Counters: Sendable {
        let sent = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let lastVersion = Mutex<String?>(nil)
        let lastUpstream = Mutex<String?>(nil)
        let stop = Atomic<Bool>(false)
    }

    @Test func reloadsUnderLoadWithoutFailures() async throws {
        let a = try await FaultyUpstream.start(name: "a")
        let b = try await FaultyUpstream.start(name: "b")
        let gateway = try await GatewayProcess.start("rest", configYAML: Self.config(upstream: a, version: "1"))
        let counters = Counters()
        let load = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while !counters.stop.load(ordering: .relaxed) {
                            counters.sent.add(1, ordering: .relaxed)
                            do {
                                let reply = try await Resilience.call(gateway.baseURL + "/api/x")
                                if reply.status != 200 { counters.failed.add(1, ordering: .relaxed) }
                                counters.lastVersion.withLock { $0 = reply.headers.first(name: "x-version") }
                                counters.lastUpstream.withLock { $0 = reply.upstream }
                            } catch {
                                counters.failed.add(1, ordering: .relaxed)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        func reload() async throws -> Resilience.Reply {
            try await Resilience.call(gateway.adminURL + "/reload", method: .POST)
        }
        // The load is flowing (on a busy machine the first answers can take a while).
        #expect(try await Resilience.eventually { counters.lastVersion.withLock { $0 } == "1" })

        // A new policy, a new route and a new endpoint for the service, all at once.
        try Self.config(upstream: b, version: "2", extraRoute: true).write(
            toFile: gateway.configPath, atomically: true, encoding: .utf8)
        let applied = try await reload()
        #expect(applied.status == 200)
        #expect(applied.text.contains("\"reloaded\""))
        #expect(try await Resilience.eventually { counters.lastVersion.withLock { $0 } == "2" })
        #expect(try await Resilience.eventually { counters.lastUpstream.withLock { $0 } == "b" })
        #expect(try await Resilience.call(gateway.baseURL + "/added/x").status == 200)
        #expect(try await Resilience.call(gateway.adminURL + "/routes").text.contains("\"added\""))

        // gatewayctl reload does the same as POST /reload.
        let ctl = try RunningProcess(
            name: "gatewayctl", executable: "gatewayctl",
            arguments: ["reload", "--admin", "127.0.0.1:\(gateway.adminPort)"], environment: [:])
        #expect(await ctl.waitForExit(timeout: .seconds(20)) == 0)
        #expect(ctl.output.contains("\"reloaded\""))

        // An invalid file is refused with its errors and changes nothing.
        try "services:\n  svc: { endpoints: [\"\(b.url)\"], bogus: 1 }\n".write(
            toFile: gateway.configPath, atomically: true, encoding: .utf8)
        let refused = try await reload()
        #expect(refused.status == 400)
        #expect(refused.text.contains("bogus"))
        #expect(try await Resilience.call(gateway.baseURL + "/added/x").status == 200)

        // SIGHUP does the same as POST /reload.
        try Self.config(upstream: b, version: "3").write(toFile: gateway.configPath, atomically: true, encoding: .utf8)
        kill(gateway.process.process.processIdentifier, SIGHUP)
        #expect(try await Resilience.eventually { counters.lastVersion.withLock { $0 } == "3" })
        #expect(
            try await Resilience.eventually { try await Resilience.call(gateway.baseURL + "/added/x").status == 404 })

        // Keep the load on for a while after the last reload (slow machines send fewer requests per second).
        _ = try await Resilience.eventually(timeout: .seconds(30)) { counters.sent.load(ordering: .relaxed) >= 300 }
        counters.stop.store(true, ordering: .relaxed)
        try await load.value
        let sent = counters.sent.load(ordering: .relaxed)
        print("reload under load: \(sent) requests, \(counters.failed.load(ordering: .relaxed)) failed, 3 reloads")
        #expect(sent >= 300)
        #expect(
            counters.failed.load(ordering: .relaxed) == 0,
            "\(counters.failed.load(ordering: .relaxed)) of \(sent) failed")
        await gateway.stop()
        await a.stop()
        await b.stop()
    }
}
