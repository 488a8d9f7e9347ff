// Aggregate routes on the REST data path: the fan-out runs in a task (it is buffered by nature), and
// its merged answer, or its error, is written back on the connection's event loop.
import GatewayCore
import NIOCore
import NIOHTTP1
import ServiceClient

extension RESTProxyHandler {
    func runAggregate(_ aggregate: AggregateConfig, route: RESTRoute, identity: Identity?) {
        guard let exchange, let context else { return }
        let head = exchange.head
        // The client's end-to-end headers go to every backend; framing, identity and forwarding
        // headers are the gateway's. The merged answer is JSON the gateway parses, so unencoded.
        var headers: [(String, String)] = []
        let hopByHop = HTTPHeaderRules.hopByHopNames(connectionHeaderValues: head.headers["connection"])
        let dropped: Set<String> = ["host", "content-length", "content-type", "accept-encoding", "accept"]
        for (name, value) in head.headers {
            let lowered = name.lowercased()
            if hopByHop.contains(lowered) || shared.managedHeaders.contains(lowered) || dropped.contains(lowered) {
                continue
            }
            headers.append((name, value))
        }
        headers.append(("Accept", "application/json"))
        let callContext = UpstreamCallContext(
            requestID: exchange.requestID, trace: exchange.trace, identity: identity,
            clientAddress: exchange.client.peer, clientScheme: exchange.client.scheme,
            clientHost: exchange.client.host, priorForwardedFor: exchange.client.priorForwardedFor)
        let aggregator = RESTAggregator(config: aggregate, routeTimeout: route.timeoutConfig)
        let parameters = exchange.parameters
        let query = exchange.query.map { Substring(String($0)) }
        let client = shared.client
        let backendHeaders = headers
        context.eventLoop.makeFutureWithTask { () async -> Result<RESTAggregator.Answer, GatewayError> in
            do throws(GatewayError) {
                return .success(
                    try await aggregator.run(
                        parameters: parameters, query: query, headers: backendHeaders, context: callContext,
                        client: client))
            } catch {
                return .failure(error)
            }
        }.assumeIsolated().whenSuccess { result in
            guard self.exchange === exchange else { return }
            switch result {
            case .success(let answer):
                var extra: [(String, String)] = [("Content-Type", "application/json")]
                if !answer.missing.isEmpty {
                    extra.append((RESTAggregator.missingHeader, answer.missing.joined(separator: ", ")))
                }
                self.answer(
                    HTTPResponseStatus(statusCode: answer.status), body: answer.body, headers: extra,
                    closeAfter: false)
            case .failure(let error):
                var extra: [(String, String)] = []
                if let missing = error.details["missing"], !missing.isEmpty {
                    extra.append((RESTAggregator.missingHeader, missing.split(separator: ",").joined(separator: ", ")))
                }
                self.fail(error, closeAfter: false, extraHeaders: extra)
            }
        }
    }
}
