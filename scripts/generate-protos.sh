#!/usr/bin/env bash
# Regenerates the Swift code and the descriptor set for Portico's gRPC contracts (Protocols/grpc/).
#
# Outputs (all committed):
#   Protocols/grpc/descriptors.binpb          protoc --include_imports descriptor set (orders + health)
#   Sources/DemoServices/Generated/*.pb.swift  messages (protoc-gen-swift, Visibility=Public)
#   Sources/DemoServices/Generated/*.grpc.swift server + client stubs (protoc-gen-grpc-swift-2, Visibility=Public)
#
# Requirements:
#   protoc                  apt-get install -y protobuf-compiler (provides google/protobuf/descriptor.proto)
#   PROTOC_GEN_SWIFT        path to protoc-gen-swift built from swift-protobuf 1.39.0
#   PROTOC_GEN_GRPC_SWIFT   path to protoc-gen-grpc-swift-2 built from grpc-swift-protobuf 2.4.1
#
# Building the plugins (once, OUTSIDE the repository; never commit them):
#   mkdir -p /tmp/protoc-plugins && cd /tmp/protoc-plugins
#   git clone --branch 1.39.0 https://github.com/apple/swift-protobuf.git
#   (cd swift-protobuf && swift build -c release --product protoc-gen-swift \
#       --scratch-path /tmp/protoc-plugins/build-swift-protobuf)
#   git clone --branch 2.4.1 https://github.com/grpc/grpc-swift-protobuf.git
#   (cd grpc-swift-protobuf && swift build -c release --product protoc-gen-grpc-swift-2 \
#       --scratch-path /tmp/protoc-plugins/build-grpc-swift-protobuf)
#
# Usage:
#   PROTOC_GEN_SWIFT=/tmp/protoc-plugins/build-swift-protobuf/release/protoc-gen-swift \
#   PROTOC_GEN_GRPC_SWIFT=/tmp/protoc-plugins/build-grpc-swift-protobuf/release/protoc-gen-grpc-swift-2 \
#   scripts/generate-protos.sh
set -euo pipefail

: "${PROTOC_GEN_SWIFT:?set PROTOC_GEN_SWIFT to the protoc-gen-swift binary (see the header of this script)}"
: "${PROTOC_GEN_GRPC_SWIFT:?set PROTOC_GEN_GRPC_SWIFT to the protoc-gen-grpc-swift-2 binary (see the header)}"

for plugin in "$PROTOC_GEN_SWIFT" "$PROTOC_GEN_GRPC_SWIFT"; do
    if [[ ! -x "$plugin" ]]; then
        echo "error: plugin not found or not executable: $plugin" >&2
        exit 1
    fi
done
if ! command -v protoc >/dev/null 2>&1; then
    echo "error: protoc not found (apt-get install -y protobuf-compiler)" >&2
    exit 1
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTO_ROOT="$ROOT/Protocols/grpc"
OUT_DIR="$ROOT/Sources/DemoServices/Generated"
DESCRIPTORS="$PROTO_ROOT/descriptors.binpb"

# Contracts with generated Swift code and entries in the descriptor set. google/api/*.proto are only imported
# (for the google.api.http annotations) and end up in the descriptor set through --include_imports.
PROTOS=(
    shop/orders/v1/orders.proto
    grpc/health/v1/health.proto
)

cd "$PROTO_ROOT"

# Remove previously generated Swift files (keeps Generated/README.md).
mkdir -p "$OUT_DIR"
find "$OUT_DIR" -maxdepth 1 -type f \( -name '*.pb.swift' -o -name '*.grpc.swift' \) -delete

protoc \
    --proto_path=. \
    --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
    --swift_out="$OUT_DIR" \
    --swift_opt=Visibility=Public \
    --swift_opt=FileNaming=PathToUnderscores \
    --swift_opt=UseAccessLevelOnImports=true \
    --plugin=protoc-gen-grpc-swift="$PROTOC_GEN_GRPC_SWIFT" \
    --grpc-swift_out="$OUT_DIR" \
    --grpc-swift_opt=Visibility=Public \
    --grpc-swift_opt=Server=true \
    --grpc-swift_opt=Client=true \
    --grpc-swift_opt=FileNaming=PathToUnderscores \
    --grpc-swift_opt=UseAccessLevelOnImports=true \
    "${PROTOS[@]}"

protoc \
    --proto_path=. \
    --include_imports \
    --include_source_info \
    --descriptor_set_out="$DESCRIPTORS" \
    "${PROTOS[@]}"

echo "generated:"
find "$OUT_DIR" -maxdepth 1 -type f -name '*.swift' | sort | sed "s|^$ROOT/|  |"
echo "  ${DESCRIPTORS#"$ROOT/"}"
