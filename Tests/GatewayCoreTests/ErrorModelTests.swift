// The error model: codes map to each protocol's wire form, and problem details are valid RFC 9457 JSON.
import Foundation
import Testing

@testable import GatewayCore

@Suite("Error model")
struct ErrorModelTests {
    @Test func codesMapToEveryProtocol() {
        #expect(GatewayError.Code.upstreamConnectFailed.httpStatus == 502)
        #expect(GatewayError.Code.noHealthyUpstream.httpStatus == 503)
        #expect(GatewayError.Code.upstreamTimeout.httpStatus == 504)
        #expect(GatewayError.Code.upstreamTimeout.grpcStatus == 4)
        #expect(GatewayError.Code.unauthenticated.grpcStatus == 16)
        #expect(GatewayError.Code.payloadTooLarge.webSocketCloseCode == 1009)
        #expect(GatewayError.Code.requestTimeout.httpStatus == 408)
        #expect(GatewayError.Code.headersTooLarge.httpStatus == 431)
        #expect(GatewayError.Code.headersTooLarge.title == "Request Header Fields Too Large")
    }

    @Test func statusesMapBackToCodes() {
        #expect(GatewayError.Code(httpStatus: 401) == .unauthenticated)
        #expect(GatewayError.Code(httpStatus: 418) == .badRequest)
        #expect(GatewayError.Code(httpStatus: 504) == .upstreamTimeout)
        #expect(GatewayError.Code(httpStatus: 500) == .internalError)
        // The gateway's own client-side codes are not what another party's 408 or 431 means.
        #expect(GatewayError.Code(httpStatus: 408) == .badRequest)
        #expect(GatewayError.Code(httpStatus: 431) == .badRequest)
        for code in [GatewayError.Code.badRequest, .notFound, .payloadTooLarge, .rateLimited, .upstreamTimeout] {
            #expect(GatewayError.Code(httpStatus: code.httpStatus) == code)
        }
    }

    @Test func problemDetailsAreJSON() throws {
        let error = GatewayError(
            .upstreamTimeout, "service 'users' did not answer \"in time\"", details: ["service": "users"])
        let json =
            try JSONSerialization.jsonObject(with: Data(error.problemDetails(instance: "/api/users", requestID: "r1")))
            as? [String: Any]
        #expect(json?["status"] as? Int == 504)
        #expect(json?["title"] as? String == "Gateway Timeout")
        #expect(json?["code"] as? String == "upstream_timeout")
        #expect(json?["detail"] as? String == "service 'users' did not answer \"in time\"")
        #expect(json?["instance"] as? String == "/api/users")
        #expect(json?["requestId"] as? String == "r1")
        #expect(json?["service"] as? String == "users")
    }

    @Test func traceContext() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let trace = GatewayTraceContext(traceparent: incoming, tracestate: nil)
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.traceparent.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
        #expect(!trace.traceparent.contains("00f067aa0ba902b7"))
        let fresh = GatewayTraceContext(traceparent: "garbage", tracestate: nil)
        #expect(fresh.incoming == nil)
        #expect(fresh.traceparent.count == 55)
        // The hand-formatted new trace is one W3CTraceContext reads back unchanged, and each is new.
        #expect(fresh.outgoing.traceParentHeaderValue == fresh.traceparent)
        #expect(fresh.traceparent.hasSuffix("-01"))
        #expect(GatewayTraceContext(traceparent: nil, tracestate: nil).traceID != fresh.traceID)
    }

    @Test func requestIDs() {
        #expect(RequestID.accept("abc-123") == "abc-123")
        #expect(RequestID.accept("bad id") != "bad id")
        #expect(RequestID.accept(nil).count == 32)
    }
}
