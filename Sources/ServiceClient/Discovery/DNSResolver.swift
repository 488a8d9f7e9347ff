// DNS lookups for endpoint discovery: A/AAAA through getaddrinfo or given nameservers, SRV over UDP.
// Hand-written small DNS client (wire codec in DNSMessage.swift): no library in Portico's set does SRV lookups.
// Truncated (TC) answers are reported as errors; there is no TCP fallback.
import Foundation
public import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One SRV record (RFC 2782): where a service listens and how preferred that place is.
public struct SRVRecord: Sendable, Hashable {
    public var priority: UInt16
    public var weight: UInt16
    public var port: Int
    /// The target host name, without a trailing dot.
    public var target: String

    public init(priority: UInt16, weight: UInt16, port: Int, target: String) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }
}

/// A failed lookup: which name, what went wrong (`code`) and a human-readable message.
public struct DNSResolutionError: Error, Sendable, CustomStringConvertible {
    public var code: Code
    public var name: String
    public var message: String

    public init(_ code: Code, name: String, _ message: String) {
        self.code = code
        self.name = name
        self.message = message
    }

    public var description: String { "DNS lookup of '\(name)' failed (\(code)): \(message)" }

    /// What went wrong; a struct around a private enum so codes can be added later.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case nxdomain, noRecords = "no_records", timeout, malformed, truncated
            case serverFailure = "server_failure", invalidConfiguration = "invalid_configuration"
            case networkError = "network_error"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The name does not exist (RCODE 3, or EAI_NONAME from getaddrinfo).
        public static let nxdomain = Code(.nxdomain)
        /// The name exists but has no records of the asked type.
        public static let noRecords = Code(.noRecords)
        /// No nameserver answered, after one retry.
        public static let timeout = Code(.timeout)
        /// The answer (or the name asked for) could not be parsed.
        public static let malformed = Code(.malformed)
        /// The answer did not fit in UDP (TC set); TCP fallback is not implemented.
        public static let truncated = Code(.truncated)
        /// The server answered with another error (SERVFAIL, REFUSED, ...) or getaddrinfo failed otherwise.
        public static let serverFailure = Code(.serverFailure)
        /// A nameserver is not `ip[:port]`, or there is none.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The local UDP socket could not be opened or written.
        public static let networkError = Code(.networkError)

        public var description: String { value.rawValue }
    }
}

/// Resolves host names to addresses and service names to SRV records. Cheap to create; holds no sockets.
public struct DNSResolver: Sendable {
    public let nameservers: [String]?
    public let timeout: Duration
    let group: any EventLoopGroup

    /// nameservers: nil = use the system resolver (getaddrinfo) for A/AAAA and the nameservers of /etc/resolv.conf for SRV.
    /// Given explicitly (e.g. ["127.0.0.1:5353"]) both A/AAAA and SRV are asked of these servers over UDP.
    /// `timeout` bounds each UDP attempt; a timed-out query is sent once more.
    public init(nameservers: [String]? = nil, timeout: Duration = .seconds(2), group: any EventLoopGroup) {
        self.nameservers = nameservers
        self.timeout = timeout
        self.group = group
    }

    /// IP address literals for `host` (A and AAAA), deduplicated, IPv4 first. An IP literal resolves to itself.
    public func resolveAddresses(_ host: String) async throws -> [String] {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if (try? SocketAddress(ipAddress: bare, port: 0)) != nil { return [bare] }
        guard nameservers != nil else {
            return try await NIOThreadPool.singleton.runIfActive { try Self.systemLookup(host) }
        }
        async let v4 = lookup(host, .a)
        async let v6 = lookup(host, .aaaa)
        let results = await [v4, v6]
        var seen = Set<String>()
        let addresses = results.flatMap { (try? $0.get()) ?? [] }.filter { seen.insert($0).inserted }
        if !addresses.isEmpty { return addresses }
        // Nothing found: report the most telling failure (an NXDOMAIN or timeout over an empty AAAA set).
        let errors = results.compactMap { if case .failure(let error) = $0 { error } else { nil } }
        throw errors.first { $0.code != .noRecords } ?? errors.first
            ?? DNSResolutionError(.noRecords, name: host, "no A or AAAA records")
    }

    /// SRV records for `name` (e.g. "_http._tcp.users.internal"), sorted by priority then weight desc.
    public func resolveSRV(_ name: String) async throws -> [SRVRecord] {
        let records = try await query(name, .srv).compactMap { if case .srv(let record) = $0 { record } else { nil } }
        return records.sorted { a, b in
            if a.priority != b.priority { return a.priority < b.priority }
            if a.weight != b.weight { return a.weight > b.weight }
            return (a.target, a.port) < (b.target, b.port)
        }
    }

