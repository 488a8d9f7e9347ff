import GatewayCore
// The CloudEvents gateway: a Hummingbird listener that takes CloudEvents over HTTP (binary, structured and
// batched modes) and a delivery worker that sends matching events to the triggers' subscriber services.
public import GatewayHTTP
import HTTPTypes
import Hummingbird
import Logging
import ServiceClient

public enum CloudEventsGateway {
    /// Route name used in metrics and logs for the ingress endpoint.
    static let routeName = "cloudevents-ingest"
    /// Deliveries in flight at once.
    static let deliveryConcurrency = 8

    /// Builds the listener and the delivery worker from `gateways.cloudevents`.
    public static func build(_ env: GatewayEnvironment) async throws -> GatewayComponents {
        let config = env.config.gateways.cloudevents
        let triggers = config.triggers.map(CloudEventTrigger.init)
        let metrics = DeliveryMetrics(triggers: triggers.map(\.name))
        let queue = DeliveryQueue<DeliveryJob>(capacity: config.queueCapacity)
        let client = env.client
        let deliverer = CloudEventDeliverer(
            send: { request, service, context throws(GatewayError) in
                try await client.send(request, to: service, context: context)
            },
            policy: RetryPolicy(attempts: config.deliveryAttempts), metrics: metrics, logger: env.logger)
        let worker = CloudEventDeliveryWorker(
            queue: queue, deliverer: deliverer, concurrency: deliveryConcurrency, logger: env.logger)
        let ingress = CloudEventsIngress(
            triggers: triggers, maxBatchSize: config.maxBatchSize, queue: queue, metrics: metrics, logger: env.logger)

        let router = Router(context: GatewayRequestContext.self)
        router.add(
            middleware: env.observabilityMiddleware(for: GatewayRequestContext.self))
        addRoutes(to: router, path: config.path, ingress: ingress, env: env)

        let app = Application(
            router: router,
            server: env.httpServer,
            configuration: env.applicationConfiguration,
            onServerRunning: { channel in await env.mainListenerBound(port: channel.localAddress?.port ?? 0) },
            logger: env.logger)
        let routes =
            [
                RouteInfo(
                    name: routeName, match: config.path, methods: ["POST"], target: "cloudevents ingress",
                    auth: describe(config.auth))
            ]
            + triggers.map { trigger in
                RouteInfo(
                    name: trigger.name, match: describe(trigger.filter), methods: ["POST"],
                    target: "\(trigger.service)\(trigger.path) (binary mode)", auth: "-")
            }
        // Shutdown runs in reverse order: the listener stops taking events first, then the worker drains.
        return GatewayComponents(services: [worker, app], routes: routes)
    }

    static func addRoutes(
        to router: Router<GatewayRequestContext>, path: String, ingress: CloudEventsIngress, env: GatewayEnvironment
    ) {
        let routePath = RouterPath(path)
        router.group()
            .add(middleware: RouteLabelMiddleware<GatewayRequestContext>(name: routeName))
            .add(
                middleware: AuthMiddleware<GatewayRequestContext>(
                    authenticator: env.authenticator, policy: env.config.gateways.cloudevents.auth)
            )
            .post(routePath) { request, context in try await ingress.handle(request, context: context) }
        // The CloudEvents webhook validation handshake (abuse protection): OPTIONS answers which origins may send.
        let routeHeader = HTTPField.Name(ObservabilityMiddleware<GatewayRequestContext>.routeHeader)
        router.on(routePath, method: .options) { request, _ in
            var headers: HTTPFields = [.allow: "POST, OPTIONS"]
            if let routeHeader { headers[routeHeader] = routeName }
            if let origin = HTTPField.Name("WebHook-Request-Origin").flatMap({ request.headers[$0] }),
                let allowed = HTTPField.Name("WebHook-Allowed-Origin")
            {
                headers[allowed] = origin
            }
            return Response(status: .ok, headers: headers)
        }
        for method in [HTTPRequest.Method.get, .put, .patch, .delete] {
            router.on(routePath, method: method) { request, context in
                var headers: HTTPFields = [.allow: "POST, OPTIONS"]
                if let routeHeader { headers[routeHeader] = routeName }
                return GatewayError(.methodNotAllowed, "send CloudEvents with POST").response(
                    instance: request.uri.path, requestID: context.gateway.requestID, extraHeaders: headers)
            }
        }
    }

    static func describe(_ policy: AuthPolicyConfig) -> String {
        guard policy.require != .none || !policy.scopes.isEmpty else { return "public" }
        let scopes = policy.scopes.isEmpty ? "" : " scopes: \(policy.scopes.joined(separator: " "))"
        return "\(policy.require.rawValue)\(scopes)"
    }

    static func describe(_ filter: CloudEventFilter) -> String {
        var parts: [String] = []
        for (kind, conditions) in [("exact", filter.exact), ("prefix", filter.prefix), ("suffix", filter.suffix)] {
            for key in conditions.keys.sorted() { parts.append("\(kind) \(key)=\(conditions[key] ?? "")") }
        }
        return parts.isEmpty ? "every event" : parts.joined(separator: ", ")
    }
}
