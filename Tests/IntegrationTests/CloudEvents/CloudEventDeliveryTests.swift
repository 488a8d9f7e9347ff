// Unit tests of the delivery side: trigger filter matching, binary-mode encoding, the bounded queue and
// the retrying deliverer (with a fake ServiceClient send). No sockets.
import GatewayCore
import Logging
import ServiceClient
import Synchronization
import Testing

@testable import CloudEventsGateway

@Suite("CloudEvents delivery")
struct CloudEventDeliveryTests {
    static let event = CloudEvent(
        id: "e-1", source: "/shop/orders", type: "shop.order.created", datacontenttype: "application/json",
        subject: "orders/o-1", extensions: ["tenant": "acme"], data: Array("{\"a\":1}".utf8))

    // MARK: filters

    @Test func emptyFilterMatchesEverything() {
        #expect(CloudEventFilter().matches(Self.event))
    }

    @Test func exactPrefixSuffix() {
        #expect(CloudEventFilter(exact: ["type": "shop.order.created"]).matches(Self.event))
        #expect(!CloudEventFilter(exact: ["type": "shop.order"]).matches(Self.event))
        #expect(CloudEventFilter(prefix: ["type": "shop."]).matches(Self.event))
        #expect(!CloudEventFilter(prefix: ["type": "other."]).matches(Self.event))
        #expect(CloudEventFilter(suffix: ["type": ".created"]).matches(Self.event))
        #expect(!CloudEventFilter(suffix: ["type": ".deleted"]).matches(Self.event))
        #expect(CloudEventFilter(exact: ["tenant": "acme"]).matches(Self.event))
        #expect(CloudEventFilter(prefix: ["subject": "orders/"]).matches(Self.event))
    }

    @Test func allConditionsMustHold() {
        let filter = CloudEventFilter(
            exact: ["source": "/shop/orders"], prefix: ["type": "shop."], suffix: ["type": ".created"])
        #expect(filter.matches(Self.event))
        var other = Self.event
        other.type = "shop.order.deleted"
        #expect(!filter.matches(other))
        other = Self.event
        other.source = "/elsewhere"
        #expect(!filter.matches(other))
    }

    @Test func absentAttributeMatchesNoCondition() {
        #expect(!CloudEventFilter(exact: ["region": "eu"]).matches(Self.event))
        #expect(!CloudEventFilter(prefix: ["time": ""]).matches(Self.event))
        #expect(!CloudEventFilter(suffix: ["dataschema": ""]).matches(Self.event))
    }

    @Test func triggersMatchingAnEvent() {
        let triggers = [
            CloudEventTrigger(name: "shop", filter: .init(prefix: ["type": "shop."]), service: "notifications"),
            CloudEventTrigger(name: "other", filter: .init(prefix: ["type": "other."]), service: "notifications"),
            CloudEventTrigger(name: "all", filter: .init(), service: "audit", path: "/events"),
        ]
        #expect(triggers.matching(Self.event).map(\.name) == ["shop", "all"])
    }

    // MARK: binary-mode encoding

    @Test func binaryModeEncoding() {
        var event = Self.event
        event.extensions["note"] = "50% \"off\" €"
        let message = BinaryModeEncoder.encode(event)
        let headers = Dictionary(message.headers, uniquingKeysWith: { first, _ in first })
        #expect(headers["ce-specversion"] == "1.0")
        #expect(headers["ce-id"] == "e-1")
        #expect(headers["ce-source"] == "/shop/orders")
        #expect(headers["ce-type"] == "shop.order.created")
        #expect(headers["ce-subject"] == "orders/o-1")
        #expect(headers["ce-tenant"] == "acme")
        #expect(headers["ce-note"] == "50%25%20%22off%22%20%E2%82%AC")
        #expect(headers["content-type"] == "application/json")
        #expect(headers["ce-datacontenttype"] == nil)
        #expect(message.body == event.data)
    }

    @Test func binaryModeRoundTrip() throws {
        var event = Self.event
        event.extensions["note"] = "ünïcode \"quotes\" 100%"
        event.time = "2024-05-01T12:00:00Z"
        let message = BinaryModeEncoder.encode(event)
        let decoded = try CloudEventsHTTPDecoder.decode(
            contentType: "application/json", headers: message.headers.map { (name: $0.0, value: $0.1) },
            body: message.body ?? [], maxBatchSize: 1)
        #expect(decoded.events == [event])
    }

    // MARK: queue

