// Aggregate routes: one client request fans out concurrently to several services through the shared
// client (each backend with its own timeout and the service's retry policy), and their JSON answers
// are merged, each under its key or into one object. A backend that fails (transport error, timeout,
// non-2xx, body that is not JSON) leaves its part out: the answer is then 207 with the missing parts
// named in `X-Portico-Missing`, unless the part was required, which fails the whole request.
import GatewayCore
import ServiceClient

struct RESTAggregator: Sendable {
    static let missingHeader = "X-Portico-Missing"
    /// The largest backend body read, and the largest merged answer written.
    static let maxBodyBytes = 8 << 20

    let config: AggregateConfig
    let routeTimeout: ConfigDuration?

    struct Answer: Sendable {
        var status: Int
        var body: [UInt8]
        var missing: [String]
    }

    struct PartFailure: Error, Sendable {
        var reason: String
        var timedOut: Bool
    }

    /// Runs every backend and merges what arrives; throws when a required part is missing.
    func run(
        parameters: [String: String], query: Substring?, headers: [(String, String)], context: UpstreamCallContext,
        client: ServiceClient
    ) async throws(GatewayError) -> Answer {
        let results = await withTaskGroup(of: (Int, Result<JSONValue, PartFailure>).self) { group in
            for (index, backend) in config.backends.enumerated() {
                group.addTask {
                    (
                        index,
                        await fetch(
                            backend, parameters: parameters, query: query, headers: headers, context: context,
                            client: client)
                    )
                }
            }
            var results = [Result<JSONValue, PartFailure>?](repeating: nil, count: config.backends.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0 ?? .failure(PartFailure(reason: "did not run", timedOut: false)) }
        }
        var merged = JSONObject()
        var missing: [String] = []
        var failures: [(name: String, failure: PartFailure)] = []
        for (backend, result) in zip(config.backends, results) {
            switch result {
            case .success(let value):
                switch config.merge {
                case .keyed:
                    merged[backend.partName] = value
                case .merged:
                    guard case .object(let object) = value else {
                        let failure = PartFailure(reason: "answered JSON that is not an object", timedOut: false)
                        failures.append((backend.partName, failure))
                        missing.append(backend.partName)
                        continue
                    }
                    for member in object.members { merged[member.key] = member.value }
                }
            case .failure(let failure):
                failures.append((backend.partName, failure))
                missing.append(backend.partName)
            }
        }
        let requiredFailures = failures.filter { failed in
            config.requireAll || config.backends.contains { $0.partName == failed.name && $0.required }
        }
        if !requiredFailures.isEmpty || failures.count == config.backends.count {
            let reported = requiredFailures.isEmpty ? failures : requiredFailures
            let text = reported.map { "'\($0.name)' \($0.failure.reason)" }.joined(separator: "; ")
            let what = requiredFailures.isEmpty ? "no part of the aggregate arrived" : "a required part is missing"
            throw GatewayError(
                reported.allSatisfy(\.failure.timedOut) ? .upstreamTimeout : .upstreamError, "\(what): \(text)",
                details: ["missing": missing.joined(separator: ",")])
        }
        let body: [UInt8]
        do {
            body = try JSONWriter.write(.object(merged), limit: Self.maxBodyBytes, sizeHint: 4096)
        } catch {
            throw GatewayError(.upstreamError, "the merged answer \(error.detail)")
        }
        return Answer(status: missing.isEmpty ? 200 : 207, body: body, missing: missing)
    }

    private func fetch(
        _ backend: AggregateBackendConfig, parameters: [String: String], query: Substring?,
        headers: [(String, String)], context: UpstreamCallContext, client: ServiceClient
    ) async -> Result<JSONValue, PartFailure> {
        var path = QueryMappingConfig.fill(backend.path, parameters.mapValues(QueryMappingConfig.encode))
        if backend.forwardQuery, let query, !query.isEmpty { path += (path.contains("?") ? "&" : "?") + query }
        let request = UpstreamRequest(method: backend.method, path: path, headers: headers)
        let response: UpstreamResponse
        do {
            response = try await client.send(
                request, to: backend.service, context: context,
                options: UpstreamCallOptions(
                    timeout: backend.timeout ?? routeTimeout, maxResponseBytes: Self.maxBodyBytes))
        } catch {
            return .failure(PartFailure(reason: "failed: \(error.message)", timedOut: error.code == .upstreamTimeout))
        }
        guard (200..<300).contains(response.status) else {
            return .failure(PartFailure(reason: "answered \(response.status)", timedOut: false))
        }
        if response.body.isEmpty { return .success(.null) }
        do {
            return .success(try JSONReader.parse(response.body, maxDepth: 64))
        } catch {
            return .failure(PartFailure(reason: "answered a body that \(error.detail)", timedOut: false))
        }
    }
}
