// Turns `gateways.rest.openapi` sources into REST routes: each operation of each document becomes a
// route (path prefixed, method, the source's service and auth), carrying the operation's request
// validator when the source validates.
import GatewayCore

enum OpenAPIRoutes {
    struct Expanded: Sendable {
        var routes: [HTTPRouteConfig]
        /// Route name to the validator of its operation.
        var validators: [String: RequestValidator]
    }

    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    /// The configured routes followed by the generated ones.
    static func expand(
        _ config: RESTGatewayConfig, auth: AuthConfig, resolve: (String) -> String
    ) throws -> Expanded {
        let anyCredentials = auth.jwt != nil || !auth.apiKeys.isEmpty || auth.basic != nil
        var expanded = Expanded(routes: config.routes, validators: [:])
        for (index, source) in config.openapi.enumerated() {
            let spec: OpenAPISpec
            do {
                spec = try OpenAPISpec(path: resolve(source.spec))
            } catch {
                throw LoadError(description: "gateways.rest.openapi[\(index)].spec: \(error.description)")
            }
            for operation in spec.operations {
                let route = source.route(
                    name: operation.name, method: operation.method, path: operation.path,
                    secured: operation.requiresAuth,
                    scopes: operation.securityRequirements.first.map { Array(Set($0.values.joined())).sorted() } ?? [])
                do {
                    _ = try RouteMatcher(config: route.match)
                } catch {
                    throw LoadError(
                        description:
                            "\(source.spec): \(operation.method) \(operation.path) cannot be a route: \(error.description)"
                    )
                }
                if operation.requiresAuth && !anyCredentials {
                    throw LoadError(
                        description:
                            "\(source.spec): operation '\(operation.name)' requires authentication, but 'auth' configures no JWT keys, API keys or Basic users"
                    )
                }
                if expanded.routes.contains(where: { $0.name == route.name }) {
                    throw LoadError(
                        description:
                            "\(source.spec): operation '\(operation.name)' makes route '\(route.name)', a name already in use (set namePrefix)"
                    )
                }
                expanded.routes.append(route)
                if source.validate { expanded.validators[route.name] = operation.validator }
            }
        }
        return expanded
    }
}
