# Portico: the verbs people type. `make deploy` and `make test` work on a fresh machine: `deps`
# installs what is missing first (Debian packages, Python test clients in .venv).
SHELL := /bin/bash
SWIFT ?= swift
VENV := .venv
# chromium and chromium-driver: the browser test of the WebSocket demo page; redis-server: the tests
# that start their own Redis on loopback.
APT_PACKAGES := libnghttp2-dev libssl-dev libxml2-dev libsqlite3-dev zlib1g-dev python3-venv openssl curl \
	chromium chromium-driver redis-server
BENCH_PACKAGES := nginx wrk
GATEWAYS := rest graphql grpc cloudevents websocket

.PHONY: fault-scenario bench-rest bench-websocket bench-deps all deps venv build build-release test test-unit lint format deploy undeploy status clean \
	$(addprefix run-,$(GATEWAYS)) run-demo

all: build

## deps: install missing system packages (idempotent) and the Python test clients
deps: .deps-stamp
.deps-stamp: Makefile
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@touch $@

## venv: Python clients for the README examples and tests (grpcio, protobuf, websockets, httpx, selenium)
venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements-dev.txt | deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	@touch $@

build: deps
	$(SWIFT) build

build-release: deps
	$(SWIFT) build -c release

## bench-deps: nginx and wrk for the benchmarks (not needed by the tests)
bench-deps: deps
	@missing=""; for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

## bench-rest: rest-gateway against nginx as a reverse proxy, with wrk; writes docs/benchmarks.md
bench-rest: build-release bench-deps
	python3 scripts/bench-rest.py --bin $$($(SWIFT) build -c release --show-bin-path)

## bench-websocket: websocket-gateway against nginx as a WebSocket proxy (echo round trips, memory per
## idle connection, broadcast latency), with portico-bench; writes docs/benchmarks.md. Release binaries
## go to .build-release, apart from the debug .build.
bench-websocket: bench-deps
	$(SWIFT) build -c release --scratch-path .build-release --product websocket-gateway
	$(SWIFT) build -c release --scratch-path .build-release --product portico-bench
	python3 scripts/bench-websocket.py --bin $$($(SWIFT) build -c release --scratch-path .build-release --show-bin-path)

## fault-scenario: a dead endpoint behind the REST gateway under load: failures, time to eject and recover
fault-scenario: build-release
	python3 scripts/fault-scenario.py --bin $$($(SWIFT) build -c release --show-bin-path)

## test: every test (unit and integration, which start real processes on loopback)
test: deps venv
	$(SWIFT) build --build-tests
	PORTICO_BIN_DIR=$$($(SWIFT) build --show-bin-path) $(SWIFT) test --skip-build

test-unit: deps
	$(SWIFT) test --filter GatewayCoreTests

SWIFT_FILES = $$(find Sources Tests -name '*.swift' -not -path '*/Generated/*') Package.swift

## lint: swift format, one configuration (.swift-format); generated code is excluded
lint:
	$(SWIFT) format lint --configuration .swift-format $(SWIFT_FILES)

format:
	$(SWIFT) format --in-place --configuration .swift-format $(SWIFT_FILES)

## deploy: release build, then demo-services and the five gateways in the background (.run/)
deploy: build-release venv
	@PORTICO_BIN_DIR=$$($(SWIFT) build -c release --show-bin-path) deploy/local/portico-local.sh start

undeploy:
	@PORTICO_BIN_DIR=$$($(SWIFT) build -c release --show-bin-path 2>/dev/null || echo .build/release) deploy/local/portico-local.sh stop

status:
	@PORTICO_BIN_DIR=$$($(SWIFT) build -c release --show-bin-path 2>/dev/null || echo .build/release) deploy/local/portico-local.sh status

run-demo: build
	$(SWIFT) run demo-services

run-%: build
	$(SWIFT) run $*-gateway --config portico.yaml

clean:
	rm -rf .build .run .deps-stamp