    /// The `nameserver` entries of a resolv.conf text, in order (scoped IPv6 link-local entries are skipped).
    public static func nameservers(fromResolvConf text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver", !fields[1].contains("%") else { return nil }
            return String(fields[1])
        }
    }

    // MARK: UDP queries

    private func lookup(_ host: String, _ type: DNSRecordType) async -> Result<[String], DNSResolutionError> {
        do {
            let data = try await query(host, type)
            return .success(data.compactMap { if case .address(let address) = $0 { address } else { nil } })
        } catch let error as DNSResolutionError {
            return .failure(error)
        } catch {
            return .failure(DNSResolutionError(.networkError, name: host, "\(error)"))
        }
    }

    /// Asks each server in turn, twice round at most while they time out; any other answer or error is final.
    private func query(_ name: String, _ type: DNSRecordType) async throws -> [DNSRecordData] {
        let servers = try serverAddresses(for: name)
        for _ in 0..<2 {
            for server in servers {
                let id = UInt16.random(in: .min ... .max)
                let packet: [UInt8]
                do { packet = try DNSMessage.query(id: id, name: name, type: type) } catch {
                    throw DNSResolutionError(.malformed, name: name, error.description)
                }
                do {
                    let message = try await exchange(packet, id: id, name: name, type: type, server: server)
                    return try Self.records(in: message, name: name, type: type)
                } catch let error as DNSResolutionError where error.code == .timeout {
                    continue
                }
            }
        }
        let list = servers.map { "\($0)" }.joined(separator: ", ")
        throw DNSResolutionError(.timeout, name: name, "no answer within \(timeout) from \(list), after one retry")
    }

    private func serverAddresses(for name: String) throws -> [SocketAddress] {
        let configured =
            nameservers
            ?? Self.nameservers(
                fromResolvConf: (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? "")
        let servers = try configured.map { entry in
            guard let address = Self.parseNameserver(entry) else {
                throw DNSResolutionError(.invalidConfiguration, name: name, "nameserver '\(entry)' is not ip[:port]")
            }
            return address
        }
        guard !servers.isEmpty else {
            throw DNSResolutionError(.invalidConfiguration, name: name, "no nameservers configured")
        }
        return servers
    }

    /// `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]` or `[::1]:5353`; the port defaults to 53.
    static func parseNameserver(_ text: String) -> SocketAddress? {
        var host = text
        var port = 53
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            guard let value = Int(text[text.index(after: colon)...]) else { return nil }
            port = value
        }
        guard (1...65535).contains(port) else { return nil }
        return try? SocketAddress(ipAddress: host, port: port)
    }

    /// The records of `type` answering `name`, following CNAMEs within the answer section.
    static func records(in message: DNSMessage, name: String, type: DNSRecordType) throws -> [DNSRecordData] {
        guard !message.isTruncated else {
            throw DNSResolutionError(.truncated, name: name, "answer truncated (TC); TCP fallback not supported")
        }
        switch message.responseCode {
        case 0: break
        case 3: throw DNSResolutionError(.nxdomain, name: name, "no such name (NXDOMAIN)")
        case let code: throw DNSResolutionError(.serverFailure, name: name, "server answered RCODE \(code)")
        }
        var current = canonical(name)
        for _ in 0..<8 {
            let alias = message.answers.first {
                canonical($0.name) == current && $0.type == DNSRecordType.cname.rawValue
            }
            guard case .cname(let target) = alias?.data else { break }
            current = canonical(target)
        }
        let found = message.answers.filter { canonical($0.name) == current && $0.type == type.rawValue }.map(\.data)
        guard !found.isEmpty else { throw DNSResolutionError(.noRecords, name: name, "no \(type) records") }
        return found
    }

    static func canonical(_ name: String) -> String {
        (name.hasSuffix(".") ? String(name.dropLast()) : name).lowercased()
    }

    /// One UDP exchange from a fresh ephemeral port: sends `packet`, waits for the matching answer or the timeout.
    private func exchange(
        _ packet: [UInt8], id: UInt16, name: String, type: DNSRecordType, server: SocketAddress
    ) async throws -> DNSMessage {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: DNSMessage.self)
        let expected = ResponseHandler.Expected(id: id, name: Self.canonical(name), type: type.rawValue, server: server)
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ResponseHandler(expected, promise))
                    }
                }
                .bind(host: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
        } catch {
            promise.fail(error)
            throw DNSResolutionError(.networkError, name: name, "cannot open a UDP socket: \(error)")
        }
        let timeoutError = DNSResolutionError(.timeout, name: name, "no answer from \(server) within \(timeout)")
        let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { promise.fail(timeoutError) }
        let envelope = AddressedEnvelope(remoteAddress: server, data: channel.allocator.buffer(bytes: packet))
        channel.writeAndFlush(envelope).whenFailure { error in
            promise.fail(DNSResolutionError(.networkError, name: name, "cannot send to \(server): \(error)"))
        }
        let result: Result<DNSMessage, any Error>
        do {
            result = .success(
                try await withTaskCancellationHandler {
                    try await promise.futureResult.get()
                } onCancel: {
                    promise.fail(CancellationError())
                })
        } catch {
            result = .failure(error)
        }
        timer.cancel()
        try? await channel.close()
        return try result.get()
    }

    // MARK: getaddrinfo

    /// Blocking: call on a thread pool, never on an event loop.
    private static func systemLookup(_ host: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            let reason = String(cString: gai_strerror(status))
            throw DNSResolutionError(status == EAI_NONAME ? .nxdomain : .serverFailure, name: host, reason)
        }
        defer { freeaddrinfo(first) }
        var v4: [String] = []
        var v6: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor?.pointee {
            cursor = info.ai_next
            guard let address = info.ai_addr else { continue }
            if info.ai_family == AF_INET {
                var raw = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                v4.append(formatAddress(withUnsafeBytes(of: &raw) { Array($0) }))
            } else if info.ai_family == AF_INET6 {
                var raw = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                v6.append(formatAddress(withUnsafeBytes(of: &raw) { Array($0) }))
            }
        }
        var seen = Set<String>()
        let addresses = (v4 + v6).filter { seen.insert($0).inserted }
        guard !addresses.isEmpty else { throw DNSResolutionError(.noRecords, name: host, "no IPv4 or IPv6 addresses") }
        return addresses
    }
}
