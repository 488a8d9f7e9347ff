// RedisConnection+Commands.swift — typed convenience wrappers for common Redis commands.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
public import NIOCore

extension RedisConnection {
    /// `PING` → the server's reply text (`"PONG"`).
    public func ping() async throws -> String {
        let reply = try await self.send(["PING"])
        guard let text = reply.string else { throw RedisClientError.unexpectedReply(reply) }
        return text
    }

    /// `PUBLISH channel message` → the number of subscribers that received it.
    @discardableResult
    public func publish(channel: String, message: some RESPArgument) async throws -> Int {
        try await self.integer(["PUBLISH", channel, message])
    }

    /// `GET key` → the value's bytes, or nil if the key does not exist.
    public func get(_ key: String) async throws -> ByteBuffer? {
        let reply = try await self.send(["GET", key])
        switch reply {
        case .bulkString(let buffer): return buffer
        default: throw RedisClientError.unexpectedReply(reply)
        }
    }

    /// `GET key` decoded as UTF-8, or nil if the key does not exist.
    public func getString(_ key: String) async throws -> String? {
        try await self.get(key).map { String(buffer: $0) }
    }

    /// `SET key value [PX ms] [NX]`.
    ///
    /// - Parameters:
    ///   - expiry: time to live, sent as `PX` in milliseconds (at least 1 ms).
    ///   - onlyIfAbsent: send `NX`: only set when the key does not exist yet.
    /// - Returns: true if the value was set (false only when `onlyIfAbsent` and the key existed).
    @discardableResult
    public func set(_ key: String, to value: some RESPArgument, expiry: Duration? = nil, onlyIfAbsent: Bool = false)
        async throws -> Bool
    {
        var command: [any RESPArgument] = ["SET", key, value]
        if let expiry { command += ["PX", Self.milliseconds(expiry)] }
        if onlyIfAbsent { command.append("NX") }
        let reply = try await self.send(command)
        return !reply.isNull
    }

    /// `DEL key...` → the number of keys removed.
    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        try await self.integer(["DEL"] + keys)
    }

    /// `DEL key...` → the number of keys removed.
    @discardableResult
    public func del(_ keys: String...) async throws -> Int {
        try await self.del(keys)
    }

    /// `INCR key` → the new value.
    @discardableResult
    public func incr(_ key: String) async throws -> Int {
        try await self.integer(["INCR", key])
    }

    /// `INCRBY key amount` → the new value.
    @discardableResult
    public func incr(_ key: String, by amount: Int) async throws -> Int {
        try await self.integer(["INCRBY", key, amount])
    }

    /// `PEXPIRE key ms` → true if the key exists and the timeout was set.
    @discardableResult
    public func expire(_ key: String, after ttl: Duration) async throws -> Bool {
        try await self.integer(["PEXPIRE", key, Self.milliseconds(ttl)]) == 1
    }

    /// `PTTL key` → remaining time to live in ms; -1 if no expiry, -2 if the key does not exist.
    public func pttl(_ key: String) async throws -> Int {
        try await self.integer(["PTTL", key])
    }

    /// `HSET key field value ...` → the number of fields that were added (not updated).
    @discardableResult
    public func hset(_ key: String, fields: [(String, any RESPArgument)]) async throws -> Int {
        precondition(!fields.isEmpty, "HSET needs at least one field")
        var command: [any RESPArgument] = ["HSET", key]
        for (field, value) in fields { command += [field, value] }
        return try await self.integer(command)
    }

    /// `HSET key field value ...` from a dictionary of strings.
    @discardableResult
    public func hset(_ key: String, fields: [String: String]) async throws -> Int {
        try await self.hset(key, fields: fields.map { ($0.key, $0.value as any RESPArgument) })
    }

    /// `HGET key field`.
    public func hget(_ key: String, field: String) async throws -> ByteBuffer? {
        let reply = try await self.send(["HGET", key, field])
        guard case .bulkString(let buffer) = reply else { throw RedisClientError.unexpectedReply(reply) }
        return buffer
    }

    /// `HGETALL key` → field → value (empty if the key does not exist).
    public func hgetall(_ key: String) async throws -> [String: ByteBuffer] {
        let reply = try await self.send(["HGETALL", key])
        guard let elements = reply.array, elements.count % 2 == 0 else { throw RedisClientError.unexpectedReply(reply) }
        var result: [String: ByteBuffer] = [:]
        result.reserveCapacity(elements.count / 2)
        for i in stride(from: 0, to: elements.count, by: 2) {
            guard let field = elements[i].string, let value = elements[i + 1].buffer else {
                throw RedisClientError.unexpectedReply(reply)
            }
            result[field] = value
        }
        return result
    }

    /// `EVAL script numkeys keys... args...` → the script's reply.
    public func eval(script: String, keys: [String] = [], args: [any RESPArgument] = []) async throws -> RESPValue {
        try await self.send(["EVAL", script, keys.count] + keys + args)
    }

    /// `EVALSHA sha1 numkeys keys... args...`; throws `RedisError` with code `NOSCRIPT` if not loaded.
    public func evalsha(_ sha1: String, keys: [String] = [], args: [any RESPArgument] = []) async throws -> RESPValue {
        try await self.send(["EVALSHA", sha1, keys.count] + keys + args)
    }

    /// `SCRIPT LOAD script` → the script's SHA1.
    public func scriptLoad(_ script: String) async throws -> String {
        let reply = try await self.send(["SCRIPT", "LOAD", script])
        guard let sha = reply.string else { throw RedisClientError.unexpectedReply(reply) }
        return sha
    }

    /// Runs `script` by SHA1 (loading it on `NOSCRIPT`), so large scripts are sent once per server.
    public func evalCached(script: String, keys: [String] = [], args: [any RESPArgument] = []) async throws -> RESPValue
    {
        let sha = Self.sha1Hex(script)
        do {
            return try await self.evalsha(sha, keys: keys, args: args)
        } catch let error as RedisError where error.code == "NOSCRIPT" {
            return try await self.eval(script: script, keys: keys, args: args)
        }
    }

    private func integer(_ command: [any RESPArgument]) async throws -> Int {
        let reply = try await self.send(command)
        guard case .integer(let value) = reply else { throw RedisClientError.unexpectedReply(reply) }
        return Int(value)
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
