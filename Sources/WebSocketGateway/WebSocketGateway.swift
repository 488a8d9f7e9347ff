import GatewayCore
// The WebSocket gateway: clients upgrade at `gateways.websocket.path`; each event of a connection
// ($connect, messages selected by `routeSelection`, $disconnect) becomes a POST to a route's integration
// through ServiceClient; `/@connections/{id}` lets services push to, describe and close connections.
public import GatewayHTTP
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import PorticoRedis

public enum WebSocketGateway {
    /// Builds the gateway's listener (HTTP/1.1 with WebSocket upgrade) and its connection drain service.
    public static func build(_ env: GatewayEnvironment) async throws -> GatewayComponents {
        let config = env.config.gateways.websocket
        guard let selector = RouteSelector(expression: config.routeSelection) else {
            throw WebSocketGatewayError(
                "gateways.websocket.routeSelection: '\(config.routeSelection)' must look like "
                    + "$request.body.<field>[.<field>…]")
        }
        let callback = CallbackAddress(listen: env.listener.listen)
        let registry = ConnectionRegistry()
        let metrics = WebSocketMetrics(gateway: env.gateway)
        // Replicas share their connections through Redis when `bus` is set.
        var bus: ReplicaBus?
        if let busURL = config.bus {
            let url: RedisURL
            do { url = try RedisURL(busURL) } catch {
                throw WebSocketGatewayError("gateways.websocket.bus: \(error)")
            }
            let replicaBus = ReplicaBus(url: url, registry: registry, metrics: metrics, logger: env.logger)
            try await replicaBus.start()
            bus = replicaBus
        }
        let runtime = WebSocketRuntime(
            config: config, routes: WebSocketRoutes(routes: config.routes), selector: selector,
            authenticator: env.authenticator, caller: IntegrationCaller(client: env.client, logger: env.logger),
            registry: registry, channels: ChannelHub(relayed: bus != nil), bus: bus, metrics: metrics,
            callback: callback,
            accessLog: env.config.observability.accessLog, logger: env.logger)
        if let bus {
            bus.describe.withLock { $0 = { ManagementAPI.descriptionJSON($0, runtime: runtime) } }
            let shared = RedisChannels(bus: bus, hub: runtime.channels)
            bus.channelMessage.withLock { $0 = { shared.received($0) } }
            let logger = env.logger
            bus.subscriberEvent.withLock { $0 = { await shared.subscriberEvent($0, logger: logger) } }
            bus.periodic.withLock { $0 = { await shared.refresh(policy: config.channelPolicy(for:)) } }
            bus.channelCommand.withLock {
                $0 = { connection, name, subscribe in
                    guard let policy = config.channelPolicy(for: name) else { return }
                    if subscribe {
                        do {
                            _ = try await runtime.subscribe(
                                connection, to: name, policy: policy, since: nil, correlationID: nil)
                        } catch {
                            env.logger.warning(
                                "a service's subscription failed",
                                metadata: ["channel": "\(name)", "error": "\(error)"])
                        }
                    } else if await runtime.unsubscribe(connection, from: name) {
                        runtime.deliver(
                            ChannelMessages.unsubscribed(channel: name, correlationID: nil), to: connection,
                            route: "@channels")
                    }
                }
            }
        }

        // Upgrade requests: the handshake (auth, $connect), then the connection's session.
        let upgradeRouter = Router(context: WebSocketGatewayContext.self)
        upgradeRouter.add(
            middleware: env.observabilityMiddleware(for: WebSocketGatewayContext.self))
        upgradeRouter.add(middleware: HandshakeRefusalMiddleware(logger: env.logger))
        // A 200 from this router is an accepted handshake; WebSocketListenerChannel then upgrades.
        upgradeRouter.get(RouterPath(config.path)) { request, context in
            Response(status: .ok, headers: try await runtime.shouldUpgrade(request, context: context))
        }

        // Plain HTTP on the same listener: the management API, and a clear answer at the WebSocket path.
        let router = Router(context: GatewayRequestContext.self)
        router.add(
            middleware: env.observabilityMiddleware(for: GatewayRequestContext.self))
        ManagementAPI(runtime: runtime).register(on: router)
        ChannelsAPI(runtime: runtime).register(on: router)
        StaticAssets.register(on: router)
        router.get(RouterPath(config.path)) { request, context in
            HTTPProblem(
                status: 426, code: "upgrade_required", detail: "this endpoint only accepts WebSocket upgrades",
                instance: request.uri.path, requestID: context.gateway.requestID,
                headers: [("Upgrade", "websocket"), ("Connection", "Upgrade")]
            ).response
        }

        let upgradeResponder = upgradeRouter.buildResponder()
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                WebSocketListenerChannel(
                    responder: responder, upgradeResponder: upgradeResponder,
                    maxFrameSize: max(config.maxMessageSize.bytes, 125),
                    runtime: runtime, clientTimeouts: ClientTimeouts(env.config.limits)
                )
            },
            configuration: env.applicationConfiguration,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                callback.bound(port: port)
                await env.mainListenerBound(port: port)
            },
            logger: env.logger)
        return GatewayComponents(
            // Shut down in reverse order: the drain first (close 1001, wait for the connections), while
            // the sweeper still enforces close timeouts and the bus still takes the connections' leaving;
            // the listener last.
            services: [app] + (bus.map { [$0] } ?? []) + [
                ConnectionSweeper(
                    registry: runtime.registry, config: config, closeTimeout: WebSocketRuntime.closeTimeout,
                    interval: .seconds(1)),
                ConnectionDrainService(registry: runtime.registry, logger: env.logger),
            ],
            routes: routeInfo(config))
    }

    static func routeInfo(_ config: WebSocketGatewayConfig) -> [RouteInfo] {
        func describe(_ policy: AuthPolicyConfig) -> String {
            policy.require.rawValue + (policy.scopes.isEmpty ? "" : " " + policy.scopes.joined(separator: " "))
        }
        var routes = config.routes.sorted { $0.key < $1.key }.map { key, route in
            RouteInfo(
                name: key, match: "\(config.path) \(key)", methods: ["WEBSOCKET"],
                target: "\(route.service) POST \(route.path)\(route.twoWay ? "" : " (one-way)")",
                auth: describe(config.auth))
        }
        routes.append(
            RouteInfo(
                name: "@connections", match: "\(ManagementAPI.path)/{connectionId}",
                methods: ["GET", "POST", "DELETE"],
                target: "local", auth: describe(config.managementAuth)))
        if !config.channels.isEmpty {
            for (name, match, methods) in [
                ("channels-publish", "/channels/{channel}/messages", ["POST"]),
                ("channels-presence", "/channels/{channel}/presence", ["GET"]),
                ("connections-channel", "\(ManagementAPI.path)/{connectionId}/channels/{channel}", ["POST", "DELETE"]),
            ] {
                routes.append(
                    RouteInfo(
                        name: name, match: match, methods: methods, target: "local",
                        auth: describe(config.managementAuth)))
            }
        }
        return routes
    }
}

/// A configuration problem found while building the gateway.
struct WebSocketGatewayError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
