// JSON text to and from GraphQL `Map` values. Decoding is one pass per value (the `Map` decoder of
// GraphQLSwift decodes every object twice, which is exponential in nesting depth on untrusted input).
import Foundation
import GraphQL

enum JSONMap {
    /// Decodes a JSON text of any kind (object, array or scalar).
    static func decode(_ bytes: some Collection<UInt8>) throws -> Map {
        try JSONDecoder().decode(DecodedMap.self, from: Data(bytes)).value
    }

    /// Encodes a value as compact JSON, keeping the order of `Map` dictionaries.
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = GraphQLJSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// A `Map` object made of `pairs`, in order (later duplicates win).
    static func object(_ pairs: [(String, Map)]) -> Map {
        guard case .dictionary(var dictionary) = Map.dictionary([:]) else { return .null }
        for (key, value) in pairs { dictionary[key] = value }
        return .dictionary(dictionary)
    }

    private struct DecodedMap: Decodable {
        let value: Map

        init(from decoder: any Decoder) throws {
            if let object = try? decoder.container(keyedBy: AnyKey.self) {
                value = JSONMap.object(
                    try object.allKeys.map { key in
                        (key.stringValue, try object.decode(DecodedMap.self, forKey: key).value)
                    })
                return
            }
            if var array = try? decoder.unkeyedContainer() {
                var items: [Map] = []
                while !array.isAtEnd { items.append(try array.decode(DecodedMap.self).value) }
                value = .array(items)
                return
            }
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                value = .null
            } else if let flag = try? single.decode(Bool.self) {
                value = .bool(flag)
            } else if let integer = try? single.decode(Int.self) {
                value = .number(Number(integer))
            } else if let double = try? single.decode(Double.self) {
                value = .number(Number(double))
            } else {
                value = .string(try single.decode(String.self))
            }
        }
    }

    private struct AnyKey: CodingKey {
        let stringValue: String
        let intValue: Int? = nil
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
