// The GraphQL schema of the demo "catalog" subgraph, built in code with GraphQLSwift (resolvers read a
// CatalogStore). Its SDL is checked in as Protocols/graphql/catalog.graphql and must stay in step.

public import GraphQL

/// A product of the demo catalog.
public struct CatalogProduct: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var priceCents: Int

    public init(id: String, name: String, priceCents: Int) {
        self.id = id
        self.name = name
        self.priceCents = priceCents
    }
}

/// The read-only product list behind the catalog service.
public struct CatalogStore: Sendable {
    public let products: [CatalogProduct]

    /// The seed: p1, p2, p3.
    public static let seedProducts: [CatalogProduct] = [
        CatalogProduct(id: "p1", name: "Espresso Machine", priceCents: 24_900),
        CatalogProduct(id: "p2", name: "Coffee Grinder", priceCents: 8_999),
        CatalogProduct(id: "p3", name: "Milk Frother", priceCents: 2_999),
    ]

    public init(products: [CatalogProduct] = CatalogStore.seedProducts) {
        self.products = products
    }

    /// The product with `id`, or `nil`.
    public func product(id: String) -> CatalogProduct? {
        products.first { $0.id == id }
    }
}

/// Builds the catalog schema.
public enum CatalogSchema {
    /// The schema in SDL, as in Protocols/graphql/catalog.graphql (without its comments).
    public static let sdl = #"""
        type Query {
          """Every product."""
          products: [Product!]!
          """The product with this id, or null."""
          product(id: ID!): Product
        }

        """A product of the catalog."""
        type Product {
          id: ID!
          name: String!
          """Price in cents."""
          priceCents: Int!
        }
        """#

    /// The executable schema whose resolvers read `store`.
    public static func make(store: CatalogStore = CatalogStore()) throws -> GraphQLSchema {
        let productType = try GraphQLObjectType(
            name: "Product",
            description: "A product of the catalog.",
            fields: [
                "id": GraphQLField(type: GraphQLNonNull(GraphQLID)) { source, _, _, _ in
                    (source as? CatalogProduct)?.id
                },
                "name": GraphQLField(type: GraphQLNonNull(GraphQLString)) { source, _, _, _ in
                    (source as? CatalogProduct)?.name
                },
                "priceCents": GraphQLField(
                    type: GraphQLNonNull(GraphQLInt),
                    description: "Price in cents."
                ) { source, _, _, _ in
                    (source as? CatalogProduct)?.priceCents
                },
            ]
        )
        let queryType = try GraphQLObjectType(
            name: "Query",
            fields: [
                "products": GraphQLField(
                    type: GraphQLNonNull(GraphQLList(GraphQLNonNull(productType))),
                    description: "Every product."
                ) { _, _, _, _ in
                    store.products
                },
                "product": GraphQLField(
                    type: productType,
                    description: "The product with this id, or null.",
                    args: ["id": GraphQLArgument(type: GraphQLNonNull(GraphQLID))]
                ) { _, args, _, _ in
                    guard let id = args["id"].string else { return nil }
                    return store.product(id: id)
                },
            ]
        )
        return try GraphQLSchema(query: queryType)
    }
}
