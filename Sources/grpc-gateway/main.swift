import GRPCGateway
// grpc-gateway: the gRPC proxying gateway executable (see GRPCGateway).
import GatewayHTTP

await GatewayRunner.main(gateway: "grpc", build: GRPCGateway.build)
