#!/usr/bin/env python3
"""WebSocket gateway benchmark against nginx, on this machine, in one go (`make bench-websocket`).

One echo backend (`portico-bench echo-server`: `POST /echo` for websocket-gateway's integration
calls, a WebSocket echo on `/ws` for nginx) sits behind two proxies: websocket-gateway with a
two-way `echo` route, and nginx as a WebSocket proxy (`proxy_pass` with the upgrade headers). The
load generator is `portico-bench` (Sources/PorticoBench, on SwiftNIO). Three measurements:

  echo       closed-loop round trips through each proxy: round trips/s, p50/p99, CPU per round trip;
             and through `portico-bench relay-server`, a byte relay on SwiftNIO to the backend's
             WebSocket echo that parses nothing (the floor for a proxy written on NIO);
  idle       N idle connections held open: (RSS with them − RSS before) / N, for each proxy;
  broadcast  N subscribers of one channel on websocket-gateway, publications one at a time through
             `POST /channels/{channel}/messages`: publish → receive latency over every delivery; then the
             same against `portico-bench fanout-server`, a minimal fan-out (the machine's floor).

Prints the results side by side with the issue's targets, and writes the `## WebSocket gateway`
section of docs/benchmarks.md (the text from its "### What limits it" heading on is written by
people and kept). Loopback only; every step is bounded by its duration or a timeout.

Usage: scripts/bench-websocket.py [--bin .build-release/release] [--connections 64] [--duration 10]
                                  [--rounds 2] [--size 64] [--idle 10000] [--hold 10]
                                  [--subscribers 5000] [--publications 20] [--threads 2] [--no-write]
"""
import argparse
import datetime
import json
import os
import platform
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from benchlib import cpu_seconds, free_port, rss_kb, wait_http

API_KEY = "bench-key-0123456789"
CHANNEL = "bench:1"
TARGETS = {"echo_ratio": 1.0, "idle_kb": 10.0, "broadcast_p99_ms": 50.0}


def raise_nofile():
    """10,000 connections need more than 10,000 descriptors in the client, the proxies and the backend:
    the soft limit goes up to the hard limit here, and every child process inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Bench:
    """One `portico-bench` client run: its JSON lines on stdout arrive on a queue, stderr is kept."""

    def __init__(self, binary, args):
        self.process = subprocess.Popen([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.errors = []
        threading.Thread(target=self._pump, args=(self.process.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.errors.append), daemon=True).start()

    @staticmethod
    def _pump(stream, put):
        for line in stream:
            put(line.rstrip("\n"))

    def next(self, timeout):
        """The next JSON object printed, or exit with what went wrong."""
        deadline = time.time() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                if time.time() >= deadline or self.process.poll() is not None:
                    self.stop()
                    sys.exit("portico-bench gave no result in time:\n" + "\n".join(self.errors[-20:]))
                continue
            try:
                return json.loads(line)
            except ValueError:
                print(line)

    def finish(self, timeout):
        result = self.next(timeout)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.stop()
        for line in self.errors:
            if "failed" in line or "error" in line.lower():
                print("  " + line)
        return result

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Stack:
    """The processes under test: the echo backend, nginx and websocket-gateway, each restartable."""

    def __init__(self, args, directory, nofile):
        self.args = args
        self.directory = directory
        self.nofile = nofile
        self.echo_port, self.nginx_port, self.gateway_port, self.admin_port, self.relay_port = (
            free_port() for _ in range(5))
        self.echo = self.nginx = self.gateway = self.relay = None
        self.bench = os.path.join(args.bin, "portico-bench")
        self.gateway_log = os.path.join(directory, "websocket-gateway.log")
        self.config = os.path.join(directory, "portico.yaml")
        with open(self.config, "w") as f:
            f.write(f"""
services:
  echo:
    endpoints: ["http://127.0.0.1:{self.echo_port}"]
    # Never the limit here: 64 calls in flight at most (one message per connection at a time).
    maxConnectionsPerEndpoint: 256
    circuitBreaker: {{ maxConcurrentRequests: 100000, maxPendingRequests: 100000 }}
auth:
  apiKeys:
    - {{ name: bench, key: {API_KEY}, scopes: [connections:manage] }}
