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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the gateway's upgrade URL, e.g. ws://127.0.0.1:8084/ws")
    parser.add_argument("--only", metavar="PREFIX", help="run only cases whose id starts with PREFIX")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
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

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run, cases))
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
