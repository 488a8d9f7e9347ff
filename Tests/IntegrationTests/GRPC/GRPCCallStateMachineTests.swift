// Unit tests of the proxied call's state machine: relaying, trailers-only versus trailers endings,
// a response that ends while the client still sends, cancellation, and that a call ends exactly once.
import Testing

@testable import GRPCGateway

@Suite("gRPC call state machine")
struct GRPCCallStateMachineTests {
    typealias Machine = GRPCCallStateMachine

    @Test func unaryCallRelaysAndEndsWithTheUpstreamStatus() {
        var machine = Machine()
        machine.receivedRequestHeaders(endStream: false)
        machine.startPreparing()
        #expect(machine.holdsRequestReads)
        #expect(machine.receivedRequestFrame(endStream: true) == .hold)
        let ready = machine.upstreamReady()
        #expect(ready)
        #expect(!machine.holdsRequestReads)
        #expect(machine.relaysRequest)
        let headers = machine.receivedResponseHeaders(endStream: false, grpcStatus: nil)
        #expect(headers == .forward(isFirstHeaders: true, finished: nil))
        #expect(machine.receivedResponseData(endStream: false) == .forward(isFirstHeaders: false, finished: nil))
        let trailers = machine.receivedResponseHeaders(endStream: true, grpcStatus: "0")
        #expect(trailers == .forward(isFirstHeaders: false, finished: .ok))
        #expect(machine.isFinished)
        #expect(machine.status == .ok)
        #expect(machine.end(with: .unavailable) == nil)
        #expect(machine.downstreamClosed() == nil)
        #expect(machine.upstreamClosed() == .none)
    }

    @Test func responseEndingWhileTheClientStillSends() {
        var machine = Machine()
        machine.receivedRequestHeaders(endStream: false)
        machine.startPreparing()
        _ = machine.upstreamReady()
        #expect(machine.receivedRequestFrame(endStream: false) == .forward)
        let trailersOnly = machine.receivedResponseHeaders(endStream: true, grpcStatus: "5")
        #expect(trailersOnly == .forward(isFirstHeaders: true, finished: .notFound))
        #expect(machine.phase == .responseEnded)
        #expect(machine.status == .notFound)
        // The rest of the request still goes upstream; the call is over with its last frame.
        #expect(machine.relaysRequest)
        #expect(machine.end(with: .deadlineExceeded) == nil)
        #expect(machine.receivedResponseData(endStream: false) == .drop)
        #expect(machine.receivedRequestFrame(endStream: false) == .forward)
        #expect(machine.receivedRequestFrame(endStream: true) == .forwardLast)
        #expect(machine.isFinished)
        #expect(machine.status == .notFound)
    }

    @Test func upstreamClosingAfterItsResponseStopsTheClient() {
        var machine = Machine()
        machine.receivedRequestHeaders(endStream: false)
        machine.startPreparing()
        _ = machine.upstreamReady()
        _ = machine.receivedResponseHeaders(endStream: true, grpcStatus: "0")
        #expect(machine.upstreamClosed() == .stopClient)
        #expect(machine.isFinished)
        #expect(machine.receivedRequestFrame(endStream: true) == .drop)

        var broken = Machine()
        broken.receivedRequestHeaders(endStream: false)
        broken.startPreparing()
        _ = broken.upstreamReady()
        _ = broken.receivedResponseHeaders(endStream: false, grpcStatus: nil)
        #expect(broken.upstreamClosed() == .fail)
        #expect(broken.end(with: .unavailable) == .init(trailersOnly: false, status: .unavailable))
    }

    @Test func gatewayErrorsAreTrailersOnlyBeforeResponseHeadersAndTrailersAfter() {
        var early = Machine()
        early.receivedRequestHeaders(endStream: false)
        early.startPreparing()
        #expect(early.end(with: .unavailable) == .init(trailersOnly: true, status: .unavailable))
        let lateReady = early.upstreamReady()
        #expect(!lateReady)
        #expect(early.receivedRequestFrame(endStream: true) == .drop)

        var late = Machine()
        late.receivedRequestHeaders(endStream: false)
        late.startPreparing()
        _ = late.upstreamReady()
        _ = late.receivedRequestFrame(endStream: true)
        _ = late.receivedResponseHeaders(endStream: false, grpcStatus: nil)
        #expect(late.end(with: .deadlineExceeded) == .init(trailersOnly: false, status: .deadlineExceeded))
        #expect(late.receivedResponseData(endStream: false) == .drop)
        #expect(late.status == .deadlineExceeded)
    }

    @Test func clientCancellationEndsTheCallOnce() {
        var machine = Machine()
        machine.receivedRequestHeaders(endStream: false)
        machine.startPreparing()
        _ = machine.upstreamReady()
        #expect(machine.downstreamClosed() == .cancelled)
        #expect(machine.downstreamClosed() == nil)
        #expect(machine.receivedResponseHeaders(endStream: false, grpcStatus: nil) == .drop)

        // A client that resets after the response ended is not a cancellation.
        var after = Machine()
        after.receivedRequestHeaders(endStream: false)
        after.startPreparing()
        _ = after.upstreamReady()
        _ = after.receivedResponseHeaders(endStream: true, grpcStatus: "0")
        #expect(after.downstreamClosed() == nil)
        #expect(after.status == .ok)
    }

    @Test func localRequestsCollectTheirBody() {
        var machine = Machine()
        machine.receivedRequestHeaders(endStream: false)
        machine.startLocalRequest()
        #expect(machine.receivedRequestFrame(endStream: true) == .collect)
        #expect(machine.end(with: .ok) == .init(trailersOnly: true, status: .ok))
    }

    @Test func missingStatusIsUnknown() {
        var machine = Machine()
        machine.receivedRequestHeaders(endStream: true)
        machine.startPreparing()
        _ = machine.upstreamReady()
        let action = machine.receivedResponseHeaders(endStream: true, grpcStatus: nil)
        #expect(action == .forward(isFirstHeaders: true, finished: .unknown))
        #expect(machine.isFinished)
    }
}