observability:
  accessLog: false
  logLevel: warning
gateways:
  websocket:
    path: /ws
    managementAuth: {{ require: apiKey, scopes: [connections:manage] }}
    # Defaults that could throttle a benchmark, spelled out: no per-identity cap, no message rate,
    # no idle close or lifetime during a run, outbound queues far above one message in flight.
    maxConnectionsPerIdentity: 0
    idleTimeout: 10m
    maxConnectionDuration: 0s
    outboundQueue: {{ maxMessages: 256, maxBytes: 1MiB }}
    routes:
      echo: {{ service: echo, path: /echo }}
    channels:
      "bench:*": {{ subscribe: client, publish: backend }}
""")

    def start_echo(self):
        self.echo = subprocess.Popen(
            [self.bench, "echo-server", "--port", str(self.echo_port), "--threads", str(self.args.backend_threads)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{self.echo_port}/healthz", process=self.echo)

    def start_relay(self):
        self.relay = subprocess.Popen(
            [self.bench, "relay-server", "--port", str(self.relay_port), "--upstream-port", str(self.echo_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The relay answers whatever the backend answers, once it is listening.
        wait_http(f"http://127.0.0.1:{self.relay_port}/healthz", process=self.relay)

    def start_nginx(self):
        path = os.path.join(self.directory, "nginx.conf")
        with open(path, "w") as f:
            f.write(f"""
