// HTTP Basic authentication (RFC 7617) against users in the config. Passwords are stored as PBKDF2-
// SHA256 hashes (`gatewayctl hash-password` makes them; swift-crypto's CryptoExtras derives the key),
// or as a plain secret for values injected from the environment. A verified user/password pair is
// remembered for `cacheTime` (keyed by a SHA-256 of both, never the password itself) so a client that
// sends Basic on every request costs one key derivation per interval, not one per request.
import Crypto
import CryptoExtras
public import Foundation
import Synchronization

/// A `pbkdf2-sha256$ROUNDS$SALT$HASH` password hash (salt and hash in base64).
public struct PasswordHash: Sendable, Equatable {
    public static let scheme = "pbkdf2-sha256"
    public static let defaultRounds = 210_000
    public var rounds: Int
    public var salt: [UInt8]
    public var hash: [UInt8]

    /// Parses a stored hash or says what is wrong with it.
    public static func parse(_ text: String) -> Result<PasswordHash, PasswordHashError> {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == scheme else {
            return .failure(.init("expected \(scheme)$ROUNDS$SALT$HASH (make one with `gatewayctl hash-password`)"))
        }
        guard let rounds = Int(parts[1]), rounds >= 10_000 else {
            return .failure(.init("the round count must be a number of at least 10000"))
        }
        guard let salt = Data(base64Encoded: String(parts[2])), salt.count >= 8,
            let hash = Data(base64Encoded: String(parts[3])), hash.count >= 16
        else { return .failure(.init("salt and hash must be base64 (at least 8 and 16 bytes)")) }
        return .success(PasswordHash(rounds: rounds, salt: Array(salt), hash: Array(hash)))
    }

    /// Hashes `password` with a random salt.
    public static func make(password: String, rounds: Int = defaultRounds) throws -> String {
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255) }
        let hash = try derive(password, salt: salt, rounds: rounds, length: 32)
        return "\(scheme)$\(rounds)$\(Data(salt).base64EncodedString())$\(Data(hash).base64EncodedString())"
    }

    public func verify(_ password: String) -> Bool {
        guard let derived = try? Self.derive(password, salt: salt, rounds: rounds, length: hash.count) else {
            return false
        }
        return Authenticator.constantTimeEquals(derived, hash)
    }

    static func derive(_ password: String, salt: [UInt8], rounds: Int, length: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: length,
            unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { Array($0) }
    }
}

public struct PasswordHashError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Checks Basic credentials against the configured users.
final class BasicVerifier: Sendable {
    enum Check: Sendable {
        case hash(PasswordHash)
        case plain([UInt8])
    }

    struct User: Sendable {
        var check: Check
        var scopes: Set<String>
    }

    let realm: String
    let users: [String: User]
    let cacheTime: Duration
    /// SHA-256(user, password) of recently verified pairs, with when they stop counting.
    private let verified = Mutex<[Data: ContinuousClock.Instant]>([:])
    private static let cacheLimit = 10_000
    /// Hashed against when the user is unknown, so timing does not tell which users exist.
    private let decoy: PasswordHash

    init(config: BasicAuthConfig) throws {
        realm = config.realm
        cacheTime = config.cacheTime.duration
        var users: [String: User] = [:]
        for (index, user) in config.users.enumerated() {
            let check: Check
            if let text = user.passwordHash {
                switch PasswordHash.parse(text) {
                case .success(let hash): check = .hash(hash)
                case .failure(let error):
                    throw JWTSetupError("auth.basic.users[\(index)].passwordHash: \(error.description)")
                }
            } else if let password = user.password {
                check = .plain(Array(password.value.utf8))
            } else {
                throw JWTSetupError("auth.basic.users[\(index)]: needs 'passwordHash' or 'password'")
            }
            users[user.name] = User(check: check, scopes: Set(user.scopes))
        }
        self.users = users
        let rounds = users.values.compactMap { user -> Int? in
            if case .hash(let hash) = user.check { return hash.rounds }
            return nil
        }.max()
        decoy = PasswordHash(
            rounds: rounds ?? 10_000, salt: Array(repeating: 1, count: 16), hash: Array(repeating: 0, count: 32))
    }

    func verify(user name: String, password: String) throws(GatewayError) -> Identity {
        let fingerprint = Data(SHA256.hash(data: Array("\(name)\u{0}\(password)".utf8)))
        let now = ContinuousClock.now
        let remembered = verified.withLock { cache in cache[fingerprint].map { $0 > now } ?? false }
        guard let user = users[name] else {
            _ = decoy.verify(password)
            throw GatewayError(.unauthenticated, "invalid user name or password")
        }
        if !remembered {
            let ok: Bool
            switch user.check {
            case .hash(let hash): ok = hash.verify(password)
            case .plain(let expected): ok = Authenticator.constantTimeEquals(expected, Array(password.utf8))
            }
            guard ok else { throw GatewayError(.unauthenticated, "invalid user name or password") }
            verified.withLock { cache in
                if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[fingerprint] = now + cacheTime
            }
        }
        return Identity(subject: name, scopes: user.scopes, method: .basic)
    }
}

/// `auth.basic`: HTTP Basic users. Keys: `realm` (default `portico`), `users` (list of
/// ``BasicUserConfig``), `cacheTime` (how long a verified password is remembered, default 5m).
public struct BasicAuthConfig: Codable, Sendable {
    public var realm: String
    public var users: [BasicUserConfig]
    public var cacheTime: ConfigDuration

    public init(realm: String = "portico", users: [BasicUserConfig], cacheTime: ConfigDuration = .seconds(300)) {
        self.realm = realm
        self.users = users
        self.cacheTime = cacheTime
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        realm = try c.value(.realm, or: "portico")
        users = try c.value(.users, or: [])
        cacheTime = try c.value(.cacheTime, or: .seconds(300))
    }
}

/// One Basic user. Keys: `name`, `passwordHash` (from `gatewayctl hash-password`) or `password` (a
/// secret, e.g. `${ADMIN_PASSWORD}`), `scopes`.
public struct BasicUserConfig: Codable, Sendable {
    public var name: String
    public var passwordHash: String?
    public var password: Secret?
    public var scopes: [String]

    public init(name: String, passwordHash: String? = nil, password: String? = nil, scopes: [String] = []) {
        self.name = name
        self.passwordHash = passwordHash
        self.password = password.map(Secret.init)
        self.scopes = scopes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        passwordHash = try c.decodeIfPresent(String.self, forKey: .passwordHash)
        password = try c.decodeIfPresent(Secret.self, forKey: .password)
        scopes = try c.value(.scopes, or: [])
    }
}
