#!/usr/bin/env python3
"""A fault scenario through the REST gateway, with the numbers an operator wants to see.

Starts two upstreams on loopback (each answers with its name), a rest-gateway in front of both
(outlier detection and default retries), and drives a steady closed-loop load. Then:
  t=3s   upstream A stops listening (connections refused), as a crashed process would;
  t=13s  A listens again on the same port.
It prints how many requests were sent, how many failed as the client saw them, how long the gateway
took to eject A (from the admin /upstreams view) and to send traffic to A again after it came back.

Usage: scripts/fault-scenario.py [--bin .build/release] [--seconds 20] [--workers 8]
"""
import argparse
import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


class Upstream:
    """A tiny HTTP/1.1 upstream that can stop listening and start again on the same port."""

    def __init__(self, name):
        self.name = name
        self.server = None
        self.thread = None
        self.port = None
        self.served = 0
        self.lock = threading.Lock()
        self.connections = set()

    def start(self):
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with upstream.lock:
                    upstream.connections.add(self.connection)

            def finish(self):
                with upstream.lock:
                    upstream.connections.discard(self.connection)
                super().finish()

            def do_GET(self):
                with upstream.lock:
                    upstream.served += 1
                body = json.dumps({"upstream": upstream.name, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.send_header("x-upstream", upstream.name)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request, client_address):
                pass  # A connection cut by stop() mid-write is the point of the exercise.

        self.server = Server(("127.0.0.1", self.port or 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Stop listening and drop every open connection: new connects are refused."""
        self.server.shutdown()
        self.server.server_close()
        # Keep-alive connections held by handler threads die with the process too.
        with self.lock:
            for connection in list(self.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=5):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return response.status, response.getheader("x-upstream"), body
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=".build/release")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    a, b = Upstream("a"), Upstream("b")
    a.start()
    b.start()
    port, admin = free_port(), free_port()
    config = f"""
services:
  svc:
    endpoints: ["http://127.0.0.1:{a.port}", "http://127.0.0.1:{b.port}"]
    connectTimeout: 500ms
    outlierDetection: {{ consecutiveFailures: 5, baseEjectionTime: 5s }}
observability:
  accessLog: false
gateways:
  rest:
    routes:
      - {{ name: api, match: {{ prefix: /api }}, service: svc }}
"""
    directory = tempfile.mkdtemp(prefix="portico-fault-")
    path = os.path.join(directory, "portico.yaml")
    with open(path, "w") as f:
        f.write(config)
    gateway = subprocess.Popen(
        [os.path.join(args.bin, "rest-gateway"), "--config", path, "--listen", f"127.0.0.1:{port}",
         "--admin", f"127.0.0.1:{admin}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if get(admin, "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit("the gateway did not become ready")

        stats = {"sent": 0, "failed": 0, "by": {}, "errors": {}}
        lock = threading.Lock()
        stop = threading.Event()

        def worker():
            while not stop.is_set():
                try:
                    status, upstream, body = get(port, "/api/item")
                    ok = status == 200
                    error = None if ok else f"{status} {json.loads(body).get('code', '') if body.startswith(b'{') else ''}"
                except OSError as e:
                    ok, upstream, error = False, None, type(e).__name__
                with lock:
                    stats["sent"] += 1
                    if not ok:
                        stats["failed"] += 1
                        stats["errors"][error] = stats["errors"].get(error, 0) + 1
                    stats["by"][upstream] = stats["by"].get(upstream, 0) + 1

        def ejected():
            view = json.loads(get(admin, "/upstreams")[2])
            for service in view["services"]:
                for endpoint in service["endpoints"]:
                    if endpoint["url"].endswith(f":{a.port}"):
                        return endpoint["ejected"]
            return False

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.workers)]
        start = time.time()
        for thread in threads:
            thread.start()
        time.sleep(3)
        served_before = a.served
        a.stop()
        killed = time.time()
        eject_time = None
        while time.time() - killed < 10:
            if ejected():
                eject_time = time.time() - killed
                break
            time.sleep(0.01)
        time.sleep(max(0, 13 - (time.time() - start)))
        a.start()
        restarted = time.time()
        served_at_restart = a.served
        recover_time = None
        while time.time() - start < args.seconds:
            if a.served > served_at_restart and recover_time is None:
                recover_time = time.time() - restarted
            time.sleep(0.01)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.time() - start
        print(f"duration                 {elapsed:.1f} s, {args.workers} closed-loop clients")
        print(f"requests sent            {stats['sent']} ({stats['sent'] / elapsed:.0f}/s)")
        print(f"failures seen by clients {stats['failed']}"
              + (f" {stats['errors']}" if stats["errors"] else ""))
        print(f"served by a / b          {stats['by'].get('a', 0)} / {stats['by'].get('b', 0)}"
              f" (a served {served_before} before it went down)")
        print(f"time to eject a          {'%.3f s' % eject_time if eject_time is not None else 'not ejected'}")
        print(f"time to traffic on a     {'%.3f s' % recover_time if recover_time is not None else 'no traffic'}"
              " after it listened again (ejection 5s base)")
    finally:
        gateway.terminate()
        gateway.wait(timeout=20)


if __name__ == "__main__":
    main()