worker_processes auto;
worker_rlimit_nofile {self.nofile};
pid {self.directory}/nginx.pid;
error_log {self.directory}/nginx-error.log warn;
events {{ worker_connections {self.nofile}; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{self.nginx_port} reuseport backlog=4096;
        location /ws {{
            proxy_pass http://127.0.0.1:{self.echo_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }}
        location = /healthz {{ return 200 "ok"; }}
    }}
}}
""")
        self.nginx = subprocess.Popen(
            ["nginx", "-c", path, "-g", "daemon off;", "-e", os.path.join(self.directory, "nginx-error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{self.nginx_port}/healthz", process=self.nginx)

    def start_gateway(self):
        log = open(self.gateway_log, "a")
        self.gateway = subprocess.Popen(
            [os.path.join(self.args.bin, "websocket-gateway"), "--config", self.config,
             "--listen", f"127.0.0.1:{self.gateway_port}", "--admin", f"127.0.0.1:{self.admin_port}"],
            stdout=log, stderr=log)
        wait_http(f"http://127.0.0.1:{self.admin_port}/readyz", process=self.gateway)

    def url(self, name):
        port = {"gateway": self.gateway_port, "nginx": self.nginx_port, "floor": self.relay_port}[name]
        return f"ws://127.0.0.1:{port}/ws"

    def pids(self, name):
        return {"gateway": self.gateway, "nginx": self.nginx, "floor": self.relay}[name].pid,

    def restart(self, name):
        """A fresh process, so the memory of earlier runs is not reused by the next measurement."""
        assert name in ("gateway", "nginx"), name
        stop([self.gateway if name == "gateway" else self.nginx])
        (self.start_gateway if name == "gateway" else self.start_nginx)()

    def check_alive(self, name):
        process = {"gateway": self.gateway, "nginx": self.nginx, "floor": self.relay}[name]
        if process.poll() is not None:
            tail = ""
            if name == "gateway":
                with open(self.gateway_log) as f:
                    tail = "".join(f.readlines()[-20:])
            sys.exit(f"{name} exited with {process.returncode} during the run\n{tail}")

    def stop_all(self):
        stop([self.gateway, self.nginx, self.relay, self.echo])


def stop(processes):
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
    for process in processes:
        if process is None:
            continue
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def client_args(args, url):
    return ["--url", url, "--threads", str(args.threads)]


def run_echo(stack, args, name, duration, measure):
    pids = stack.pids(name)
    cpu_before, backend_before = cpu_seconds(pids), cpu_seconds((stack.echo.pid,))
    bench = Bench(stack.bench, ["echo", *client_args(args, stack.url(name)), "--connections", str(args.connections),
                                "--duration", str(duration), "--size", str(args.size)])
    result = bench.finish(timeout=duration + 90)
    cpu, backend = cpu_seconds(pids) - cpu_before, cpu_seconds((stack.echo.pid,)) - backend_before
    stack.check_alive(name)
    if measure:
        trips = result["round_trips"]
        result["cpu_us"] = cpu * 1e6 / trips if trips else None
        result["backend_cpu_us"] = backend * 1e6 / trips if trips else None
    return result


def run_idle(stack, args, name, offer_deflate=False):
    """A fresh proxy, a short echo run to initialise what is lazy, then N idle connections (offering
    permessage-deflate, as browsers do, with `offer_deflate`)."""
    stack.restart(name)
    run_echo(stack, args, name, 1, measure=False)
    time.sleep(1)
    before = rss_kb(stack.pids(name))
    bench = Bench(stack.bench, ["idle", *client_args(args, stack.url(name)), "--connections", str(args.idle),
                                "--hold", str(args.hold), *(["--offer-deflate"] if offer_deflate else [])])
    opened = bench.next(timeout=300)
    time.sleep(min(3, args.hold / 2))  # let the last handshakes' buffers settle
    after = rss_kb(stack.pids(name))
    result = bench.finish(timeout=args.hold + 120)
    stack.check_alive(name)
    if name == "gateway":
        result["teardown_s"] = teardown_seconds(stack)
    result.update(rss_before_kb=before, rss_after_kb=after,
                  kb_per_connection=(after - before) / opened["connections"] if opened["connections"] else None)
    return result


def broadcast(stack, args, port, pids, subscribed=lambda: None):
    """One `portico-bench broadcast` run against the server on `port`: its result, what `subscribed()`
    returned once every subscriber was confirmed, and the server's CPU µs per delivery (`pids`) from the
    first publication to the last delivery."""
    bench = Bench(stack.bench, [
        "broadcast", *client_args(args, f"ws://127.0.0.1:{port}/ws"),
        "--publish-url", f"http://127.0.0.1:{port}/channels/{CHANNEL}/messages",
        "--api-key", API_KEY, "--subscribers", str(args.subscribers), "--publications", str(args.publications),
        "--interval", str(args.interval)])
    subscribe_event = bench.next(timeout=300)
    at_subscribed = subscribed()
    cpu_before = cpu_seconds(pids)
    delivered = bench.next(timeout=args.publications * args.interval + 60)
    cpu = cpu_seconds(pids) - cpu_before
    result = bench.finish(timeout=120)
    result["subscribe_event"] = subscribe_event
    per_delivery = cpu * 1e6 / delivered["deliveries"] if delivered["deliveries"] else None
    return result, at_subscribed, per_delivery


def run_broadcast(stack, args):
    stack.restart("gateway")
    before = rss_kb(stack.pids("gateway"))
    result, with_subscribers, per_delivery = broadcast(
        stack, args, stack.gateway_port, stack.pids("gateway"), subscribed=lambda: rss_kb(stack.pids("gateway")))
    stack.check_alive("gateway")
    result.update(rss_before_kb=before, rss_subscribed_kb=with_subscribers,
                  gateway_cpu_us_per_delivery=per_delivery, teardown_s=teardown_seconds(stack))
    return result


def run_broadcast_floor(stack, args):
    """The same broadcast against `portico-bench fanout-server`, the least a WebSocket server can do per
    delivery: what it takes is the machine's share (loopback TCP, the load generator on the same cores)."""
    port = free_port()
    server = subprocess.Popen([stack.bench, "fanout-server", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process=server)
        result, _, per_delivery = broadcast(stack, args, port, (server.pid,))
    finally:
        stop([server])
    result["server_cpu_us_per_delivery"] = per_delivery
    return result


def open_connections(stack):
    """The gateway's `portico_websocket_connections_open` gauge, from its admin /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.admin_port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("portico_websocket_connections_open"):
                return float(line.split()[-1])
    return None


def teardown_seconds(stack, timeout=120):
    """Seconds until the gateway counts no open connection, after the client closed them all."""
    started = time.time()
    while time.time() - started < timeout:
        if open_connections(stack) == 0:
            return time.time() - started
        time.sleep(0.05)
    return None


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def fmt(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=".build-release/release")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="echo rounds per proxy, alternated")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--hold", type=float, default=10)
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--publications", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=2, help="event loop threads of the load generator")
    parser.add_argument("--backend-threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not shutil.which("nginx"):
        sys.exit("nginx is missing: `make bench-deps` installs it")
    for binary in ("portico-bench", "websocket-gateway"):
        if not os.path.exists(os.path.join(args.bin, binary)):
            sys.exit(f"{args.bin}/{binary} is missing: `make bench-websocket` builds it")
    nofile = raise_nofile()
    if nofile < args.idle + 1000:
        sys.exit(f"RLIMIT_NOFILE is {nofile}: {args.idle} connections need more (ulimit -Hn)")
    directory = tempfile.mkdtemp(prefix="portico-bench-ws-")
    os.chmod(directory, 0o755)  # nginx workers may run as another user
    stack = Stack(args, directory, nofile)
    started, load_before = time.time(), loadavg()
    if load_before > 0.5:
        print(f"warning: load average {load_before:.2f} before the run: other processes share the cores, "
              "and every number below is lower than on a quiet machine", flush=True)
    echo, idle = {"nginx": [], "floor": [], "gateway": []}, {}
    try:
        stack.start_echo()
        stack.start_nginx()
        stack.start_relay()
        stack.start_gateway()
        print(f"echo: {args.connections} connections, {args.size}-byte messages, {args.duration} s per run")
        for round_ in range(1, args.rounds + 1):
            for name in ("nginx", "floor", "gateway"):
                run_echo(stack, args, name, 2, measure=False)  # warm up: connections, pools, caches
                r = run_echo(stack, args, name, args.duration, measure=True)
                echo[name].append(r)
                lat = r["latency"]
                print(f"  round {round_} {name:8} {r['rps']:>8.0f} round trips/s  p50 {lat['p50_ms']:6.2f} ms  "
                      f"p99 {lat['p99_ms']:6.2f} ms  cpu {fmt(r['cpu_us'], 1)} us/round trip "
                      f"(backend {fmt(r['backend_cpu_us'], 1)})"
                      + (f"  mismatches {r['mismatches']}" if r["mismatches"] else "")
                      + (f"  failed {r['failed']}" if r["failed"] else ""), flush=True)
        print(f"idle: {args.idle} connections held {args.hold:g} s")
        for key, name, deflate in (("gateway", "gateway", False), ("gateway-deflate", "gateway", True),
                                   ("nginx", "nginx", False)):
            r = run_idle(stack, args, name, offer_deflate=deflate)
            idle[key] = r
            print(f"  {key:15} opened {r['connections']}/{args.idle} in {r['connect_seconds']} s, "
                  f"{r['still_open_after_hold']} still open after the hold; RSS {r['rss_before_kb'] / 1024:.1f} → "
                  f"{r['rss_after_kb'] / 1024:.1f} MiB: {fmt(r['kb_per_connection'])} KiB per connection"
                  + (f"; dropped them {fmt(r['teardown_s'])} s after they closed" if "teardown_s" in r else ""),
                  flush=True)
        print(f"broadcast: {args.subscribers} subscribers, {args.publications} publications every {args.interval:g} s")
        broadcast = run_broadcast(stack, args)
        b = broadcast
        print(f"  gateway CPU {fmt(b['gateway_cpu_us_per_delivery'], 1)} us per delivery, load generator "
              f"{b['client_cpu_us_per_delivery']} us; the gateway took {fmt(b['teardown_s'])} s to drop the "
              f"{b['subscribers']} connections after they closed", flush=True)
        print(f"  subscribed {b['subscribers']} in {b['subscribe_seconds']} s; deliveries {b['deliveries']}/"
              f"{b['expected_deliveries']} (missing {b['missing']}, duplicates {b['duplicates']}); "
              f"p50 {b['latency']['p50_ms']:.2f} ms  p99 {b['latency']['p99_ms']:.2f} ms  "
              f"max {b['latency']['max_ms']:.2f} ms; whole fan-out p50 {b['fan_out_complete']['p50_ms']:.2f} ms; "
              f"publish call p50 {b['publish_call']['p50_ms']:.2f} ms", flush=True)
        floor = run_broadcast_floor(stack, args)
        print(f"  floor (portico-bench fanout-server): server CPU {fmt(floor['server_cpu_us_per_delivery'], 1)} us "
              f"per delivery; deliveries {floor['deliveries']}, missing {floor['missing']}; "
              f"p50 {floor['latency']['p50_ms']:.2f} ms  p99 {floor['latency']['p99_ms']:.2f} ms; "
              f"whole fan-out p50 {floor['fan_out_complete']['p50_ms']:.2f} ms", flush=True)
    finally:
        stack.stop_all()
    elapsed, load_after = time.time() - started, loadavg()

    mean = lambda values: sum(values) / len(values)
    ratio = mean([g["rps"] for g in echo["gateway"]]) / mean([n["rps"] for n in echo["nginx"]])
    gw_idle = idle["gateway"]["kb_per_connection"]
    verdicts = [
        ("Echo throughput ≥ nginx's", f"{ratio:.2f}× nginx (mean of {args.rounds} rounds)",
         ratio >= TARGETS["echo_ratio"]),
        ("Under 10 KB per idle connection", f"{fmt(gw_idle, 1)} KiB at {idle['gateway']['connections']} connections",
         gw_idle is not None and gw_idle < TARGETS["idle_kb"] and idle["gateway"]["connections"] == args.idle),
        ("Broadcast p99 under 50 ms", f"{broadcast['latency']['p99_ms']:.1f} ms to {broadcast['subscribers']} "
         f"subscribers, {broadcast['missing']} deliveries missing",
         broadcast["latency"]["p99_ms"] < TARGETS["broadcast_p99_ms"] and broadcast["missing"] == 0
         and broadcast["subscribers"] == args.subscribers),
    ]
    lines = ["### Echo: round trips through the proxy",
             "",
             "| round | nginx round trips/s (p50 / p99 ms) | floor: NIO relay round trips/s (p50 / p99 ms) "
             "| websocket-gateway round trips/s (p50 / p99 ms) "
             "| gateway / nginx | floor / nginx | CPU µs per round trip nginx / floor / gateway "
             "| backend CPU µs per round trip via nginx / via gateway |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for i, (n, f, g) in enumerate(zip(echo["nginx"], echo["floor"], echo["gateway"]), 1):
        lines.append(f"| {i} | {n['rps']:.0f} ({n['latency']['p50_ms']:.2f} / {n['latency']['p99_ms']:.2f}) "
                     f"| {f['rps']:.0f} ({f['latency']['p50_ms']:.2f} / {f['latency']['p99_ms']:.2f}) "
                     f"| {g['rps']:.0f} ({g['latency']['p50_ms']:.2f} / {g['latency']['p99_ms']:.2f}) "
                     f"| {g['rps'] / n['rps']:.2f}× | {f['rps'] / n['rps']:.2f}× "
                     f"| {fmt(n['cpu_us'], 0)} / {fmt(f['cpu_us'], 0)} / {fmt(g['cpu_us'], 0)} "
                     f"| {fmt(n['backend_cpu_us'], 0)} / {fmt(g['backend_cpu_us'], 0)} |")
    lines += ["",
              f"### Idle connections: {args.idle} held {args.hold:g} s",
              "",
              "| proxy | opened | still open after the hold | RSS before → with them (MiB) | KiB per connection "
              "| open all (s) |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, label in (("gateway", "websocket-gateway"),
                        ("gateway-deflate", "websocket-gateway, clients offering permessage-deflate"),
                        ("nginx", "nginx (master + workers)")):
        r = idle[name]
        lines.append(f"| {label} | {r['connections']} | {r['still_open_after_hold']} "
                     f"| {r['rss_before_kb'] / 1024:.1f} → {r['rss_after_kb'] / 1024:.1f} | {fmt(r['kb_per_connection'])} "
                     f"| {r['connect_seconds']:.2f} |")
    b = broadcast
    lines += ["",
              f"### Broadcast: one publication to {b['subscribers']} subscribers, {b['published']} publications",
              "",
              "| server | deliveries (expected) | missing | p50 ms | p90 ms | p99 ms | max ms "
              "| whole fan-out p50 / max ms | publish call p50 ms | CPU µs per delivery server / load generator "
              "| subscribe all (s) | gateway drops them after close (s) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
              f"| websocket-gateway | {b['deliveries']} ({b['expected_deliveries']}) | {b['missing']} "
              f"| {b['latency']['p50_ms']:.2f} "
              f"| {b['latency']['p90_ms']:.2f} | {b['latency']['p99_ms']:.2f} | {b['latency']['max_ms']:.2f} "
              f"| {b['fan_out_complete']['p50_ms']:.2f} / {b['fan_out_complete']['max_ms']:.2f} "
              f"| {b['publish_call']['p50_ms']:.2f} | {fmt(b['gateway_cpu_us_per_delivery'], 0)} / "
              f"{b['client_cpu_us_per_delivery']:.0f} | {b['subscribe_seconds']:.2f} | {fmt(b['teardown_s'])} |",
              f"| floor: `portico-bench fanout-server` | {floor['deliveries']} | {floor['missing']} "
              f"| {floor['latency']['p50_ms']:.2f} | {floor['latency']['p90_ms']:.2f} "
              f"| {floor['latency']['p99_ms']:.2f} | {floor['latency']['max_ms']:.2f} "
              f"| {floor['fan_out_complete']['p50_ms']:.2f} / {floor['fan_out_complete']['max_ms']:.2f} "
              f"| {floor['publish_call']['p50_ms']:.2f} | {fmt(floor['server_cpu_us_per_delivery'], 0)} / "
              f"{floor['client_cpu_us_per_delivery']:.0f} | {floor['subscribe_seconds']:.2f} | — |",
              "",
              "### Targets (issue)",
              "",
              "| target | measured | met |",
              "| --- | --- | --- |"]
    lines += [f"| {target} | {measured} | {'yes' if met else '**no**'} |" for target, measured, met in verdicts]
    tables = "\n".join(lines)
    print()
    print(tables)
    print(f"\n(total {elapsed:.0f} s; load average {load_before:.2f} before, {load_after:.2f} after)")
    if args.no_write:
        return
    write_docs(args, tables, load_before)
    print("\nwrote docs/benchmarks.md")


def write_docs(args, tables, load_before):
    nproc = os.cpu_count()
    nginx_version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "Sources/WebSocketGateway", "Sources/GatewayCore", "Sources/GatewayHTTP"):
        commit += " with uncommitted changes to the gateway's sources"
    section = f"""## WebSocket gateway

Measured by `make bench-websocket` (scripts/bench-websocket.py, load generator `portico-bench` in
Sources/PorticoBench). Last run: {datetime.date.today().isoformat()}, commit {commit}, {platform.machine()}, {nproc} cores,
{nginx_version}; load average {load_before:.2f} when it started. The load generator, the echo backend and
the proxy under test share the {nproc} cores: the numbers compare the two proxies under the same
conditions; they are not capacity figures.

{tables}

### Method

- **Echo backend** (the same for both proxies): `portico-bench echo-server`, SwiftNIO,
  {args.backend_threads} event loop thread(s). websocket-gateway's integration calls arrive as
  `POST /echo` with the JSON envelope; it answers 200 with the envelope's `body` (the client's message
  text). nginx's WebSocket connections arrive upgraded on `/ws`; it echoes every frame.
