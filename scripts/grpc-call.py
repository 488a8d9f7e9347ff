#!/usr/bin/env python3
"""Calls a gRPC method with JSON in and JSON out, using the compiled descriptor set: a small stand-in
for grpcurl (not packaged by Debian). Unary and server-streaming methods.

    .venv/bin/python scripts/grpc-call.py localhost:8082 shop.orders.v1.Orders/GetOrder '{"id":"1"}'
    .venv/bin/python scripts/grpc-call.py -H 'authorization: Bearer …' localhost:8082 shop.orders.v1.Orders/ListOrders '{}'
"""
import argparse
import json
import os
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--header", action="append", default=[], help="metadata 'name: value'")
    parser.add_argument("--descriptors", default=os.path.join(ROOT, "Protocols/grpc/descriptors.binpb"))
    parser.add_argument("target")
    parser.add_argument("method", help="package.Service/Method")
    parser.add_argument("body", nargs="?", default="{}")
    args = parser.parse_args()

    files = descriptor_pb2.FileDescriptorSet()
    with open(args.descriptors, "rb") as handle:
        files.ParseFromString(handle.read())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    service_name, method_name = args.method.split("/")
    method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    request_type = message_factory.GetMessageClass(method.input_type)
    response_type = message_factory.GetMessageClass(method.output_type)
    request = json_format.Parse(args.body, request_type())
    metadata = [tuple(part.strip() for part in header.split(":", 1)) for header in args.header]
    metadata = [(name.lower(), value) for name, value in metadata]

    with grpc.insecure_channel(args.target) as channel:
        path = f"/{service_name}/{method_name}"
        try:
            if method.server_streaming:
                call = channel.unary_stream(path, request_serializer=lambda m: m.SerializeToString(),
                                            response_deserializer=response_type.FromString)
                for response in call(request, metadata=metadata, timeout=30):
                    print(json_format.MessageToJson(response, indent=None))
            else:
                call = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                                           response_deserializer=response_type.FromString)
                response = call(request, metadata=metadata, timeout=30)
                print(json_format.MessageToJson(response, indent=2))
        except grpc.RpcError as error:
            print(f"ERROR: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
