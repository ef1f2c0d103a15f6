"""Benchmarks on real Redis, redis_exporter, Prometheus and Alertmanager (loopback only).

    .venv/bin/python -m bench            # full run: writes docs/benchmarks.md + docs/bench-scrape-time.png
    .venv/bin/python -m bench --quick    # smoke (CI): small sizes, one run each, writes to --out
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import alert_latency, failover, memory, program_eval, report, session_count

ROOT = Path(__file__).resolve().parent.parent

FULL = dict(sizes=[100000, 1000000], scrapes=15, snapshots=3, load_s=10.0, payload=1024, memory_sessions=20000,
            latency_runs=5, latency=("10s", "2s", "2s"), failover_runs=3, eval_runs=10)
QUICK = dict(sizes=[2000], scrapes=3, snapshots=1, load_s=2.0, payload=512, memory_sessions=1000,
             latency_runs=1, latency=("2s", "1s", "1s"), failover_runs=1, eval_runs=2)


def versions() -> dict:
    def first_line(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unknown"
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "?")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import os
    return {
        "machine": (f"{os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB RAM, "
                    f"{platform.system()} {platform.release()}"),
        "python": platform.python_version(),
        "redis": first_line(["redis-server", "--version"]),
        "redis_exporter": first_line(["prometheus-redis-exporter", "--version"]),
        "prometheus": first_line(["prometheus", "--version"]),
        "alertmanager": first_line(["prometheus-alertmanager", "--version"]),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, one run each")
    parser.add_argument("--out", type=Path, help="where results go (default: docs/ for a full run)")
    parser.add_argument("--only", help="comma-separated steps to re-measure (e.g. session_count); the other "
                                       "steps' figures are kept from <out>/benchmarks.json")
    parser.add_argument("--variants", help="with --only session_count: comma-separated stores to re-measure "
                                           "(default, indexed-minute, indexed-sorted-set); their rows replace the old")
    parser.add_argument("--sizes", help="with --only session_count: comma-separated session counts")
    args = parser.parse_args(argv)
    plan: dict[str, Any] = dict(QUICK if args.quick else FULL)
    if args.sizes:
        plan["sizes"] = [int(x) for x in args.sizes.split(",")]
    variants = args.variants.split(",") if args.variants else None
    out = args.out or (Path(tempfile.mkdtemp(prefix="bench-")) if args.quick else ROOT / "docs")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-work-"))
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full", "date": time.strftime("%Y-%m-%d"),
                               "versions": versions(), "plan": dict(plan)}
    steps = [
        ("session_count", lambda: session_count.measure(work / "count", plan["sizes"], plan["scrapes"], plan["payload"],
                                                        plan["snapshots"], plan["load_s"], variants)),
        ("bytes_per_session", lambda: memory.bytes_per_session(work / "memory", plan["memory_sessions"])),
        ("sizing_demo", lambda: memory.demonstrate(work / "demo")),
        ("alert_latency", lambda: alert_latency.measure(work / "latency", plan["latency_runs"], *plan["latency"])),
        ("failover", lambda: failover.measure(work / "failover", plan["failover_runs"], quick=args.quick)),
        ("program_eval", lambda: program_eval.measure(plan["eval_runs"])),
    ]
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {name for name, _ in steps}
        if unknown:
            parser.error(f"--only: unknown step(s) {sorted(unknown)}; steps: {[name for name, _ in steps]}")
        previous = json.loads((out / "benchmarks.json").read_text())
        results = {**previous, "date": results["date"], "versions": results["versions"],
                   "plan": {**previous["plan"], **results["plan"]},
                   "remeasured": {"steps": sorted(wanted), "previous_date": previous.get("date")}}
        steps = [(name, step) for name, step in steps if name in wanted]
    for name, step in steps:
        started = time.monotonic()
        print(f"bench: {name} ...", flush=True)
        fresh: Any = step()
        if name == "session_count" and args.only and (args.sizes or variants):  # replace only the re-measured rows
            again = {(x["repository"], x["sessions"]) for x in fresh}
            fresh = [x for x in list(results[name]) if (x["repository"], x["sessions"]) not in again] + fresh
            fresh.sort(key=lambda x: (list(session_count.VARIANTS).index(x["repository"]), x["sessions"]))
        results[name] = fresh
        print(f"bench: {name} done in {time.monotonic() - started:.0f}s", flush=True)
    results["fit"] = memory.fit(results["bytes_per_session"])
    (out / "benchmarks.json").write_text(json.dumps(results, indent=2))
    plot = report.plot(results["session_count"], out / "bench-scrape-time.png")
    (out / "benchmarks.md").write_text(report.markdown(results, plot.name))
    print(report.summary(results))
    print(f"bench: results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
