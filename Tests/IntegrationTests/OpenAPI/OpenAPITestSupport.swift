// Helpers for the OpenAPI tests: documents written to temporary files, one-schema specs, and a shorthand
// for running a validator.

import Foundation
import RESTGateway
import Testing

enum OpenAPITestSupport {
    /// Writes `contents` to a fresh temporary file named `name` and returns its path.
    static func write(_ contents: String, name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "openapi-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return url.path
    }

    /// The package root (the nearest directory above this file holding Package.swift).
    static var packageRoot: URL {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/"
            && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path)
        {
            url = url.deletingLastPathComponent()
        }
        return url
    }

    /// A 3.1 (or 3.0) YAML document with `POST /t` whose JSON body has `schema` (YAML/JSON flow text)
    /// and optional extra components.
    static func bodySpec(_ schema: String, version: String = "3.1.0", components: String = "") throws -> OpenAPISpec {
        let yaml = """
            openapi: \(version)
            info: { title: t, version: "1" }
            paths:
              /t:
                post:
                  requestBody:
                    required: true
                    content:
                      application/json:
                        schema: \(schema)
                  responses: { "200": { description: ok } }
            components:
              schemas:
                Placeholder: { type: string }
            \(components)
            """
        return try OpenAPISpec(contents: yaml, format: .yaml, file: "body.yaml")
    }

    /// Validates `body` against `schema` and returns the failure messages.
    static func bodyMessages(_ schema: String, _ body: String, version: String = "3.1.0", components: String = "")
        throws -> [String]
    {
        let spec = try bodySpec(schema, version: version, components: components)
        let validator = try #require(spec.operations.first).validator
        return validator.validate(
            pathParameters: [:], query: nil, header: { _ in nil }, contentType: "application/json",
            body: Array(body.utf8)
        ).map(\.message)
    }

    /// A spec with `GET /p/{id}` taking the given parameter list (YAML flow sequence entries, one per line).
    static func parameterSpec(_ parameters: [String], version: String = "3.1.0") throws -> RequestValidator {
        let list = parameters.map { "        - \($0)" }.joined(separator: "\n")
        let yaml = """
            openapi: \(version)
            info: { title: t, version: "1" }
            paths:
              /p/{id}:
                get:
                  parameters:
            \(list)
                  responses: { "200": { description: ok } }
            """
        let spec = try OpenAPISpec(contents: yaml, format: .yaml, file: "params.yaml")
        return try #require(spec.operations.first).validator
    }
}

extension RequestValidator {
    /// Validates a GET-style request (no body) and returns the messages.
    func messages(path: [String: String] = [:], query: String? = nil, headers: [String: String] = [:]) -> [String] {
        validate(
            pathParameters: path, query: query.map { Substring($0) },
            header: { name in headers.first { $0.key.lowercased() == name.lowercased() }?.value },
            contentType: nil, body: nil
        ).map(\.message)
    }
}
