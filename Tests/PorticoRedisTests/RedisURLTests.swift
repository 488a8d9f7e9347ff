// RedisURLTests.swift — unit tests for RedisURL parsing.
// Hand-written because no well-kept Swift Redis client is available among the project's packages.
import Testing

@testable import PorticoRedis

@Suite("RedisURL")
struct RedisURLTests {
    @Test func parsesPlainHost() throws {
        let url = try RedisURL("redis://localhost")
        #expect(url == RedisURL(host: "localhost", port: 6379))
        #expect(try RedisURL("redis://cache.internal:6380") == RedisURL(host: "cache.internal", port: 6380))
        #expect(try RedisURL("redis://127.0.0.1:7000/") == RedisURL(host: "127.0.0.1", port: 7000))
    }

    @Test func parsesPasswordUserAndDatabase() throws {
        #expect(try RedisURL("redis://:s3cret@h:1/2") == RedisURL(host: "h", port: 1, password: "s3cret", database: 2))
        #expect(
            try RedisURL("redis://alice:pw@h/15")
                == RedisURL(host: "h", username: "alice", password: "pw", database: 15))
        #expect(try RedisURL("redis://justpw@h") == RedisURL(host: "h", password: "justpw"))
        // Percent-escapes and an "@" inside the password.
        #expect(try RedisURL("redis://u%40x:p%3A%2F@w@h").password == "p:/@w")
        #expect(try RedisURL("redis://u%40x:p@h").username == "u@x")
        #expect(try RedisURL("REDIS://h?timeout=1#x") == RedisURL(host: "h"))
    }

    @Test func parsesIPv6() throws {
        #expect(try RedisURL("redis://[::1]:6390/1") == RedisURL(host: "::1", port: 6390, database: 1))
        #expect(try RedisURL("redis://[::1]") == RedisURL(host: "::1"))
    }

    @Test func refusesTLS() {
        #expect(throws: RedisClientError.tlsNotSupported) { try RedisURL("rediss://h:6380") }
        #expect(RedisClientError.tlsNotSupported.description.contains("TLS"))
    }

    @Test(arguments: [
        "http://h", "redis://", "redis://:pw@", "redis://h:0", "redis://h:99999", "redis://h:x", "redis://h/x",
        "redis://h/-1", "redis://[::1", "redis://u:%zz@h",
    ])
    func refusesInvalid(_ text: String) {
        #expect(throws: RedisClientError.self) { try RedisURL(text) }
    }

    @Test func descriptionMasksPassword() throws {
        #expect(try RedisURL("redis://bob:hunter2@h:1/3").description == "redis://bob:***@h:1/3")
        #expect(try RedisURL("redis://h").description == "redis://h:6379")
    }
}
