// Loads `portico.yaml`: environment substitution, strict decoding, then semantic validation. Every
// error names the file, line and key path; nothing starts unless this succeeds.
public import Foundation
import Yams

/// A loaded and validated configuration, with where it came from.
public struct LoadedConfig: Sendable {
    public var config: PorticoConfig
    public var fileName: String
    /// The directory relative paths in the file (schemas, key files) are resolved against.
    public var baseDirectory: String

    /// Resolves a path written in the config file.
    public func resolve(path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).path
    }
}

public enum ConfigLoader {
    /// Reads, substitutes, decodes and validates the file at `path`.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigErrors) -> LoadedConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigErrors([
                ConfigError(file: path, line: nil, path: "", message: "cannot read file: \(error.localizedDescription)")
            ])
        }
        let baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try load(text: text, fileName: path, baseDirectory: baseDirectory, environment: environment)
    }

    /// Substitutes, decodes and validates `text`; `fileName` is used in error messages.
    public static func load(
        text: String, fileName: String, baseDirectory: String = FileManager.default.currentDirectoryPath,
        environment: [String: String] = [:]
    ) throws(ConfigErrors) -> LoadedConfig {
        do {
            let substituted = try EnvironmentSubstitution.apply(to: text, environment: environment, fileName: fileName)
            let config = try StrictYAMLDecoder(fileName: fileName).decode(PorticoConfig.self, from: substituted)
            var loaded = LoadedConfig(config: config, fileName: fileName, baseDirectory: baseDirectory)
            let problems = ConfigValidator.validate(loaded)
            if !problems.isEmpty {
                let root = (try? Yams.compose(yaml: substituted)) ?? nil
                throw ConfigErrors(
                    problems.map { problem in
                        ConfigError(
                            file: fileName, line: root.flatMap { line(of: problem.path, in: $0) },
                            path: StrictYAMLDecoder.render(problem.path), message: problem.message)
                    })
            }
            // Files named by services' TLS settings are used long after loading: make them absolute now.
            for (name, service) in loaded.config.services {
                guard var tls = service.tls else { continue }
                tls.ca = tls.ca.map(loaded.resolve(path:))
                tls.certificate = tls.certificate.map(loaded.resolve(path:))
                tls.key = tls.key.map(loaded.resolve(path:))
                loaded.config.services[name]?.tls = tls
            }
            return loaded
        } catch let error as ConfigErrors {
            throw error
        } catch {
            throw ConfigErrors([ConfigError(file: fileName, line: nil, path: "", message: "\(error)")])
        }
    }

    /// The line of the deepest node along `path` that exists.
    static func line(of path: [any CodingKey], in root: Node) -> Int? {
        var node: Node? = root
        var line = root.mark?.line
        for key in path {
            guard let current = node else { break }
            node = StrictYAMLDecoder.child(of: current, key: key)
            if let mark = node?.mark { line = mark.line }
        }
        return line
    }
}

/// A semantic problem found after decoding, located by key path.
public struct ConfigProblem: Sendable {
    public var path: [AnyKey]
    public var message: String

    public init(path: [AnyKey], message: String) {
        self.path = path
        self.message = message
    }

    init(_ path: [Key], _ message: String) {
        self.path = path.map(\.anyKey)
        self.message = message
    }

    /// A path element: a mapping key or a list index.
    enum Key: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        case key(String)
        case index(Int)
        init(stringLiteral value: String) { self = .key(value) }
        init(integerLiteral value: Int) { self = .index(value) }
        var anyKey: AnyKey {
            switch self {
            case .key(let name): return AnyKey(name)
            case .index(let index): return AnyKey(index)
            }
        }
    }
}
