#!/usr/bin/env python3
"""Runs the WebSocket robustness cases against a ws:// URL.

    .venv/bin/python Tests/WebSocketRobustness/run.py ws://127.0.0.1:8084/ws [--only 7.5] [--json] [--verbose]

Prints one line per case (PASS / NON-STRICT / INFO / FAIL, id, name, detail) and a summary; exits 0 only if no
case FAILs (NON-STRICT and INFO are reported but are not failures). --only PREFIX runs the cases whose id is
PREFIX or starts with "PREFIX." (e.g. --only 7 or --only 13.2). --json prints a JSON document instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cases import CASES, FAIL, run_case, select  # noqa: E402
from wsframes import WSClient  # noqa: E402


def gateway_alive(url: str) -> bool:
    """A plain handshake succeeds (retried briefly: a just-failed connection may still be closing)."""
    for _ in range(3):
        try:
            WSClient.connect(url, timeout=2).close()
            return True
        except Exception:  # noqa: BLE001
            time.sleep(0.3)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the gateway's upgrade URL, e.g. ws://127.0.0.1:8084/ws")
    parser.add_argument("--only", metavar="PREFIX", help="run only cases whose id starts with PREFIX")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--skip-dangerous", action="store_true",
                        help="skip the cases that can crash the gateway process (run last otherwise)")
    parser.add_argument("--verbose", "-v", action="store_true", help="also print what each case sends/expects")
    parser.add_argument("--jobs", "-j", type=int, default=4,
                        help="cases run in parallel, each on its own connection (default 4; 1 = sequential)")
    args = parser.parse_args()

    cases = select(args.only)
    if not cases:
        print(f"no case matches {args.only!r}; ids: {', '.join(c.id for c in CASES)}", file=sys.stderr)
        return 2

    started = time.monotonic()

    def run(c):
        t = time.monotonic()
        status, detail = run_case(args.url, c)
        return c, status, detail, time.monotonic() - t

    if args.skip_dangerous:
        cases = [c for c in cases if not c.dangerous]
    safe = [c for c in cases if not c.dangerous]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run, safe))
    # Cases that may take the gateway down: last, one at a time, with a liveness check around each.
    for c in (c for c in cases if c.dangerous):
        if not gateway_alive(args.url):
            results.append((c, FAIL, "not run: the gateway is not reachable (crashed earlier?)", 0.0))
            continue
        c_, status, detail, secs = run(c)
        if not gateway_alive(args.url):
            status, detail = FAIL, detail + " -- GATEWAY PROCESS CRASHED (no handshake possible afterwards)"
        results.append((c_, status, detail, secs))
    order = {c.id: i for i, c in enumerate(CASES)}
    results.sort(key=lambda r: order[r[0].id])
    total = time.monotonic() - started

    counts: dict[str, int] = {}
    for _, status, _, _ in results:
        counts[status] = counts.get(status, 0) + 1

    if args.json:
        print(json.dumps({
            "url": args.url,
            "seconds": round(total, 2),
            "summary": counts,
            "cases": [
                {"id": c.id, "name": c.name, "sends": c.sends, "expects": c.expects, "result": status,
                 "detail": detail, "seconds": round(secs, 3)}
                for c, status, detail, secs in results
            ],
        }, indent=2))
    else:
        for c, status, detail, secs in results:
            print(f"{status:<10} {c.id:<7} {c.name}: {detail}")
            if args.verbose:
                print(f"{'':18}sends:   {c.sends}\n{'':18}expects: {c.expects}")
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(f"\n{len(results)} cases in {total:.1f}s: {summary}")
    return 1 if counts.get(FAIL) else 0


if __name__ == "__main__":
    sys.exit(main())
