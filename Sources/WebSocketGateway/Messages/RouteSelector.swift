// Route selection: which configured route a client message takes, from a `$request.body.<path>`
// expression evaluated against the message's JSON. Pure; unit-tested on its own.
import GatewayCore

/// Evaluates a `routeSelection` expression such as `$request.body.action` or `$request.body.meta.action`.
struct RouteSelector: Sendable {
    /// The JSON member path after `$request.body.`.
    let path: [String]

    static let prefix = "$request.body."

    /// Parses `expression`; nil unless it is `$request.body.<field>[.<field>…]` with non-empty fields.
    init?(expression: String) {
        guard expression.hasPrefix(Self.prefix) else { return nil }
        let fields = expression.dropFirst(Self.prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard !fields.isEmpty, fields.allSatisfy({ !$0.isEmpty }) else { return nil }
        path = fields.map(String.init)
    }

    /// What one message selects, before it is matched against the configured routes.
    enum Selection: Equatable, Sendable {
        /// The expression found this string.
        case key(String)
        /// The message is text but not a JSON object.
        case notJSON
        /// The message is binary.
        case binary
        /// The message is a JSON object, but the path is missing or its value is not a string.
        case missingKey
    }

    /// A message as the selector sees it.
    struct Inspection: Equatable, Sendable {
        var selection: Selection
        /// The top-level `correlationId` member as JSON text (`"abc"`, `42`), when it is a string or number.
        var correlationID: String?
    }

    /// Inspects a text message: parses it once, reads the route key and the correlation id.
    func inspect(text: String) -> Inspection {
        guard let value = JSONValue.parse(text.utf8), case .object = value else {
            return Inspection(selection: .notJSON, correlationID: nil)
        }
        return Inspection(selection: select(in: value), correlationID: Self.correlationID(in: value))
    }

    func select(in value: JSONValue) -> Selection {
        var current = value
        for field in path {
            guard let next = current[field] else { return .missingKey }
            current = next
        }
        guard let key = current.stringValue else { return .missingKey }
        return .key(key)
    }

    static func correlationID(in value: JSONValue) -> String? {
        switch value["correlationId"] {
        case .string(let id)?: return JSONValue.string(id).jsonText
        case .number(let literal)?: return literal
        default: return nil
        }
    }
}

/// The routes of the gateway, by key, and how a selection resolves to one of them.
struct WebSocketRoutes: Sendable {
    static let connectKey = "$connect"
    static let disconnectKey = "$disconnect"
    static let defaultKey = "$default"

    let routes: [String: WebSocketRouteConfig]

    var connect: WebSocketRouteConfig? { routes[Self.connectKey] }
    var disconnect: WebSocketRouteConfig? { routes[Self.disconnectKey] }

    /// How a message resolved.
    enum Resolution: Equatable, Sendable {
        /// Take this route (`routeKey` is the configured key, possibly `$default`).
        case route(routeKey: String)
        /// No route and no `$default`; `selectedKey` is what the message asked for, if anything.
        case unrouted(selectedKey: String?)
    }

    /// Resolves a selection: a configured, non-special key takes its route; anything else goes to `$default`.
    /// Clients can never select `$connect`, `$disconnect` (or any `$`-key) explicitly.
    func resolve(_ selection: RouteSelector.Selection) -> Resolution {
        if case .key(let key) = selection, !key.hasPrefix("$"), routes[key] != nil {
            return .route(routeKey: key)
        }
        if routes[Self.defaultKey] != nil { return .route(routeKey: Self.defaultKey) }
        if case .key(let key) = selection { return .unrouted(selectedKey: key) }
        return .unrouted(selectedKey: nil)
    }
}
