// rest-gateway: the REST API gateway executable (thin: everything is in RESTGateway).
import GatewayHTTP
import RESTGateway

await GatewayRunner.main(gateway: "rest", build: RESTGateway.build)
