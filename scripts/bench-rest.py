#!/usr/bin/env python3
"""REST gateway benchmark against nginx, on this machine, in one go (`make bench-rest`).

A fixed upstream (nginx serving a small static JSON file) is measured with wrk four ways, each at
several connection counts: directly, through nginx as a reverse proxy (keep-alive to the upstream),
through a byte relay on SwiftNIO that parses nothing (the floor for a proxy written on NIO), and
through rest-gateway with an equivalent route. Prints requests/s and p50/p99 latency side by
side with the ratio rest-gateway/nginx-proxy, and writes the table and the method to
docs/benchmarks.md. Loopback only; every run is bounded by --duration.

Usage: scripts/bench-rest.py [--bin .build/release] [--connections 16,64,256] [--duration 10]
                             [--threads 2] [--no-write]
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

from benchlib import cpu_seconds, free_port, wait_http

SMALL_JSON = '{"id":1,"name":"Ada Lovelace","email":"ada@example.com","roles":["admin","dev"]}\n'


def nginx_conf(directory, body):
    return f"""
worker_processes {{workers}};
pid {directory}/{{name}}.pid;
error_log {directory}/{{name}}-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    {body}
}}
"""


def start_nginx(directory, name, workers, body):
    path = os.path.join(directory, f"{name}.conf")
    with open(path, "w") as f:
        f.write(nginx_conf(directory, body).replace("{workers}", str(workers)).replace("{name}", name))
    return subprocess.Popen(
        ["nginx", "-c", path, "-g", "daemon off;", "-e", os.path.join(directory, f"{name}-error.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wrk(url, connections, duration, threads, pids=()):
    threads = min(threads, connections)
    cpu_before = cpu_seconds(pids)
    output = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", url],
        capture_output=True, text=True, timeout=duration + 60).stdout
    cpu = cpu_seconds(pids) - cpu_before
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p50": to_ms(latency.get("50", "0ms")),
        "p99": to_ms(latency.get("99", "0ms")),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
        # CPU time the proxy itself spent per request: steadier than req/s on a shared machine.
        "cpu_us": cpu * 1e6 / requests if requests and pids else None,
    }


def to_ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=".build/release")
    parser.add_argument("--connections", default="16,64,256")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: `make deps` installs it")
    connections = [int(c) for c in args.connections.split(",")]
    directory = tempfile.mkdtemp(prefix="portico-bench-")
    os.chmod(directory, 0o755)  # nginx workers may run as another user
    with open(os.path.join(directory, "small.json"), "w") as f:
        f.write(SMALL_JSON)
    upstream_port, proxy_port, gateway_port, admin_port, relay_port = (free_port() for _ in range(5))
    processes = []
    try:
        processes.append(start_nginx(directory, "upstream", 1, f"""
    server {{
        listen 127.0.0.1:{upstream_port} reuseport backlog=4096;
        location = /small.json {{ root {directory}; default_type application/json; }}
        # The relay floor forwards the request unchanged, prefix included.
        location = /api/small.json {{ alias {directory}/small.json; default_type application/json; }}
    }}"""))
        processes.append(start_nginx(directory, "proxy", "auto", f"""
    upstream backend {{ server 127.0.0.1:{upstream_port}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{proxy_port} reuseport backlog=4096;
        location /api/ {{
            proxy_pass http://backend/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}"""))
        config = os.path.join(directory, "portico.yaml")
        with open(config, "w") as f:
            f.write(f"""
services:
  static:
    endpoints: ["http://127.0.0.1:{upstream_port}"]
observability:
  accessLog: false
  logLevel: warning
gateways:
  rest:
    routes:
      - {{ name: small, match: {{ prefix: /api }}, service: static, rewrite: {{ stripPrefix: /api }} }}
""")
        processes.append(subprocess.Popen(
            [os.path.join(args.bin, "rest-gateway"), "--config", config, "--listen", f"127.0.0.1:{gateway_port}",
             "--admin", f"127.0.0.1:{admin_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        processes.append(subprocess.Popen(
            [os.path.join(args.bin, "portico-bench"), "relay-server", "--port", str(relay_port),
             "--upstream-port", str(upstream_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        targets = [
            ("upstream (direct)", f"http://127.0.0.1:{upstream_port}/small.json", ()),
            ("nginx proxy", f"http://127.0.0.1:{proxy_port}/api/small.json", (processes[1].pid,)),
            ("NIO relay floor", f"http://127.0.0.1:{relay_port}/api/small.json", (processes[3].pid,)),
            ("rest-gateway", f"http://127.0.0.1:{gateway_port}/api/small.json", (processes[2].pid,)),
        ]
        for _, url, _ in targets:
            wait_http(url)
        results = {}
        for c in connections:
            for name, url, pids in targets:
                wrk(url, c, 2, args.threads)  # warm up: connections, pools, caches
                results[(name, c)] = wrk(url, c, args.duration, args.threads, pids)
                r = results[(name, c)]
                cpu = f"  cpu {r['cpu_us']:6.1f} us/req" if r["cpu_us"] is not None else ""
                print(f"{name:18} c={c:<4} {r['rps']:>10.0f} req/s  p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms{cpu}"
                      + (f"  non-2xx {r['errors']}" if r["errors"] else "")
                      + (f"  socket errors: {r['socket_errors']}" if r["socket_errors"] else ""), flush=True)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    lines = ["| connections | upstream direct req/s | nginx proxy req/s (p50 / p99 ms) | NIO relay floor req/s (p50 / p99 ms) | rest-gateway req/s (p50 / p99 ms) | rest-gateway / nginx | floor / nginx | CPU µs/request nginx / floor / rest-gateway |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in connections:
        up, ng, fl, gw = (results[(name, c)] for name in
                          ("upstream (direct)", "nginx proxy", "NIO relay floor", "rest-gateway"))
        lines.append(f"| {c} | {up['rps']:.0f} | {ng['rps']:.0f} ({ng['p50']:.2f} / {ng['p99']:.2f}) "
                     f"| {fl['rps']:.0f} ({fl['p50']:.2f} / {fl['p99']:.2f}) "
                     f"| {gw['rps']:.0f} ({gw['p50']:.2f} / {gw['p99']:.2f}) | {gw['rps'] / ng['rps']:.2f}× "
                     f"| {fl['rps'] / ng['rps']:.2f}× | {ng['cpu_us']:.0f} / {fl['cpu_us']:.0f} / {gw['cpu_us']:.0f} |")
    table = "\n".join(lines)
    print()
    print(table)
    if args.no_write:
        return
    nproc = os.cpu_count()
    nginx_version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    # The analysis written by people (from "## Where rest-gateway stands" on) is kept as it is.
    kept = ""
    if os.path.exists("docs/benchmarks.md"):
        with open("docs/benchmarks.md") as f:
            existing = f.read()
        marker = "\n## Where rest-gateway stands"
        if marker in existing:
            kept = existing[existing.index(marker):]
    with open("docs/benchmarks.md", "w") as f:
        f.write(f"""# Benchmarks

Measured by `make bench-rest` (scripts/bench-rest.py). Everything runs on one machine over loopback,
so the load generator, the upstream and the proxy under test share the same {nproc} cores: the
numbers compare proxies with each other under identical conditions; they are not capacity figures.

## REST gateway against nginx

Last run: {datetime.date.today().isoformat()}, {platform.machine()}, {nproc} cores, {nginx_version}.

{table}

## Method

- **Upstream**: nginx, 1 worker, serving a {len(SMALL_JSON)}-byte static JSON file, no access log.
- **nginx proxy**: `worker_processes auto`, `proxy_pass` to an `upstream` block with `keepalive 256`,
  HTTP/1.1 to the upstream, `Host` and `X-Forwarded-*` set, no access log.
- **rest-gateway**: release build, one prefix route with `stripPrefix`, access log off, every other
  setting at its default (the full client policy: breaker admission, selection, outlier detection,
  retries on connect failures, metrics per try; request id, trace context and `X-Forwarded-*`
  headers added).
- **NIO relay floor**: `portico-bench relay-server` (Sources/PorticoBench/RelayServer.swift), SwiftNIO
  with one event loop per core like rest-gateway: one upstream connection per client connection, bytes
  copied both ways as they arrive, one write and flush per read burst, nothing parsed. It is the least a
  proxy on SwiftNIO does per request on this machine; what rest-gateway takes beyond it is its own work
  (HTTP parsing and head re-writing, routing, policy, metrics), what it takes is NIO's and the kernel's.
- **Load**: `wrk -t {args.threads} -c N -d {args.duration}s --latency`, after a 2 s warm-up against the
  same target; requests/s and the p50/p99 latency as wrk reports them.
- **CPU per request**: user + system CPU time of the proxy's processes (nginx: master and workers)
  during the run, from `/proc/PID/stat`, divided by the requests wrk completed. It varies much less
  than requests/s when the load generator and the upstream share the cores.
""" + kept)
    print("\nwrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
