// cloudevents-gateway: takes CloudEvents over HTTP and delivers them to subscriber services (see
// CloudEventsGateway). Process settings, config loading and shutdown are GatewayRunner's.
import CloudEventsGateway
import GatewayHTTP

await GatewayRunner.main(gateway: "cloudevents", build: CloudEventsGateway.build)
