// The GraphQL gateway: one GraphQL-over-HTTP endpoint whose schema is read from the SDL file named by
// `gateways.graphql.schema`; each root field is resolved from a REST service or a GraphQL subgraph.
import Foundation
import GatewayCore
public import GatewayHTTP
import GraphQL
import Hummingbird
import Logging
import ServiceClient

public enum GraphQLGateway {
    /// Builds the gateway from `gateways.graphql`. Throws when the schema file cannot be read or does
    /// not agree with `gateways.graphql.fields`, before any port is opened.
    public static func build(_ env: GatewayEnvironment) async throws -> GatewayComponents {
        let config = env.config.gateways.graphql
        let schemaPath = env.loaded.resolve(path: config.schema)
        let sdl: String
        do {
            sdl = try String(contentsOfFile: schemaPath, encoding: .utf8)
        } catch {
            throw rejected(GatewaySchemaError(description: "gateways.graphql.schema: cannot read \(schemaPath)"), env)
        }
        let client = env.client
        let send: UpstreamSend = { request, service, context async throws(GatewayError) -> UpstreamResponse in
            try await client.send(request, to: service, context: context)
        }
        let schema: GraphQLSchema
        do {
            schema = try GatewaySchema.make(sdl: sdl, fields: config.fields, send: send)
        } catch {
            throw rejected(GatewaySchemaError(description: "\(schemaPath): \(error.description)"), env)
        }
        let handler = GraphQLHTTPHandler(engine: GraphQLEngine(schema: schema, maxDepth: config.maxDepth))

        let router = Router(context: GatewayRequestContext.self)
        router.add(
            middleware: env.observabilityMiddleware(for: GatewayRequestContext.self))
        let endpoint = router.group(RouterPath(config.path))
            .add(middleware: GraphQLErrorMiddleware<GatewayRequestContext>())
            .add(
                middleware: AuthMiddleware<GatewayRequestContext>(authenticator: env.authenticator, policy: config.auth)
            )
        endpoint.get(use: handler.get)
        endpoint.post(use: handler.post)
        for method in [HTTPRequest.Method.put, .patch, .delete] {
            endpoint.on("", method: method, use: handler.otherMethod)
        }
        let app = Application(
            router: router,
            server: env.httpServer,
            configuration: env.applicationConfiguration,
            onServerRunning: { channel in await env.mainListenerBound(port: channel.localAddress?.port ?? 0) },
            logger: env.logger)
        env.logger.info(
            "graphql schema loaded",
            metadata: ["schema": "\(schemaPath)", "fields": "\(config.fields.keys.sorted().joined(separator: ","))"])
        return GatewayComponents(services: [app], routes: routes(config))
    }

    /// Logs why the gateway cannot start (the runner reports the thrown error too, but only once it
    /// has torn down what it built) and returns the error to throw.
    private static func rejected(_ error: GatewaySchemaError, _ env: GatewayEnvironment) -> GatewaySchemaError {
        env.logger.error("graphql gateway cannot start", metadata: ["error": "\(error.description)"])
        return error
    }

    /// The endpoint and one entry per root field, for the admin listener and `gatewayctl routes`.
    static func routes(_ config: GraphQLGatewayConfig) -> [RouteInfo] {
        let auth =
            config.auth.require.rawValue
            + (config.auth.scopes.isEmpty ? "" : " " + config.auth.scopes.joined(separator: " "))
        var routes = [
            RouteInfo(
                name: GraphQLHTTPResponse.routeName, match: config.path, methods: ["GET", "POST"],
                target: "graphql schema \(config.schema)", auth: auth)
        ]
        for (field, source) in config.fields.sorted(by: { $0.key < $1.key }) {
            let target: String
            switch source.kind {
            case .rest: target = "\(source.service) GET \(source.path ?? "/")"
            case .graphql: target = "\(source.service) subgraph POST \(source.path ?? "/graphql")"
            }
            routes.append(
                RouteInfo(
                    name: "field \(field)", match: "\(config.path) { \(field) }", methods: ["GET", "POST"],
                    target: target, auth: auth))
        }
        return routes
    }
}
