// graphql-gateway: GraphQL over HTTP in front of the microservices (see GraphQLGateway).
import GatewayHTTP
import GraphQLGateway

await GatewayRunner.main(gateway: "graphql", build: GraphQLGateway.build)
