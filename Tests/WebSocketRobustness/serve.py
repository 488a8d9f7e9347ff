#!/usr/bin/env python3
"""Starts demo-services and websocket-gateway on free loopback ports (like Tests/IntegrationTests/Support/
Harness.swift does), prints the gateway's ws:// URL, and keeps them running until interrupted; or, with
`-- run.py args...`, runs the suite against them and stops them afterwards.

    .venv/bin/python Tests/WebSocketRobustness/serve.py --bin /tmp/wsr                 # prints URL, waits
    .venv/bin/python Tests/WebSocketRobustness/serve.py --bin /tmp/wsr --run [--only 7] [--json]

--bin is the directory with the built `demo-services` and `websocket-gateway` (copy them out of .build/debug
first if someone else may rebuild). Logs go to <workdir>/demo.log and <workdir>/gateway.log.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def wait_ports(log_path: str, proc: subprocess.Popen, want, timeout: float = 60) -> dict:
    """Reads JSON `listening` lines from log_path until `want(found)` is true."""
    found: dict = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}); see {log_path}")
        with open(log_path, errors="replace") as f:
            for line in f:
                if not line.startswith("{"):
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if obj.get("msg") == "listening":
                    key = obj.get("service") or obj.get("listener")
                    found[key] = int(obj["port"])
        if want(found):
            return found
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for listening lines in {log_path}")


def start(bin_dir: str, workdir: str):
    demo_log = open(os.path.join(workdir, "demo.log"), "w")
    demo = subprocess.Popen(
        [os.path.join(bin_dir, "demo-services"), "--host", "127.0.0.1", "--users-port", "0", "--orders-port", "0",
         "--catalog-port", "0", "--notifications-port", "0", "--chat-port", "0"],
        stdout=demo_log, stderr=subprocess.STDOUT, cwd=ROOT)
    services = ["users", "orders", "catalog", "notifications", "chat"]
    ports = wait_ports(demo_log.name, demo, lambda f: all(s in f for s in services))
    with open(os.path.join(ROOT, "portico.yaml")) as f:
        config = f.read()
    for name, default in zip(services, range(9101, 9106)):
        config = config.replace(f"127.0.0.1:{default}", f"127.0.0.1:{ports[name]}")
    config = config.replace("schema: Protocols/", f"schema: {ROOT}/Protocols/")
    config = config.replace("spec: Protocols/", f"spec: {ROOT}/Protocols/")
    config_path = os.path.join(workdir, "portico.yaml")
    with open(config_path, "w") as f:
        f.write(config)
    gw_log = open(os.path.join(workdir, "gateway.log"), "w")
    gateway = subprocess.Popen(
        [os.path.join(bin_dir, "websocket-gateway"), "--config", config_path, "--listen", "127.0.0.1:0",
         "--admin", "127.0.0.1:0"],
        stdout=gw_log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        gw = wait_ports(gw_log.name, gateway, lambda f: "main" in f)
    except Exception:
        demo.terminate()
        raise
    return demo, gateway, f"ws://127.0.0.1:{gw['main']}/ws"


def stop(*procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build", "debug"),
                        help="directory with demo-services and websocket-gateway")
    parser.add_argument("--workdir", default=None, help="where config and logs go (default: a temp dir)")
    parser.add_argument("--run", action="store_true", help="run run.py against the gateway, then stop")
    args, rest = parser.parse_known_args()
    # SIGTERM (and SIGINT, which background jobs ignore) stop the services too
    def _stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _stop)
    workdir = args.workdir or tempfile.mkdtemp(prefix="wsr-")
    os.makedirs(workdir, exist_ok=True)
    demo, gateway, url = start(args.bin, workdir)
    print(f"gateway: {url}  (logs in {workdir})", file=sys.stderr, flush=True)
    try:
        if args.run:
            return subprocess.call([sys.executable, os.path.join(HERE, "run.py"), url, *rest])
        print(url, flush=True)
        while gateway.poll() is None:
            time.sleep(0.5)
        print(f"gateway exited with {gateway.returncode}; see {workdir}/gateway.log", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(gateway, demo)


if __name__ == "__main__":
    sys.exit(main())
