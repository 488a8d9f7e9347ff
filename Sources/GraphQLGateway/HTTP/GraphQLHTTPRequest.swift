// Reading a GraphQL-over-HTTP request: the JSON body of a POST, the URL parameters of a GET
// (application/x-www-form-urlencoded: `+` is a space), and the media type the client accepts.
import Foundation
import GraphQL

/// A request that is not a well-formed GraphQL-over-HTTP request (answered 400).
struct MalformedGraphQLRequest: Error, Equatable, CustomStringConvertible {
    let description: String
}

enum GraphQLHTTPRequest {
    /// Parameters from a POST body `{"query", "variables", "operationName", "extensions"}`.
    static func parameters(
        jsonBody body: some Collection<UInt8>
    ) throws(MalformedGraphQLRequest) -> GraphQLRequestParameters {
        guard let decoded = try? JSONMap.decode(body) else {
            throw MalformedGraphQLRequest(description: "the request body is not valid JSON")
        }
        guard case .dictionary(let object) = decoded else {
            throw MalformedGraphQLRequest(description: "the request body must be a JSON object")
        }
        guard let query = object["query"], !query.isNull else {
            throw MalformedGraphQLRequest(description: "the request has no \"query\"")
        }
        guard let text = query.string else { throw MalformedGraphQLRequest(description: "\"query\" must be a string") }
        var parameters = GraphQLRequestParameters(query: text)
        switch object["variables"] {
        case nil, .null?: break
        case .dictionary(let variables)?:
            for (name, value) in variables { parameters.variables[name] = value }
        default: throw MalformedGraphQLRequest(description: "\"variables\" must be a JSON object")
        }
        switch object["operationName"] {
        case nil, .null?: break
        case .string(let name)?: parameters.operationName = name
        default: throw MalformedGraphQLRequest(description: "\"operationName\" must be a string")
        }
        switch object["extensions"] {
        case nil, .null?, .dictionary?: break
        default: throw MalformedGraphQLRequest(description: "\"extensions\" must be a JSON object")
        }
        return parameters
    }

    /// Parameters from a GET query string (`query`, `variables` as JSON text, `operationName`).
    static func parameters(queryString: String?) throws(MalformedGraphQLRequest) -> GraphQLRequestParameters {
        let fields = formDecode(queryString ?? "")
        guard let query = fields["query"], !query.isEmpty else {
            throw MalformedGraphQLRequest(description: "the request has no \"query\" parameter")
        }
        var parameters = GraphQLRequestParameters(query: query)
        if let text = fields["variables"], !text.isEmpty {
            guard let decoded = try? JSONMap.decode(Array(text.utf8)), case .dictionary(let variables) = decoded else {
                throw MalformedGraphQLRequest(description: "the \"variables\" parameter must be a JSON object")
            }
            for (name, value) in variables { parameters.variables[name] = value }
        }
        if let name = fields["operationName"], !name.isEmpty { parameters.operationName = name }
        return parameters
    }

    /// Decodes `a=1&b=x+y%21` (the first occurrence of a name wins; undecodable values are kept raw).
    static func formDecode(_ query: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decodeComponent(parts[0])
            let value = parts.count > 1 ? decodeComponent(parts[1]) : ""
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    private static func decodeComponent(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

/// The media type of a GraphQL response.
enum GraphQLResponseMediaType: Sendable, Equatable {
    /// `application/graphql-response+json`: request errors are 4xx.
    case graphQLResponse
    /// `application/json`: every well-formed request is 200.
    case json

    var contentType: String {
        switch self {
        case .graphQLResponse: return "application/graphql-response+json; charset=utf-8"
        case .json: return "application/json; charset=utf-8"
        }
    }

    /// Picks `application/graphql-response+json` when the client's `Accept` names it with a quality at
    /// least that of `application/json`; else (no header, `*/*`, `application/json`) `application/json`.
    static func negotiate(accept: String?) -> GraphQLResponseMediaType {
        guard let accept else { return .json }
        var graphQLQuality: Double?
        var jsonQuality: Double?
        for range in accept.split(separator: ",") {
            let parameters = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parameters.first else { continue }
            var quality = 1.0
            for parameter in parameters.dropFirst() where parameter.hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            switch type {
            case "application/graphql-response+json": graphQLQuality = max(graphQLQuality ?? 0, quality)
            case "application/json": jsonQuality = max(jsonQuality ?? 0, quality)
            default: continue
            }
        }
        guard let graphQLQuality, graphQLQuality > 0 else { return .json }
        return graphQLQuality >= (jsonQuality ?? 0) ? .graphQLResponse : .json
    }
}
