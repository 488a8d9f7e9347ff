// Which routes the byte-level HTTP/1.1 data path serves, and the header names it leaves out when it
// copies a head, worked out once per route when the configuration is loaded. Routes that need a whole
// body or the codec's message model (body transformation, OpenAPI validation, caching, aggregation,
// mirroring) are served by RESTProxyHandler; a connection that meets one switches to it for good.
import GatewayCore
import ServiceClient

struct FastRoutePlan: Sendable {
    /// Names removed from the forwarded request: hop-by-hop and gateway-managed ones, those the gateway
    /// sets on every call, and the route's own removals and replacements.
    let requestDrop: HTTP1HeaderNameSet
    /// Names removed from the relayed response before the gateway's own are added.
    let responseDrop: HTTP1HeaderNameSet
    /// The lower-case names the route's header edits `set` or `remove` (they replace the gateway's own).
    let requestEditNames: Set<String>
    let responseEditNames: Set<String>

    /// Whether `route` (and its canary copy) can be served byte by byte.
    static func eligible(_ route: RESTRoute) -> Bool {
        guard route.requestTransform == nil, route.responseTransform == nil, route.cache == nil,
            route.aggregate == nil, route.validator == nil, route.mirror == nil
        else { return false }
        return route.canary.map { eligible($0.route) } ?? true
    }

    init(route: RESTRoute, dropped: Set<String>) {
        var request = dropped
        request.formUnion([
            RequestID.headerName.lowercased(), "traceparent", "tracestate", "host",
            CallDeadline.headerName.lowercased(),
        ])
        request.formUnion(route.requestHeaders.remove.map { $0.lowercased() })
        request.formUnion(route.requestHeaders.set.keys.map { $0.lowercased() })
        requestDrop = HTTP1HeaderNameSet(request)
        requestEditNames = Set(
            (route.requestHeaders.remove + Array(route.requestHeaders.set.keys)).map { $0.lowercased() })
        responseEditNames = Set(
            (route.responseHeaders.remove + Array(route.responseHeaders.set.keys)).map { $0.lowercased() })
        var response: Set<String> = [RequestID.headerName.lowercased()]
        response.formUnion(route.responseHeaders.remove.map { $0.lowercased() })
        response.formUnion(route.responseHeaders.set.keys.map { $0.lowercased() })
        responseDrop = HTTP1HeaderNameSet(response)
    }
}
