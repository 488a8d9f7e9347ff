// The channel messages the gateway sends to clients (documented in docs/gateways/websocket.md and the
// AsyncAPI document): publications with their offset and epoch, subscription answers with recovered
// publications, presence lists, join and leave events, and publish acknowledgements.
import Foundation
import GatewayCore

enum ChannelMessages {
    enum PresenceEvent: String {
        case join
        case leave
    }

    /// `{"type":"publication","channel":…,"offset":N,"epoch":"…","data":<JSON>}`
    static func publication(_ publication: ChannelHub.Publication, channel: String, epoch: String) -> OutboundMessage {
        .text(publicationJSON(publication, channel: channel, epoch: epoch))
    }

    static func publicationJSON(_ publication: ChannelHub.Publication, channel: String, epoch: String) -> String {
        "{\"type\":\"publication\",\"channel\":\(JSONString.quote(channel)),\"offset\":\(publication.offset)"
            + ",\"epoch\":\(JSONString.quote(epoch)),\"data\":\(publication.data)}"
    }

    /// `{"type":"join"|"leave","channel":…,"connectionId":…,"subject":…|null}`
    static func presenceEvent(_ kind: PresenceEvent, channel: String, member: ChannelHub.Member) -> OutboundMessage {
        .text(
            "{\"type\":\"\(kind.rawValue)\",\"channel\":\(JSONString.quote(channel)),"
                + memberFields(member) + "}")
    }

    /// `{"type":"subscribed","channel":…,"offset":N,"epoch":"…","recovery":"none"|"recovered"|"impossible",
    /// "publications":[…],"correlationId":…}`; `publications` only when recovered.
    static func subscribed(_ subscription: ChannelHub.Subscription, channel: String, correlationID: String?)
        -> OutboundMessage
    {
        let position = subscription.position
        var json = "{\"type\":\"subscribed\",\"channel\":\(JSONString.quote(channel)),\"offset\":\(position.offset)"
        json += ",\"epoch\":\(JSONString.quote(position.epoch))"
        switch subscription.recovery {
        case .none:
            json += ",\"recovery\":\"none\""
        case .impossible:
            json += ",\"recovery\":\"impossible\""
        case .recovered(let publications):
            json += ",\"recovery\":\"recovered\",\"publications\":["
            json += publications.map { publicationJSON($0, channel: channel, epoch: position.epoch) }.joined(
                separator: ",")
            json += "]"
        }
        return .text(json + correlation(correlationID) + "}")
    }

    /// `{"type":"unsubscribed","channel":…}`
    static func unsubscribed(channel: String, correlationID: String?) -> OutboundMessage {
        .text("{\"type\":\"unsubscribed\",\"channel\":\(JSONString.quote(channel))\(correlation(correlationID))}")
    }

    /// `{"type":"published","channel":…,"offset":N,"epoch":"…"}`: a client's publication was accepted.
    static func published(channel: String, position: ChannelHub.Position, correlationID: String?) -> OutboundMessage {
        .text(
            "{\"type\":\"published\",\"channel\":\(JSONString.quote(channel)),\"offset\":\(position.offset),"
                + "\"epoch\":\(JSONString.quote(position.epoch))\(correlation(correlationID))}")
    }

    /// `{"type":"presence","channel":…,"members":[{"connectionId":…,"subject":…},…]}`
    static func presence(channel: String, members: [ChannelHub.Member], correlationID: String?) -> OutboundMessage {
        .text(
            "{\"type\":\"presence\",\"channel\":\(JSONString.quote(channel)),\"members\":"
                + membersJSON(members) + correlation(correlationID) + "}")
    }

    static func membersJSON(_ members: [ChannelHub.Member]) -> String {
        "[" + members.map { "{" + memberFields($0) + "}" }.joined(separator: ",") + "]"
    }

    private static func memberFields(_ member: ChannelHub.Member) -> String {
        "\"connectionId\":\(JSONString.quote(member.connectionID)),\"subject\":"
            + (member.subject.map(JSONString.quote) ?? "null")
    }

    private static func correlation(_ id: String?) -> String {
        id.map { ",\"correlationId\":\($0)" } ?? ""
    }

    /// Data to publish as JSON text: JSON as it is, anything else as a JSON string.
    static func dataJSON(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return JSONValue.parse(trimmed.utf8) != nil ? trimmed : JSONString.quote(text)
    }
}
