// The AsyncAPI document (Protocols/asyncapi/websocket.yaml) against the code: every message type the
// gateway sends and every channel operation it accepts is described there, and the messages the code
// builds carry the fields the document marks as required.
import Foundation
import Testing
import Yams

@testable import WebSocketGateway

@Suite("AsyncAPI contract")
struct AsyncAPIContractTests {
    static func document() throws -> [String: Any] {
        let url = BuildProducts.repositoryRoot.appendingPathComponent("Protocols/asyncapi/websocket.yaml")
        return try #require(try Yams.load(yaml: String(contentsOf: url, encoding: .utf8)) as? [String: Any])
    }

    static func messages(_ document: [String: Any]) throws -> [String: [String: Any]] {
        let components = try #require(document["components"] as? [String: Any])
        let messages = try #require(components["messages"] as? [String: [String: Any]])
        var byName: [String: [String: Any]] = [:]
        for message in messages.values { if let name = message["name"] as? String { byName[name] = message } }
        return byName
    }

    @Test func describesEveryMessageTheGatewaySendsAndAccepts() throws {
        let document = try Self.document()
        #expect(document["asyncapi"] as? String == "3.0.0")
        let names = Set(try Self.messages(document).keys)
        let sent = ["error", "subscribed", "unsubscribed", "published", "presence", "publication", "join", "leave"]
        for name in sent + WebSocketRuntime.channelOperations.sorted() {
            #expect(names.contains(name), "\(name) is not in the AsyncAPI document")
        }
    }

    @Test func builtMessagesHaveTheRequiredFields() throws {
        let messages = try Self.messages(try Self.document())
        let components = try #require(try Self.document()["components"] as? [String: Any])
        let schemas = components["schemas"] as? [String: Any] ?? [:]
        func required(_ name: String) throws -> [String] {
            let message = try #require(messages[name])
            var payload = message["payload"] as? [String: Any] ?? [:]
            if let reference = payload["$ref"] as? String,
                let schema = schemas[String(reference.split(separator: "/").last ?? "")]
            {
                payload = schema as? [String: Any] ?? [:]
            }
            return payload["required"] as? [String] ?? []
        }
        func fields(_ message: OutboundMessage) throws -> Set<String> {
            guard case .text(let text) = message else { return [] }
            return Set((try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]).keys)
        }
        let publication = ChannelHub.Publication(offset: 3, data: "{\"a\":1}", at: .now)
        let built: [(String, OutboundMessage)] = [
            ("publication", ChannelMessages.publication(publication, channel: "room:1", epoch: "e")),
            (
                "subscribed",
                ChannelMessages.subscribed(
                    .init(position: .init(offset: 3, epoch: "e"), recovery: .recovered([publication])),
                    channel: "room:1", correlationID: "\"c\"")
            ),
            ("unsubscribed", ChannelMessages.unsubscribed(channel: "room:1", correlationID: nil)),
            (
                "published",
                ChannelMessages.published(channel: "room:1", position: .init(offset: 3, epoch: "e"), correlationID: nil)
            ),
            ("presence", ChannelMessages.presence(channel: "room:1", members: [], correlationID: nil)),
            (
                "error",
                ClientMessages.error(.init(.notFound, "x"), routeKey: "echo", messageID: "m", correlationID: nil)
            ),
        ]
        for (name, message) in built {
            let present = try fields(message)
            #expect(!(try required(name)).isEmpty, "the document gives \(name) no required fields")
            for field in try required(name) {
                #expect(present.contains(field), "\(name) lacks '\(field)', required by the AsyncAPI document")
            }
        }
    }
}
