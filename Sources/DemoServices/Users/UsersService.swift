// The demo "users" REST/JSON microservice: list, fetch and create users in an in-memory store.
// Routes: GET /users, GET /users/{id}, POST /users, GET /healthz.

import Foundation
public import Hummingbird
public import Logging

/// A user as the users service returns it: `{"id","name","email"}`.
public struct DemoUser: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var email: String

    public init(id: String, name: String, email: String) {
        self.id = id
        self.name = name
        self.email = email
    }
}

/// The thread-safe in-memory store behind the users service.
public actor UserStore {
    private var users: [String: DemoUser]
    private var nextID: Int

    /// The seed: Ada Lovelace (1), Grace Hopper (2), Alan Turing (3).
    public static let seedUsers: [DemoUser] = [
        DemoUser(id: "1", name: "Ada Lovelace", email: "ada@example.com"),
        DemoUser(id: "2", name: "Grace Hopper", email: "grace@example.com"),
        DemoUser(id: "3", name: "Alan Turing", email: "alan@example.com"),
    ]

    public init(users: [DemoUser] = UserStore.seedUsers) {
        var byID: [String: DemoUser] = [:]
        for user in users { byID[user.id] = user }
        self.users = byID
        self.nextID = (users.compactMap { Int($0.id) }.max() ?? 0) + 1
    }

    /// Every user, ordered by numeric id (non-numeric ids last, by string).
    public func all() -> [DemoUser] {
        users.values.sorted { lhs, rhs in
            switch (Int(lhs.id), Int(rhs.id)) {
            case (let left?, let right?): return left < right
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return lhs.id < rhs.id
            }
        }
    }

    /// The user with `id`, or `nil`.
    public func user(id: String) -> DemoUser? {
        users[id]
    }

    /// Stores a new user under the next free numeric id and returns it.
    public func create(name: String, email: String) -> DemoUser {
        while users[String(nextID)] != nil { nextID += 1 }
        let user = DemoUser(id: String(nextID), name: name, email: email)
        nextID += 1
        users[user.id] = user
        return user
    }
}

/// Routes of the users service.
enum UsersRoutes {
    static func register(on router: Router<BasicRequestContext>, store: UserStore) {
        DemoHTTP.addHealth(to: router, service: "users")

        router.get("/users") { _, _ in
            DemoHTTP.json(await store.all())
        }

        router.get("/users/{id}") { _, context in
            guard let id = context.parameters.get("id"), let user = await store.user(id: id) else {
                return DemoHTTP.error("user not found", status: .notFound)
            }
            return DemoHTTP.json(user)
        }

        router.post("/users") { request, _ in
            let data: Data
            switch await DemoHTTP.readBody(request) {
            case .success(let body): data = body
            case .failure(let failure): return failure.response
            }
            guard let body = JSONValue.parse(data), body.objectValue != nil else {
                return DemoHTTP.error("request body must be a JSON object", status: .badRequest)
            }
            guard let name = nonEmptyString(body["name"]) else {
                return DemoHTTP.error("name is required and must be a non-empty string", status: .badRequest)
            }
            guard let email = nonEmptyString(body["email"]) else {
                return DemoHTTP.error("email is required and must be a non-empty string", status: .badRequest)
            }
            let user = await store.create(name: name, email: email)
            return DemoHTTP.json(user, status: .created, headers: [.location: "/users/\(user.id)"])
        }
    }

    /// The string, trimmed, if `value` is a string with non-whitespace content.
    private static func nonEmptyString(_ value: JSONValue?) -> String? {
        guard let string = value?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !string.isEmpty
        else { return nil }
        return string
    }
}

/// Builds the users service as a Hummingbird application.
///
/// - Parameters:
///   - host: address to bind (default `127.0.0.1`).
///   - port: port to bind (default 9101); `0` binds an ephemeral port.
///   - store: the backing store (pass one in to inspect or share it).
///   - logger: the application's logger (default label `demo-services.users`).
///   - onServerRunning: called once the server listens, with the port actually bound.
public func makeUsersApplication(
    host: String = "127.0.0.1",
    port: Int = 9101,
    store: UserStore = UserStore(),
    logger: Logger? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> DemoApplication {
    let router = Router(context: BasicRequestContext.self)
    UsersRoutes.register(on: router, store: store)
    return DemoHTTP.application(
        router: router, name: "users", host: host, port: port, logger: logger, onServerRunning: onServerRunning)
}
