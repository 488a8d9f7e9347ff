// websocket-gateway: the WebSocket gateway executable (see WebSocketGateway for what it does).
import GatewayHTTP
import WebSocketGateway

await GatewayRunner.main(gateway: "websocket", build: WebSocketGateway.build)