- **websocket-gateway**: release build; one two-way route `echo` to that service, one channel namespace
  `bench:*` (`subscribe: client`, `publish: backend`), access log off, log level `warning`. Nothing
  throttles: no `messageRate`, no per-identity cap, `idleTimeout` 10m, outbound queue 256 messages,
  circuit breaker limits raised to 100,000. The client offers no permessage-deflate, so frames are not
  compressed on either path. Each client message costs the gateway one HTTP/1.1 call to the backend
  (pooled keep-alive connections) and one text frame back: a different job from nginx's, which
  relays frames over a second WebSocket.
- **nginx**: `worker_processes auto`, `proxy_pass` to the backend with `proxy_http_version 1.1` and
  the `Upgrade` / `Connection "upgrade"` headers, no access log, `worker_connections` and
  `worker_rlimit_nofile` at the descriptor limit.
- **Echo floor**: `portico-bench relay-server` (Sources/PorticoBench/RelayServer.swift), SwiftNIO with
  one event loop per core: one TCP connection to the backend per client connection, bytes copied both
  ways as they arrive, one write and flush per read burst, nothing parsed (not even the handshake), so
  the client talks to the backend's WebSocket echo through it. It is the least a proxy written on NIO
  does per round trip on this machine: what nginx and websocket-gateway take beyond it is their own.
