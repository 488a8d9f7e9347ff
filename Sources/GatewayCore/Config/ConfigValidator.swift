// Semantic checks that decoding cannot make: references to undeclared services, duplicate names,
// malformed paths, conflicting routes, unusable keys. Each problem is located by key path.
import Foundation

public enum ConfigValidator {
    public static func validate(_ loaded: LoadedConfig) -> [ConfigProblem] {
        let config = loaded.config
        var problems: [ConfigProblem] = []
        let services = Set(config.services.keys)

        func requireService(_ name: String, at path: [ConfigProblem.Key]) {
            if !services.contains(name) {
                let known =
                    services.isEmpty ? "none is declared" : "declared: " + services.sorted().joined(separator: ", ")
                problems.append(.init(path, "service '\(name)' is not declared under 'services' (\(known))"))
            }
        }

        for (name, service) in config.services.sorted(by: { $0.key < $1.key }) {
            problems += ServiceConfigValidator.validate(service, name: name, loaded: loaded)
        }

        // auth
        if let jwt = config.auth.jwt {
            for (index, key) in jwt.keys.enumerated() {
                let path: [ConfigProblem.Key] = ["auth", "jwt", "keys", .index(index)]
                switch key.algorithm {
                case .HS256:
                    if let secret = key.secret {
                        if secret.value.utf8.count < 32 {
                            problems.append(.init(path + ["secret"], "HS256 secrets must be at least 32 bytes"))
                        }
                    } else {
                        problems.append(.init(path, "HS256 needs 'secret'"))
                    }
                case .RS256, .ES256:
                    if key.publicKey == nil && key.publicKeyFile == nil {
                        problems.append(.init(path, "\(key.algorithm.rawValue) needs 'publicKey' or 'publicKeyFile'"))
                    }
                    if let file = key.publicKeyFile, !FileManager.default.fileExists(atPath: loaded.resolve(path: file))
                    {
                        problems.append(.init(path + ["publicKeyFile"], "file '\(file)' does not exist"))
                    }
                }
            }
            let kids = jwt.keys.compactMap(\.kid)
            if Set(kids).count != kids.count {
                problems.append(.init(["auth", "jwt", "keys"], "key ids ('kid') must be unique"))
            }
            if let file = jwt.jwksFile, !FileManager.default.fileExists(atPath: loaded.resolve(path: file)) {
                problems.append(.init(["auth", "jwt", "jwksFile"], "file '\(file)' does not exist"))
            }
            if let url = jwt.jwksUrl {
                let parsed = URL(string: url)
                if parsed?.host == nil || !["http", "https"].contains(parsed?.scheme?.lowercased() ?? "") {
                    problems.append(.init(["auth", "jwt", "jwksUrl"], "'\(url)' is not an http(s) URL"))
                }
            }
            if jwt.jwksMinRefreshInterval.duration > jwt.jwksRefreshInterval.duration {
                problems.append(
                    .init(["auth", "jwt", "jwksMinRefreshInterval"], "must not be longer than jwksRefreshInterval"))
            }
        }
        if let basic = config.auth.basic {
            var names = Set<String>()
            for (index, user) in basic.users.enumerated() {
                let path: [ConfigProblem.Key] = ["auth", "basic", "users", .index(index)]
                if user.name.isEmpty || user.name.contains(":") {
                    problems.append(.init(path + ["name"], "must be non-empty and must not contain ':'"))
                }
                if !names.insert(user.name).inserted {
                    problems.append(.init(path + ["name"], "user '\(user.name)' is listed twice"))
                }
                switch (user.passwordHash, user.password) {
                case (nil, nil): problems.append(.init(path, "needs 'passwordHash' or 'password'"))
                case (.some, .some): problems.append(.init(path, "takes 'passwordHash' or 'password', not both"))
                case (let hash?, nil):
                    if case .failure(let error) = PasswordHash.parse(hash) {
                        problems.append(.init(path + ["passwordHash"], error.description))
                    }
                case (nil, .some): break
                }
            }
        }
        let keyNames = config.auth.apiKeys.map(\.name)
        if Set(keyNames).count != keyNames.count {
            problems.append(.init(["auth", "apiKeys"], "API key names must be unique"))
        }

        /// HTTP-speaking gateways cannot call a gRPC-only service.
        func requireHTTPService(_ name: String, at path: [ConfigProblem.Key]) {
            if let service = config.services[name], service.protocol == .grpc {
                problems.append(.init(path, "service '\(name)' speaks gRPC; this gateway calls services over HTTP"))
            }
        }

        func checkPolicy(_ policy: AuthPolicyConfig, at path: [ConfigProblem.Key]) {
            if (policy.require == .jwt || policy.require == .any) && config.auth.jwt == nil
                && config.auth.apiKeys.isEmpty && config.auth.basic == nil
            {
                problems.append(
                    .init(path, "requires authentication but 'auth' configures no JWT keys, API keys or Basic users"))
            } else if policy.require == .basic && (config.auth.basic?.users.isEmpty ?? true) {
                problems.append(.init(path, "requires HTTP Basic but 'auth.basic' has no users"))
            } else if policy.require == .jwt && config.auth.jwt == nil {
                problems.append(.init(path, "requires a JWT but 'auth.jwt' is not configured"))
            } else if policy.require == .apiKey && config.auth.apiKeys.isEmpty {
                problems.append(.init(path, "requires an API key but 'auth.apiKeys' is empty"))
            }
        }

        // rest
        let rest = config.gateways.rest
        if let tls = rest.tls {
            for (key, file) in [
                ("certificateFile", tls.certificateFile), ("privateKeyFile", tls.privateKeyFile),
                ("clientCAFile", tls.clientCAFile),
            ] {
                if let file, !FileManager.default.fileExists(atPath: loaded.resolve(path: file)) {
                    problems.append(.init(["gateways", "rest", "tls", .key(key)], "file '\(file)' does not exist"))
                }
            }
        }
        for (index, source) in rest.openapi.enumerated() {
            let path: [ConfigProblem.Key] = ["gateways", "rest", "openapi", .index(index)]
            requireService(source.service, at: path + ["service"])
            requireHTTPService(source.service, at: path + ["service"])
            if !FileManager.default.fileExists(atPath: loaded.resolve(path: source.spec)) {
                problems.append(.init(path + ["spec"], "file '\(source.spec)' does not exist"))
            }
            if !source.pathPrefix.isEmpty && !source.pathPrefix.hasPrefix("/") {
                problems.append(.init(path + ["pathPrefix"], "must start with '/'"))
            }
            if let auth = source.auth { checkPolicy(auth, at: path + ["auth"]) }
        }
        for problem in rest.cache.problems() {
            problems.append(.init(["gateways", "rest", "cache", .key(problem.key)], problem.message))
        }
        var restRoutes: [(name: String, matcher: RouteMatcher, target: Int)] = []
        var seenNames = Set<String>()
        for (index, route) in rest.routes.enumerated() {
            let path: [ConfigProblem.Key] = ["gateways", "rest", "routes", .index(index)]
            if !seenNames.insert(route.name).inserted {
                problems.append(.init(path + ["name"], "route name '\(route.name)' is used twice"))
            }
            requireService(route.service, at: path + ["service"])
            requireHTTPService(route.service, at: path + ["service"])
            if let transform = route.transform {
                for problem in BodyTransformConfig.problems(transform) {
                    problems.append(.init(path + ["transform"] + problem.path.map { .key($0) }, problem.message))
                }
            }
            if let cache = route.cache {
                for problem in cache.problems() {
                    problems.append(.init(path + ["cache", .key(problem.key)], problem.message))
                }
            }
            if let aggregate = route.aggregate {
                for (number, backend) in aggregate.backends.enumerated() {
                    requireService(backend.service, at: path + ["aggregate", "backends", .index(number), "service"])
                    requireHTTPService(
                        backend.service, at: path + ["aggregate", "backends", .index(number), "service"])
                }
                problems += aggregate.problems(route: route, at: path + ["aggregate"])
            }
            if let retry = route.retry {
                problems += ServiceConfigValidator.validate(retry: retry, at: path + ["retry"])
            }
            problems += RoutePolicyValidator.validate(route, at: path, identityHeaders: config.auth.identityHeaders)
            if let mirror = route.mirror {
                requireService(mirror.service, at: path + ["mirror", "service"])
                requireHTTPService(mirror.service, at: path + ["mirror", "service"])
                if !(0...100).contains(mirror.percent) {
                    problems.append(.init(path + ["mirror", "percent"], "must be between 0 and 100"))
                }
                if mirror.maxInFlight < 1 {
                    problems.append(.init(path + ["mirror", "maxInFlight"], "must be at least 1"))
                }
            }
            if let canary = route.canary {
                requireService(canary.service, at: path + ["canary", "service"])
                requireHTTPService(canary.service, at: path + ["canary", "service"])
                if !(0...100).contains(canary.weight) {
                    problems.append(.init(path + ["canary", "weight"], "must be between 0 and 100"))
                }
                if case .connectionID = canary.stickyOn {
                    problems.append(.init(path + ["canary", "stickyOn"], "use header:NAME or cookie:NAME"))
                }
            }
            checkPolicy(route.auth, at: path + ["auth"])
            do {
                restRoutes.append((route.name, try RouteMatcher(config: route.match), index))
            } catch {
                problems.append(.init(path + ["match"], error.description))
            }
            if let template = route.rewrite?.path, case .failure(let error) = PathTemplate.parse(template) {
                problems.append(.init(path + ["rewrite", "path"], error.description))
            }
            if let regex = route.rewrite?.regex {
                if route.rewrite?.path != nil || route.rewrite?.stripPrefix != nil {
                    problems.append(
                        .init(path + ["rewrite", "regex"], "use either regex or path/stripPrefix, not both"))
                }
                do {
                    _ = try RegexRewrite(pattern: regex.pattern, replacement: regex.replacement)
                } catch {
                    problems.append(.init(path + ["rewrite", "regex"], error.description))
                }
            }
        }
        do {
            _ = try RouteTable(restRoutes)
        } catch {
            problems.append(
                .init(["gateways", "rest", "routes", .index(restRoutes[error.index].target)], error.description))
        }

        // graphql
        let graphql = config.gateways.graphql
        checkPolicy(graphql.auth, at: ["gateways", "graphql", "auth"])
        for (field, source) in graphql.fields.sorted(by: { $0.key < $1.key }) {
            requireService(source.service, at: ["gateways", "graphql", "fields", .key(field), "service"])
            requireHTTPService(source.service, at: ["gateways", "graphql", "fields", .key(field), "service"])
        }
        if graphql.maxDepth < 1 { problems.append(.init(["gateways", "graphql", "maxDepth"], "must be at least 1")) }

        // grpc
        var grpcNames = Set<String>()
        var grpcMethods = Set<String>()
        for (index, route) in config.gateways.grpc.routes.enumerated() {
            let path: [ConfigProblem.Key] = ["gateways", "grpc", "routes", .index(index)]
            if !grpcNames.insert(route.name).inserted {
                problems.append(.init(path + ["name"], "route name '\(route.name)' is used twice"))
            }
            requireService(route.service, at: path + ["service"])
            checkPolicy(route.auth, at: path + ["auth"])
            if route.grpcService.isEmpty || route.grpcService.contains("/") {
                problems.append(
                    .init(path + ["grpcService"], "must be a fully qualified service name such as pkg.v1.Service"))
            }
            for key in (route.methods.isEmpty ? ["*"] : route.methods) {
                if !grpcMethods.insert("\(route.grpcService)/\(key)").inserted {
                    problems.append(.init(path, "\(route.grpcService)/\(key) is routed twice"))
                }
            }
            if let service = config.services[route.service], service.protocol != .grpc && service.protocol != .http2 {
                problems.append(.init(path + ["service"], "service '\(route.service)' must use protocol grpc"))
            }
        }

        // cloudevents
        let cloudevents = config.gateways.cloudevents
        checkPolicy(cloudevents.auth, at: ["gateways", "cloudevents", "auth"])
        var triggerNames = Set<String>()
        for (index, trigger) in cloudevents.triggers.enumerated() {
            let path: [ConfigProblem.Key] = ["gateways", "cloudevents", "triggers", .index(index)]
            requireService(trigger.service, at: path + ["service"])
            requireHTTPService(trigger.service, at: path + ["service"])
            if !triggerNames.insert(trigger.name).inserted {
                problems.append(.init(path + ["name"], "trigger name '\(trigger.name)' is used twice"))
            }
            if !trigger.path.hasPrefix("/") { problems.append(.init(path + ["path"], "must start with '/'")) }
        }
        if cloudevents.queueCapacity < 1 {
            problems.append(.init(["gateways", "cloudevents", "queueCapacity"], "must be at least 1"))
        }
        if cloudevents.maxBatchSize < 1 {
            problems.append(.init(["gateways", "cloudevents", "maxBatchSize"], "must be at least 1"))
        }
        if cloudevents.deliveryAttempts < 1 {
            problems.append(.init(["gateways", "cloudevents", "deliveryAttempts"], "must be at least 1"))
        }

        // websocket
        let websocket = config.gateways.websocket
        checkPolicy(websocket.auth, at: ["gateways", "websocket", "auth"])
        if !websocket.routes.isEmpty {
            checkPolicy(websocket.managementAuth, at: ["gateways", "websocket", "managementAuth"])
        }
        for (key, route) in websocket.routes.sorted(by: { $0.key < $1.key }) {
            requireService(route.service, at: ["gateways", "websocket", "routes", .key(key), "service"])
            requireHTTPService(route.service, at: ["gateways", "websocket", "routes", .key(key), "service"])
            if key.hasPrefix("$") && !["$connect", "$disconnect", "$default"].contains(key) {
                problems.append(
                    .init(
                        ["gateways", "websocket", "routes", .key(key)],
                        "unknown special route (use $connect, $disconnect or $default)"))
            }
        }
        let selectionPath = websocket.routeSelection.dropFirst("$request.body.".count).split(
            separator: ".", omittingEmptySubsequences: false)
        if !websocket.routeSelection.hasPrefix("$request.body.") || selectionPath.contains(where: \.isEmpty) {
            problems.append(
                .init(["gateways", "websocket", "routeSelection"], "must look like $request.body.<field>[.<field>…]"))
        }
        if !websocket.path.hasPrefix("/") {
            problems.append(.init(["gateways", "websocket", "path"], "must start with '/'"))
        }
        if websocket.maxConnectionsPerIdentity < 0 {
            problems.append(
                .init(["gateways", "websocket", "maxConnectionsPerIdentity"], "must be 0 (no limit) or more"))
        }
        if let rate = websocket.messageRate {
            if rate.messages < 1 || rate.capacity < 1 {
                problems.append(
                    .init(["gateways", "websocket", "messageRate"], "messages and burst must be at least 1"))
            }
            if rate.per.duration <= .zero {
                problems.append(.init(["gateways", "websocket", "messageRate", "per"], "must be longer than 0s"))
            }
        }
        if websocket.outboundQueue.maxMessages < 1 || websocket.outboundQueue.maxBytes.bytes < 1 {
            problems.append(
                .init(["gateways", "websocket", "outboundQueue"], "maxMessages and maxBytes must be at least 1"))
        }
        if let bus = websocket.bus, !bus.hasPrefix("redis://") {
            problems.append(
                .init(["gateways", "websocket", "bus"], "must be a redis://[user:password@]host[:port][/db] URL"))
        }
        for (pattern, channel) in websocket.channels.sorted(by: { $0.key < $1.key }) {
            let name = pattern.hasSuffix("*") ? String(pattern.dropLast()) : pattern
            if !(name.isEmpty && pattern == "*") && !WebSocketGatewayConfig.isChannelName(name) {
                problems.append(
                    .init(
                        ["gateways", "websocket", "channels", .key(pattern)],
                        "a channel name or prefix* of letters, digits and :_-.@ (at most 200)"))
            }
            if channel.historySize < 0 || channel.historySize > 10_000 {
                problems.append(
                    .init(["gateways", "websocket", "channels", .key(pattern), "historySize"], "must be 0–10000"))
            }
        }
        for (index, origin) in websocket.allowedOrigins.enumerated() where !Self.isOrigin(origin) {
            problems.append(
                .init(
                    ["gateways", "websocket", "allowedOrigins", .index(index)],
                    "'\(origin)' is not an origin: use scheme://host[:port] (no path) or *"))
        }
        for (index, name) in websocket.subprotocols.enumerated()
        where !RoutePolicyValidator.isToken(name) {
            problems.append(
                .init(
                    ["gateways", "websocket", "subprotocols", .index(index)],
                    "'\(name)' is not a subprotocol name (an HTTP token: letters, digits and !#$%&'*+-.^_`|~)"))
        }

        // listeners
        var bound: [String: String] = [:]
        for name in GatewaysConfig.names {
            guard let listener = config.gateways.listener(for: name) else { continue }
            for (kind, address) in [("listen", listener.listen), ("admin", listener.admin)] where address.port != 0 {
                let key = "\(address.host):\(address.port)"
                if let other = bound[key] {
                    problems.append(
                        .init(["gateways", .key(name), .key(kind)], "\(address) is already used by \(other)"))
                }
                bound[key] = "gateways.\(name).\(kind)"
            }
        }

        // client timeouts
        let timeouts = [
            ("clientIdleTimeout", config.limits.clientIdleTimeout),
            ("clientHeaderTimeout", config.limits.clientHeaderTimeout),
            ("clientBodyTimeout", config.limits.clientBodyTimeout),
        ]
        for (key, value) in timeouts where value.duration <= .zero {
            problems.append(.init(["limits", .key(key)], "must be longer than zero"))
        }
        return problems
    }
}

extension ConfigValidator {
    /// `*`, or `scheme://host[:port]` as browsers send it in `Origin` (no path, query or user info).
    static func isOrigin(_ text: String) -> Bool {
        if text == "*" { return true }
        guard let separator = text.range(of: "://") else { return false }
        let scheme = text[..<separator.lowerBound]
        let rest = text[separator.upperBound...]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }), !rest.isEmpty
        else { return false }
        return !rest.contains(where: { "/?#@ ".contains($0) })
    }
}