    @Test func queueIsBoundedAndAllOrNothing() async {
        let queue = DeliveryQueue<Int>(capacity: 3)
        #expect(queue.enqueue(contentsOf: [1, 2]) == .enqueued)
        #expect(queue.enqueue(contentsOf: [3, 4]) == .full)
        #expect(queue.count == 2)
        #expect(queue.enqueue(contentsOf: [3]) == .enqueued)
        #expect(await queue.next() == 1)
        queue.finish()
        #expect(queue.enqueue(contentsOf: [9]) == .finished)
        #expect(await queue.next() == 2)
        #expect(await queue.next() == 3)
        #expect(await queue.next() == nil)
    }

    @Test func queueHandsElementsToWaitingConsumers() async {
        let queue = DeliveryQueue<Int>(capacity: 1)
        async let first = queue.next()
        while queue.waitingConsumers == 0 { await Task.yield() }
        #expect(queue.enqueue(contentsOf: [7, 8]) == .enqueued)  // one goes straight to the waiter
        #expect(await first == 7)
        #expect(await queue.next() == 8)
    }

    @Test func cancelledConsumerGetsNil() async {
        let queue = DeliveryQueue<Int>(capacity: 1)
        let task = Task { await queue.next() }
        task.cancel()
        #expect(await task.value == nil)
    }

    // MARK: retries

    @Test func backoffGrowsExponentiallyAndIsCapped() {
        let policy = RetryPolicy(attempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        #expect(policy.delay(afterAttempt: 1, jitter: 1) == .milliseconds(100))
        #expect(policy.delay(afterAttempt: 2, jitter: 1) == .milliseconds(200))
        #expect(policy.delay(afterAttempt: 3, jitter: 1) == .milliseconds(400))
        #expect(policy.delay(afterAttempt: 9, jitter: 1) == .seconds(1))
        #expect(policy.delay(afterAttempt: 2, jitter: 0) == .milliseconds(100))
    }

    /// A fake `ServiceClient.send` answering from a script and recording the requests.
    final class FakeSubscriber: Sendable {
        let script: Mutex<[Result<Int, GatewayError>]>
        let requests = Mutex<[(UpstreamRequest, String)]>([])

        init(_ script: [Result<Int, GatewayError>]) { self.script = Mutex(script) }

        func send(_ request: UpstreamRequest, _ service: String) throws(GatewayError) -> UpstreamResponse {
            requests.withLock { $0.append((request, service)) }
            let next = script.withLock { $0.isEmpty ? .success(200) : $0.removeFirst() }
            switch next {
            case .success(let status): return UpstreamResponse(status: status, headers: [], body: [])
            case .failure(let error): throw error
            }
        }

        var count: Int { requests.withLock { $0.count } }
    }

    func deliver(_ script: [Result<Int, GatewayError>], attempts: Int = 3) async -> (DeliveryOutcome, FakeSubscriber) {
        let fake = FakeSubscriber(script)
        let deliverer = CloudEventDeliverer(
            send: { request, service, _ throws(GatewayError) in try fake.send(request, service) },
            policy: RetryPolicy(attempts: attempts, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2)),
            metrics: DeliveryMetrics(triggers: []), logger: Logger(label: "test"))
        let job = DeliveryJob(
            event: Self.event,
            trigger: CloudEventTrigger(name: "t", filter: .init(), service: "notifications", path: "/in"),
            context: UpstreamCallContext(requestID: "r-1"))
        return (await deliverer.deliver(job), fake)
    }

    @Test func deliversInBinaryModeToTheTriggerPath() async throws {
        let (outcome, fake) = await deliver([.success(202)])
        #expect(outcome == .delivered)
        let (request, service) = try #require(fake.requests.withLock { $0.first })
        #expect(service == "notifications")
        #expect(request.method == "POST" && request.path == "/in")
        #expect(request.headers.contains { $0.0 == "ce-id" && $0.1 == "e-1" })
        #expect(request.body == Self.event.data)
    }

    @Test func retriesTransientFailuresThenDelivers() async {
        let (outcome, fake) = await deliver([
            .failure(GatewayError(.upstreamConnectFailed, "refused")), .success(503), .success(200),
        ])
        #expect(outcome == .delivered)
        #expect(fake.count == 3)
    }

    @Test func exhaustedAttemptsFail() async {
        let (outcome, fake) = await deliver([.success(500), .success(502), .success(504), .success(200)])
        #expect(outcome == .failed)
        #expect(fake.count == 3)
    }

    @Test func clientErrorsAreNotRetried() async {
        let (outcome, fake) = await deliver([.success(400)])
        #expect(outcome == .rejected)
        #expect(fake.count == 1)
    }
}
