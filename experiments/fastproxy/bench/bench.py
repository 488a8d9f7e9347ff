# Alternating A/B benchmark: wrk -t2 -c64 -d8s per target per round, CPU us/request from /proc/PID/stat
# (utime+stime of the proxy process and its children), same method as scripts/bench-rest.py.
import os, re, subprocess, sys, time, statistics, json, urllib.request
# Paths are derived from this file's place in the repository (experiments/fastproxy/bench); the
# nginx configs are written out with them before anything starts.
D = os.path.dirname(os.path.abspath(__file__))
FP = os.path.join(D, "..", ".build", "release", "fastproxy")
RG = os.path.join(D, "..", "..", "..", ".build-release", "release", "rest-gateway")
for name in ("up.conf", "proxy.conf"):
    text = open(os.path.join(D, name + ".in")).read().replace("@DIR@", D)
    open(os.path.join(D, name), "w").write(text)
TARGETS = {
    "nginx-proxy": (["nginx", "-c", f"{D}/proxy.conf", "-g", "daemon off;", "-e", f"{D}/proxy-error.log"], 18922),
    "fastproxy": ([FP, "--listen", "18923", "--upstream", "18921"], 18923),
    "fastproxy-string": ([FP, "--listen", "18923", "--upstream", "18921", "--string-parse"], 18923),
    "fastproxy-flush-each": ([FP, "--listen", "18923", "--upstream", "18921", "--flush-each"], 18923),
    "fastproxy-writev": ([FP, "--listen", "18923", "--upstream", "18921", "--copy-limit", "-1"], 18923),
    "fastproxy-1thread": ([FP, "--listen", "18923", "--upstream", "18921", "--threads", "1"], 18923),
    "fastproxy-4hops": ([FP, "--listen", "18923", "--upstream", "18921", "--extra-handlers", "4"], 18923),
    "fastproxy-noexcl": ([FP.replace(".build/", ".build-noexcl/"), "--listen", "18923", "--upstream", "18921"], 18923),
    "rest-gateway": ([RG, "--config", f"{D}/portico.yaml", "--listen", "127.0.0.1:18924", "--admin", "127.0.0.1:18925"], 18924),
}
def cpu(pid):
    total, seen, queue = 0, set(), [pid]
    while queue:
        p = queue.pop()
        if p in seen: continue
        seen.add(p)
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
            queue += [int(c) for c in open(f"/proc/{p}/task/{p}/children").read().split()]
        except OSError: pass
    return total / os.sysconf("SC_CLK_TCK")
def ms(t):
    v, u = re.match(r"([\d.]+)(\w+)", t).groups(); return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
def run(name):
    cmd, port = TARGETS[name]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/small.json"
    for _ in range(100):
        try:
            urllib.request.urlopen(url).read(); break
        except Exception: time.sleep(0.1)
    subprocess.run(["wrk", "-t2", "-c64", "-d2s", url], capture_output=True)
    assert p.poll() is None, f"{name} exited (port in use?)"
    c0 = cpu(p.pid)
    out = subprocess.run(["wrk", "-t2", "-c64", "-d8s", "--latency", url], capture_output=True, text=True).stdout
    c1 = cpu(p.pid)
    p.terminate(); p.wait()
    n = int(re.search(r"(\d+) requests in", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r = dict(name=name, rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), p50=ms(lat["50"]), p99=ms(lat["99"]),
             cpu_us=(c1 - c0) * 1e6 / n, errors=int(errs.group(1)) if errs else 0)
    print(json.dumps(r), flush=True)
    return r
names = sys.argv[2:] or list(TARGETS)
rounds = int(sys.argv[1])
up = subprocess.Popen(["nginx", "-c", f"{D}/up.conf", "-g", "daemon off;", "-e", f"{D}/up-error.log"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if not os.path.exists(f"{D}/up.pid") else None
time.sleep(0.5)
res = {n: [] for n in names}
try:
    for rnd in range(rounds):
        for n in names: res[n].append(run(n))
finally:
    if up: up.terminate(); up.wait()
print("| target | req/s median (min..max) | p50 ms median | p99 ms median | CPU µs/req min | CPU µs/req median |")
print("|---|---|---|---|---|---|")
for n in names:
    rs = res[n]; f = lambda k: statistics.median(r[k] for r in rs)
    print(f"| {n} | {f('rps'):.0f} ({min(r['rps'] for r in rs):.0f}..{max(r['rps'] for r in rs):.0f}) | {f('p50'):.2f} | {f('p99'):.2f} | {min(r['cpu_us'] for r in rs):.1f} | {f('cpu_us'):.1f} |")
