"""Measure 1: what counting sessions costs the exporter's scrape, at growing session counts.

Three exporters (the real binary) scrape one Redis filled in Spring Session's layout:
- plain: the exporter as deployed without extras (INFO etc.);
- project: the project's exact method — for the default repository the plain scrape
  itself (redis_db_keys of the app's dedicated DB), for the indexed repository the plain
  scrape plus the generated Lua script (monitoring/session_count.py), measured with both
  of Spring's expiration stores: per-minute sets (default) and the sorted set (3.4+);
- count-keys: `--count-keys` on the session key pattern (SCAN per scrape).
Scrapes are interleaved; a probe PINGs Redis throughout to show Redis's own latency.
"""
from __future__ import annotations

import bisect
import statistics
import threading
import time
import urllib.request
from pathlib import Path

from monitoring.session_count import lua_script, script_key, stores_for
from settings.stackfile import load_settings
from simulators.loopback import HOST, Processes, Redis, start_exporter
from simulators.resp import Client
from simulators.spring_session import SessionWriter
from simulators.stack import PASSWORD

APP = {"name": "petclinic", "image": "r/petclinic:1.0", "sessionTimeout": "30m"}


def _scrape(port: int) -> tuple[float, str]:
    start = time.perf_counter()
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=120) as r:
        body = r.read().decode()
    return time.perf_counter() - start, body


def _metric(body: str, prefix: str) -> float | None:
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


class PingProbe:
    """PINGs Redis in a loop from its own connection; records round trips."""

    def __init__(self, port: int):
        self.client = Client(HOST, port, PASSWORD)
        self.samples: list[float] = []
        self.running = False

    def __enter__(self):
        self.running = True
        self.samples = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        deadline = time.monotonic() + 600
        while self.running and time.monotonic() < deadline:
            start = time.perf_counter()
            self.client.call("PING")
            self.samples.append(time.perf_counter() - start)
            time.sleep(0.001)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(timeout=10)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


# label in the results -> (repository type, Spring's expiration store for indexed)
VARIANTS = {"default": ("default", "minute"), "indexed": ("indexed", "minute"),
            "indexed-sorted-set": ("indexed", "sorted-set")}


def measure(workdir: Path, sizes: list[int], scrapes: int, payload: int) -> list[dict]:
    rows = []
    for label, (repository, expiration_store) in VARIANTS.items():
        procs = Processes(workdir / label)
        try:
            rows += _measure_type(procs, label, repository, expiration_store, sizes, scrapes, payload)
        finally:
            procs.close()
    return rows


def _measure_type(procs: Processes, label: str, repository: str, expiration_store: str, sizes: list[int],
                  scrapes: int, payload: int) -> list[dict]:
    settings = load_settings("dev", {"wasApps": [{**APP, "repositoryType": repository}], "expectedPeakSessions": 1000})
    app = settings.was_apps[0]
    store = stores_for(settings.was_apps)[0]
    redis = Redis(procs, "redis", PASSWORD, {"appendonly": "no"}).start()
    target = f"redis://{redis.addr}"
    (procs.workdir / "passwords.json").write_text(f'{{"{target}": "{PASSWORD}"}}')
    base = [f"--redis.addr={target}", f"--redis.password-file={procs.workdir}/passwords.json"]
    pattern = f"{app.session_namespace}:sessions:" + ("expires:*" if repository == "indexed" else "*")
    methods = {"plain": base, "count-keys": base + [f"--count-keys=db{app.session_database}={pattern}"]}
    script = lua_script([store])
    if script:
        (procs.workdir / "sessions.lua").write_text(script)
        methods["project"] = base + [f"--script={procs.workdir}/sessions.lua"]
    ports = {m: start_exporter(procs, args, name=f"exporter-{m}")[1] for m, args in methods.items()}
    if "project" not in ports:
        ports["project"] = ports["plain"]  # default repository: the plain scrape is the method
    project_prefix = (f'redis_script_values{{key="{script_key(store)}"}}' if script
                      else f'redis_db_keys{{db="db{app.session_database}"}}')

    client = redis.client(app.session_database)
    writer = SessionWriter(client, app.session_namespace, repository, app.session_timeout_seconds, payload,
                           expiration_store)
    rows, written = [], 0
    for size in sizes:
        started = time.perf_counter()
        writer.create(size - written, users=max(1, size // 4), batch=6000,
                      spread_seconds=app.session_timeout_seconds - 120)
        fill_s = time.perf_counter() - started
        written = size
        times: dict[str, list[float]] = {m: [] for m in ports}
        pings: dict[str, list[float]] = {m: [] for m in ports}
        values, live = {}, {}
        expiries = sorted(writer.expiries_ms)
        probe = PingProbe(redis.port)
        for m, port in ports.items():  # warm-up, and exactness against what was live during the scrape
            before = time.time() * 1000
            _, body = _scrape(port)
            after = time.time() * 1000
            values[m] = body
            # sessions live at the scrape's end .. at its start (1 ms either side for clock rounding)
            live[m] = (len(expiries) - bisect.bisect_right(expiries, after + 1),
                       len(expiries) - bisect.bisect_right(expiries, before - 1))
        for _ in range(scrapes):
            for m, port in ports.items():
                with probe:
                    elapsed, _ = _scrape(port)
                times[m].append(elapsed)
                pings[m] += probe.samples
        plain_median = statistics.median(times["plain"])
        counted = {
            "project": _metric(values["project"], project_prefix),
            "count-keys": _metric(values["count-keys"], "redis_keys_count{"),
            "plain": _metric(values["plain"], f'redis_db_keys{{db="db{app.session_database}"}}'),
        }
        for m in ("plain", "project", "count-keys"):
            median = statistics.median(times[m])
            count = counted[m]
            rows.append({
                "repository": label, "sessions": size, "method": m,
                "median_ms": round(median * 1000, 2), "p99_ms": round(p99(times[m]) * 1000, 2),
                "ratio": round(median / plain_median, 2),
                "redis_ping_p99_ms": round(p99(pings[m]) * 1000, 2) if pings[m] else None,
                "redis_ping_max_ms": round(max(pings[m]) * 1000, 2) if pings[m] else None,
                "counted": counted[m], "live": list(live[m]),
                "exact": count is not None and live[m][0] <= count <= live[m][1],
                "fill_s": round(fill_s, 1),
            })
    client.close()
    return rows
