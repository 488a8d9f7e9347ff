// A service's endpoint table under the shared policy: outlier ejection and its growth and cap,
// health thresholds, all-unhealthy behaviour, never retrying on the endpoint that just failed.
import GatewayCore
import Testing

@testable import ServiceClient

@Suite struct UpstreamServiceTests {
    static func service(
        _ count: Int, configure: (inout ServiceConfig) -> Void = { _ in }
    ) -> UpstreamService {
        var config = ServiceConfig(
            endpoints: (0..<count).map { EndpointURL(scheme: "http", host: "127.0.0.1", port: 9000 + $0) })
        configure(&config)
        return UpstreamService(name: "test", config: config)
    }

    func fail(
        _ service: UpstreamService, _ address: UpstreamAddress, times: Int, outcome: UpstreamOutcome = .connectFailed
    ) {
        for _ in 0..<times {
            service.finishTry(address, outcome: outcome, latency: .milliseconds(1))
        }
    }

    @Test func consecutiveFailuresEjectAnEndpoint() throws {
        let service = Self.service(2) {
            $0.outlierDetection = .init(consecutiveFailures: 3, baseEjectionTime: .seconds(30))
        }
        let bad = service.addresses[0]
        fail(service, bad, times: 3)
        #expect(service.snapshot().endpoints[0].ejected)
        for _ in 0..<10 { #expect(try service.select(key: nil, excluding: []) == service.addresses[1]) }
    }

    @Test func successesInBetweenPreventEjection() {
        let service = Self.service(2) { $0.outlierDetection = .init(consecutiveFailures: 3) }
        let address = service.addresses[0]
        for _ in 0..<5 {
            fail(service, address, times: 2, outcome: .response(status: 503))
            service.finishTry(address, outcome: .response(status: 200), latency: .milliseconds(1))
        }
        #expect(!service.snapshot().endpoints[0].ejected)
    }

    @Test func applicationErrorsAreNotFailures() {
        let service = Self.service(2) { $0.outlierDetection = .init(consecutiveFailures: 2) }
        fail(service, service.addresses[0], times: 5, outcome: .response(status: 500))
        #expect(!service.snapshot().endpoints[0].ejected)
    }

    @Test func ejectionIsCappedByPercent() {
        let service = Self.service(4) { $0.outlierDetection = .init(consecutiveFailures: 1, maxEjectionPercent: 50) }
        for address in service.addresses { fail(service, address, times: 1) }
        #expect(service.snapshot().endpoints.filter(\.ejected).count == 2)
    }

    @Test func theOnlyEndpointIsNeverEjected() throws {
        let service = Self.service(1) { $0.outlierDetection = .init(consecutiveFailures: 1) }
        fail(service, service.addresses[0], times: 5)
        #expect(!service.snapshot().endpoints[0].ejected)
        #expect(try service.select(key: nil, excluding: []) == service.addresses[0])
    }

    @Test func repeatedEjectionsLastLonger() {
        let service = Self.service(2) {
            $0.outlierDetection = .init(
                consecutiveFailures: 1, baseEjectionTime: .milliseconds(50), maxEjectionTime: .seconds(1))
        }
        let address = service.addresses[0]
        fail(service, address, times: 1)
        let first = service.snapshot().endpoints[0].ejectedForSeconds ?? 0
        #expect(first <= 0.05)
        // Wait out the ejection; the next selection lifts it.
        while service.snapshot().endpoints[0].ejected {}
        _ = try? service.select(key: nil, excluding: [])
        fail(service, address, times: 1)
        let second = service.snapshot().endpoints[0].ejectedForSeconds ?? 0
        #expect(second > 0.05 && second <= 0.1)
        #expect(service.snapshot().endpoints[0].ejections == 2)
    }

    @Test func healthThresholdsDecideTheState() {
        let service = Self.service(2) {
            $0.healthCheck = HealthCheckConfig(healthyThreshold: 2, unhealthyThreshold: 2)
        }
        let address = service.addresses[0]
        #expect(service.snapshot().endpoints[0].health == "unknown")
        service.recordHealthCheck(address, healthy: true)
        #expect(service.snapshot().endpoints[0].health == "healthy")
        service.recordHealthCheck(address, healthy: false)
        #expect(service.snapshot().endpoints[0].health == "healthy")
        service.recordHealthCheck(address, healthy: false)
        #expect(service.snapshot().endpoints[0].health == "unhealthy")
        for _ in 0..<10 { #expect(try! service.select(key: nil, excluding: []) == service.addresses[1]) }
        service.recordHealthCheck(address, healthy: true)
        #expect(service.snapshot().endpoints[0].health == "unhealthy")
        service.recordHealthCheck(address, healthy: true)
        #expect(service.snapshot().endpoints[0].health == "healthy")
    }

    @Test func allUnhealthyFailsFastOrPanics() throws {
        let failFast = Self.service(2) { $0.healthCheck = HealthCheckConfig(unhealthyThreshold: 1) }
        for address in failFast.addresses { failFast.recordHealthCheck(address, healthy: false) }
        #expect(throws: GatewayError.self) { try failFast.select(key: nil, excluding: []) }

        let panic = Self.service(2) {
            $0.healthCheck = HealthCheckConfig(unhealthyThreshold: 1)
            $0.whenAllUnhealthy = .panic
        }
        for address in panic.addresses { panic.recordHealthCheck(address, healthy: false) }
        let picked = Set((0..<4).compactMap { _ in try? panic.select(key: nil, excluding: []) })
        #expect(picked.count == 2)
    }

    @Test func aRetryAvoidsTheEndpointThatJustFailed() throws {
        let service = Self.service(3)
        let call = try service.beginCall()
        let first = try call.nextEndpoint()
        #expect(call.finishTry(.connectFailed, request: .init(isIdempotent: true, bodyReplayable: true)))
        for _ in 0..<5 {
            let next = try service.select(key: nil, excluding: [first])
            #expect(next != first)
            service.finishTry(next, outcome: .cancelled, latency: .zero)
        }
        call.finish(.cancelled)
    }

    @Test func discoveryKeepsStateOfEndpointsThatStay() {
        let service = Self.service(2) { $0.outlierDetection = .init(consecutiveFailures: 1) }
        let kept = service.addresses[0]
        fail(service, kept, times: 1)
        let added = UpstreamAddress(url: EndpointURL(scheme: "http", host: "127.0.0.1", port: 9100))
        service.updateEndpoints([(kept, 1), (added, 2)])
        let snapshot = service.snapshot()
        #expect(snapshot.endpoints.count == 2)
        #expect(snapshot.endpoints[0].ejected)
        #expect(snapshot.endpoints[1].weight == 2)
    }
}
