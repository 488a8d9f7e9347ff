// `${NAME}` and `${NAME:-default}` substitution, applied to the raw file text line by line so that
// errors keep their line numbers. `$$` stands for a literal `$`.

/// Substitutes environment variables in configuration text.
public enum EnvironmentSubstitution {
    public static func apply(to text: String, environment: [String: String], fileName: String) throws -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        var errors: [ConfigError] = []
        var lineNumber = 1
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "\n" { lineNumber += 1 }
            guard character == "$" else {
                output.append(character)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            if next < text.endIndex && text[next] == "$" {
                output.append("$")
                index = text.index(after: next)
                continue
            }
            guard next < text.endIndex, text[next] == "{", let close = text[next...].firstIndex(of: "}") else {
                output.append(character)
                index = next
                continue
            }
            let expression = text[text.index(after: next)..<close]
            let name: Substring
            let fallback: Substring?
            if let range = expression.range(of: ":-") {
                name = expression[..<range.lowerBound]
                fallback = expression[range.upperBound...]
            } else {
                name = expression
                fallback = nil
            }
            let validName =
                !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
                && !(name.first?.isNumber ?? true)
            if !validName {
                errors.append(
                    ConfigError(
                        file: fileName, line: lineNumber, path: "",
                        message: "'${\(expression)}' is not a valid variable reference"))
            } else if let value = environment[String(name)], !value.isEmpty || fallback == nil {
                output.append(value)
            } else if let fallback {
                output.append(contentsOf: fallback)
            } else {
                errors.append(
                    ConfigError(
                        file: fileName, line: lineNumber, path: "",
                        message:
                            "environment variable \(name) is not set and has no default (write ${\(name):-default})"))
            }
            index = text.index(after: close)
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return output
    }
}
