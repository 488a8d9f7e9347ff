"""What the benchmark scripts (bench-rest.py, bench-websocket.py) share: free loopback ports, waiting for
a process to answer HTTP, and CPU time and memory of a process tree from /proc."""
import os
import socket
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=30, process=None):
    """Waits for a 200 from url; exits the script when it does not come (or `process` exits first)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            sys.exit(f"{url}: the process exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{url} did not answer")


def process_tree(pids):
    """These processes and their descendants (nginx: master and workers)."""
    seen, queue = [], list(pids)
    while queue:
        pid = queue.pop()
        if pid in seen:
            continue
        seen.append(pid)
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                queue.extend(int(child) for child in f.read().split())
        except OSError:
            pass
    return seen


def cpu_seconds(pids):
    """utime + stime of these processes and their descendants, in seconds."""
    total = 0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in process_tree(pids):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / ticks


def rss_kb(pids):
    """VmRSS of these processes and their descendants, in KiB."""
    total = 0
    for pid in process_tree(pids):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total