- **Echo load**: `portico-bench echo`, {args.connections} connections, each sending one {args.size}-byte
  text message (`{{"action":"echo","data":"xxx…"}}`), waiting for the reply, checking it is the same
  bytes, and sending the next; {args.threads} client event loop threads. A 2 s warm-up run against
  the same proxy, then {args.duration} s measured; proxies alternated, {args.rounds} rounds.
  Latency is per round trip, from the write of the message to the read of its reply. CPU per round
  trip: user + system time of the proxy's processes during the measured run (from `/proc/PID/stat`)
  divided by the round trips; the same for the echo backend, which does more per message behind the
  gateway (an HTTP request and the envelope's `body` to pick out) than behind nginx (a frame).
- **Idle memory**: a fresh proxy process, a 1 s echo run (so lazily created state exists), then
  `portico-bench idle` opens {args.idle} connections (200 handshakes in flight at most) and holds them
  {args.hold:g} s, answering pings. RSS (`VmRSS` from `/proc/PID/status`; nginx: master and workers)
  is read before and a few seconds after the last connection is open; the difference divided by the
  connections. nginx's figure covers its upstream connection per client too; the backend's memory is
  not counted for either. The gateway is measured twice: with clients that offer no extension, and
  with clients that offer `permessage-deflate; client_max_window_bits` as browsers do (the gateway
  accepts it by default; an idle client sends no data frame, so the load generator needs no
  inflater).
- **Broadcast**: a fresh websocket-gateway; `portico-bench broadcast` subscribes
  {args.subscribers} connections to `{CHANNEL}` (`$subscribe`, waiting for every `subscribed`), then
  publishes {args.publications} times, one at a time every {args.interval:g} s, through
  `POST /channels/{CHANNEL}/messages` on one keep-alive connection. Each body carries its send time on
  the load generator's monotonic clock, taken just before the request is written; every subscriber
  records receive time − send time on the same clock. p50/p99 are over all deliveries; "whole
  fan-out" is, per publication, the time until its last subscriber had it. The latency includes the
  publish call's HTTP handling, the fan-out, and the load generator reading {args.subscribers} frames
  on {args.threads} threads on the same cores. CPU per delivery: the gateway's and the load generator's
  user + system time from the first publication to the last delivery, divided by the deliveries. After
  the run, the time the gateway takes to count no open connection once the client has closed them all
  (`portico_websocket_connections_open` on the admin listener).
- **Broadcast floor**: the same load against `portico-bench fanout-server` (Sources/PorticoBench,
  SwiftNIO, one event loop per core like the gateway): any text message subscribes (answered
  `subscribed`), and a `POST` writes its body as one text frame to every subscriber, with one shared
  buffer, one task per event loop and one write per connection, as the gateway does, but with no
  channel state, offsets, JSON, auth or metrics. It is the least a WebSocket server does per delivery
  on this machine; the gap between it and websocket-gateway is the gateway's own.
"""
    path = "docs/benchmarks.md"
    existing = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    marker = "\n## WebSocket gateway\n"
    kept_analysis = ""
    if marker in existing:
        start = existing.index(marker)
        end = existing.find("\n## ", start + len(marker))
        end = len(existing) if end < 0 else end
        old = existing[start:end]
        # The analysis written by people (from "### What limits it" on) is kept as it is.
        analysis = old.find("\n### What limits it")
        if analysis >= 0:
            kept_analysis = old[analysis:].rstrip("\n") + "\n"
        existing = existing[:start] + existing[end:]
    # After every other section: scripts/bench-rest.py keeps whatever follows its own analysis.
    with open(path, "w") as f:
        f.write(existing.rstrip("\n") + "\n\n" + section + kept_analysis)


if __name__ == "__main__":
    main()
