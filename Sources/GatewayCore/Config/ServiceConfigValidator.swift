// Semantic checks of one `services` entry: endpoints or discovery present, weights, hashing, health
// check, outlier, breaker, retry and TLS settings in range and consistent, TLS files present.
import Foundation

enum ServiceConfigValidator {
    static func validate(_ service: ServiceConfig, name: String, loaded: LoadedConfig) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        let base: [ConfigProblem.Key] = ["services", .key(name)]
        func problem(_ path: [ConfigProblem.Key], _ message: String) { problems.append(.init(base + path, message)) }
        func atLeast(_ value: Int, _ minimum: Int, _ path: [ConfigProblem.Key]) {
            if value < minimum { problem(path, "must be at least \(minimum)") }
        }
        func positive(_ value: ConfigDuration, _ path: [ConfigProblem.Key]) {
            if value.duration <= .zero { problem(path, "must be longer than 0s") }
        }

        if service.endpoints.isEmpty && service.discovery?.srv == nil {
            problem(["endpoints"], "needs at least one endpoint (or discovery.srv)")
        }
        for (index, endpoint) in service.endpoints.enumerated() where !(1...1000).contains(endpoint.weight) {
            problem(["endpoints", .index(index), "weight"], "must be between 1 and 1000")
        }
        if Set(service.endpointURLs).count != service.endpoints.count {
            problem(["endpoints"], "lists the same endpoint twice")
        }
        atLeast(service.maxConnectionsPerEndpoint, 1, ["maxConnectionsPerEndpoint"])
        positive(service.connectTimeout, ["connectTimeout"])
        positive(service.requestTimeout, ["requestTimeout"])
        for status in service.failureStatuses where !(500...599).contains(status) {
            problem(["failureStatuses"], "\(status) is not a 5xx status")
        }
        switch (service.loadBalancing, service.hashOn) {
        case (.ringHash, nil):
            problem(
                ["hashOn"],
                "loadBalancing ringHash needs hashOn (header:NAME, cookie:NAME, connectionId or clientAddress)")
        case (let policy, .some) where policy != .ringHash:
            problem(["hashOn"], "is only used with loadBalancing: ringHash")
        default: break
        }

        if let discovery = service.discovery {
            if discovery.refreshInterval.duration < .seconds(1) {
                problem(["discovery", "refreshInterval"], "must be at least 1s")
            }
            if !["http", "https"].contains(discovery.scheme) {
                problem(["discovery", "scheme"], "must be http or https")
            }
            for (index, server) in (discovery.nameservers ?? []).enumerated() {
                let host = ListenAddress.parse(server)?.host ?? server
                if !IPLiteral.isValid(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) {
                    problem(
                        ["discovery", "nameservers", .index(index)],
                        "'\(server)' must be an IP address, optionally with :port")
                }
            }
        }

        if let check = service.healthCheck {
            let path: [ConfigProblem.Key] = ["healthCheck"]
            if check.type == .grpc && service.protocol == .http1 {
                problem(path + ["type"], "gRPC health checks need a service with protocol grpc or http2")
            }
            if check.type == .http && service.protocol == .grpc {
                problem(path + ["type"], "a gRPC service is checked with type grpc (grpc.health.v1)")
            }
            if !check.path.hasPrefix("/") { problem(path + ["path"], "must start with /") }
            for status in check.expectedStatuses where !(100...599).contains(status) {
                problem(path + ["expectedStatuses"], "\(status) is not an HTTP status")
            }
            positive(check.interval, path + ["interval"])
            positive(check.timeout, path + ["timeout"])
            if check.timeout.duration > check.interval.duration {
                problem(path + ["timeout"], "must not be longer than the interval")
            }
            atLeast(check.healthyThreshold, 1, path + ["healthyThreshold"])
            atLeast(check.unhealthyThreshold, 1, path + ["unhealthyThreshold"])
        }

        let outlier = service.outlierDetection
        atLeast(outlier.consecutiveFailures, 1, ["outlierDetection", "consecutiveFailures"])
        positive(outlier.baseEjectionTime, ["outlierDetection", "baseEjectionTime"])
        if outlier.maxEjectionTime.duration < outlier.baseEjectionTime.duration {
            problem(["outlierDetection", "maxEjectionTime"], "must not be shorter than baseEjectionTime")
        }
        if !(0...100).contains(outlier.maxEjectionPercent) {
            problem(["outlierDetection", "maxEjectionPercent"], "must be between 0 and 100")
        }

        let breaker = service.circuitBreaker
        atLeast(breaker.maxConcurrentRequests, 1, ["circuitBreaker", "maxConcurrentRequests"])
        atLeast(breaker.maxPendingRequests, 1, ["circuitBreaker", "maxPendingRequests"])
        atLeast(breaker.maxConcurrentRetries, 0, ["circuitBreaker", "maxConcurrentRetries"])
        atLeast(breaker.consecutiveFailures, 0, ["circuitBreaker", "consecutiveFailures"])
        atLeast(breaker.halfOpenRequests, 1, ["circuitBreaker", "halfOpenRequests"])
        positive(breaker.openDuration, ["circuitBreaker", "openDuration"])

        problems += validate(retry: service.retry, at: base + ["retry"])
        if !(0...100).contains(service.retryBudget.percent) {
            problem(["retryBudget", "percent"], "must be between 0 and 100")
        }
        atLeast(service.retryBudget.minConcurrency, 0, ["retryBudget", "minConcurrency"])

        let usesTLS = service.endpoints.contains { $0.url.isTLS } || service.discovery?.scheme == "https"
        if let tls = service.tls {
            if (tls.certificate == nil) != (tls.key == nil) {
                problem(["tls"], "certificate and key go together (both for mTLS, or neither)")
            }
            for (key, file) in [("ca", tls.ca), ("certificate", tls.certificate), ("key", tls.key)] {
                if let file, !FileManager.default.fileExists(atPath: loaded.resolve(path: file)) {
                    problem(["tls", .key(key)], "file '\(file)' does not exist")
                }
            }
            if !usesTLS { problem(["tls"], "is set but no endpoint uses https://") }
        }
        return problems
    }

    /// Checks a retry policy, at the service or on a route.
    static func validate(retry: RetryConfig, at path: [ConfigProblem.Key]) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if !(1...10).contains(retry.attempts) {
            problems.append(.init(path + ["attempts"], "must be between 1 and 10"))
        }
        for status in retry.statuses where !(400...599).contains(status) {
            problems.append(.init(path + ["statuses"], "\(status) is not a 4xx or 5xx status"))
        }
        if retry.backoff.base.duration <= .zero {
            problems.append(.init(path + ["backoff", "base"], "must be longer than 0s"))
        }
        if retry.backoff.max.duration < retry.backoff.base.duration {
            problems.append(.init(path + ["backoff", "max"], "must not be shorter than backoff.base"))
        }
        if let perTry = retry.perTryTimeout, perTry.duration <= .zero {
            problems.append(.init(path + ["perTryTimeout"], "must be longer than 0s"))
        }
        return problems
    }
}
