"""Measure 1: every way of counting sessions, on stores in steady state with logins.

Per store (default repository; indexed with Spring's per-minute sets; indexed with the
sorted-set store) and size, a workload process (bench/workload.py) fills Redis the way a
Spring app that has run longer than the timeout leaves it (expiries spread over the
timeout, so the current minute holds its share; half the users logged in after arriving
anonymous, i.e. with a session id change; recent logouts lingering), then keeps it steady
at the rate sessions expire: new sessions, logins, touches, logouts, Spring's cleanup cron
and keyspace events. Methods, each its own exporter process (the real binary):

- plain: the exporter without extras; its `redis_db_keys` of the app's DB is what the seed
  and, for the default repository, this project used to read;
- minute-script (indexed, minute sets): the Lua script this project used before
  (SCARD of future minute sets + EXISTS on the current minute's members + ZCOUNT);
- zcount-script (indexed, sorted set): the Lua ZCOUNT over (now, +inf] this project's
  exporter ran on every scrape before issue 20 (Lua is no longer allowed: CVE-2025-49844);
- scrape: the project's regular scrape now: plain + `check-single-keys` of the sorted-set
  keys (TYPE + ZCARD, no Lua), which counts the sorted-set store by ZCARD;
- count: SCAN ... MATCH via the exporter's `count-keys` (`/scrape?...&count-keys=<pattern>`),
  the project's count until issue 20 item 2 moved the same SCAN ... MATCH into the
  session-counter sidecar (redis-cli --scan), every 60 s in production.

Cost under load: scrapes interleaved, a PING loop measures how long Redis keeps others
waiting, Redis's own time per scrape comes from INFO commandstats (EVAL runs atomically:
its time per call is the time Redis is blocked; SCAN runs in COUNT-1000 slices), the count
exporter's peak memory from /proc. Accuracy: the workload is paused, every method is read
once, and the writer's ground truth for the scrape's window is compared (error = counted -
live at the end of the scrape; `consistent` = between the sessions live through the window
and those live at any point of it); under load the same is recorded for every scrape.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import redis

from bench.workload import Plan, Workload
from components.config.sessions import SessionStore
from components.monitoring.session_count import CHECK_SINGLE_KEYS_FLAG, check_single_keys
from simulators.loopback import HOST, Processes, Redis, connect, start_exporter
from simulators.stack import PASSWORD

DB = 1
SCRIPT_KEY = "sessions_petclinic"
"""The `key` label the previous scripts returned their count under."""
TIMEOUT = 1800
SLOWLOG_US = 5000
"""Commands slower than this (5 ms) are named in the results (Redis SLOWLOG)."""
NAMESPACE = "spring:session:petclinic"
COUNT_KEYS_PARAM = "count-keys"
"""redis_exporter's /scrape parameter: the SCAN ... MATCH count these figures were measured with
(exporter/keys.go getKeysCount); the session counter sends the same SCAN ... MATCH through redis-cli."""
# label -> (repository type, expiration store)
VARIANTS = {"default": ("default", "minute"), "indexed-minute": ("indexed", "minute"),
            "indexed-sorted-set": ("indexed", "sorted-set")}
# The method each store is counted by in the project (the rest are measured for comparison).
PROJECT = {"default": "count", "indexed-minute": "count", "indexed-sorted-set": "scrape"}


def minute_set_script(store: SessionStore) -> str:
    """The Lua script this project used before issue 14 (components/monitoring/session_count.py at
    4edbab0), for one indexed store: SCARD of the future minute sets (all their members
    counted live), EXISTS on the current minute's members, plus ZCOUNT."""
    minutes = -(-store.timeout_seconds // 60) + 2
    return f"""local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = now_ms - (now_ms % 60000) + 60000
local function ms(n) return string.format('%.0f', n) end
redis.call('SELECT', {store.database})
local ns = '{store.namespace}'
local live = 0
for m = 1, {minutes} do live = live + redis.call('SCARD', ns .. ':expirations:' .. ms(current + m * 60000)) end
for _, member in ipairs(redis.call('SMEMBERS', ns .. ':expirations:' .. ms(current))) do
  live = live + redis.call('EXISTS', ns .. ':sessions:' .. member)
end
live = live + redis.call('ZCOUNT', ns .. ':sessions:expirations', '(' .. ms(now_ms), '+inf')
return {{'{SCRIPT_KEY}', tostring(live)}}
"""


def zcount_script(store: SessionStore) -> str:
    """The sorted-set count this project's exporter ran before issue 20 (components/monitoring/
    session_count.py lua_script at 210a72c, its count part): ZCOUNT over (now, +inf]."""
    return f"""local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SELECT', {store.database})
local live = redis.call('ZCOUNT', '{store.zset_key}', '(' .. string.format('%.0f', now_ms), '+inf')
return {{'{SCRIPT_KEY}', tostring(live)}}
"""


def _scrape(port: int, params: dict[str, str]) -> tuple[float, str]:
    url = f"http://{HOST}:{port}/scrape?" + urllib.parse.urlencode(params)
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as r:
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
        self.client = connect(HOST, port, PASSWORD)
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
            self.client.execute_command("PING")
            self.samples.append(time.perf_counter() - start)
            time.sleep(0.001)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(timeout=10)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def _commandstats(admin: redis.Redis) -> dict[str, tuple[int, int]]:
    """command -> (calls, usec) from INFO commandstats."""
    out = {}
    for key, value in admin.info("commandstats").items():
        out[key.removeprefix("cmdstat_")] = (int(value["calls"]), int(value["usec"]))
    return out


def _slowlog(admin: redis.Redis) -> dict[str, list[float]]:
    """Commands that ran longer than SLOWLOG_US while measuring: name -> [count, max ms]
    (whatever sent them: the methods, the workload, Spring's cleanup cron)."""
    out: dict[str, list[float]] = {}
    for entry in admin.execute_command("SLOWLOG", "GET", "1024"):
        name = str(entry[3][0]).upper()
        seen = out.setdefault(name, [0, 0.0])
        seen[0] += 1
        seen[1] = max(seen[1], round(int(entry[2]) / 1000, 1))
    return out


def _proc_status(pid: int, field: str) -> int:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, clock ticks (USER_HZ 100)


def measure(workdir: Path, sizes: list[int], scrapes: int, payload: int, snapshots: int = 3,
            load_s: float = 10.0, variants: list[str] | None = None) -> list[dict]:
    rows = []
    for label in variants or VARIANTS:
        for size in sizes:
            procs = Processes(workdir / f"{label}-{size}")
            try:
                rows += _measure(procs, label, size, scrapes, payload, snapshots, load_s)
            finally:
                procs.close()
    return rows


def _measure(procs: Processes, label: str, size: int, scrapes: int, payload: int, snapshots: int,
             load_s: float) -> list[dict]:
    repository, expiration_store = VARIANTS[label]
    store = SessionStore("petclinic", DB, NAMESPACE, repository, TIMEOUT, expiration_store)
    redis = Redis(procs, "redis", PASSWORD, {"appendonly": "no", "notify-keyspace-events": "Egx",
                                             "slowlog-log-slower-than": str(SLOWLOG_US), "slowlog-max-len": "1024"}).start()
    target = f"redis://{redis.addr}"
    (procs.workdir / "passwords.json").write_text(f'{{"{target}": "{PASSWORD}"}}')
    base = [f"--redis.addr={target}", f"--redis.password-file={procs.workdir}/passwords.json"]
    checked = base + [f"{CHECK_SINGLE_KEYS_FLAG}={check_single_keys([store])}"]
    exporters = {"plain": base, "scrape": checked, "count": checked}
    if label == "indexed-minute":
        (procs.workdir / "minute.lua").write_text(minute_set_script(store))
        exporters["minute-script"] = base + [f"--script={procs.workdir}/minute.lua"]
    if label == "indexed-sorted-set":
        (procs.workdir / "zcount.lua").write_text(zcount_script(store))
        exporters["zcount-script"] = base + [f"--script={procs.workdir}/zcount.lua"]
    started = {m: start_exporter(procs, args, name=f"exporter-{m}") for m, args in exporters.items()}
    ports = {m: port for m, (_, port) in started.items()}
    params = {m: {"target": target} for m in ports}
    params["count"] = {"target": target, COUNT_KEYS_PARAM: f"db{DB}={store.scan_pattern}"}
    script = f'redis_script_values{{key="{SCRIPT_KEY}"}}'
    readers = {"plain": f'redis_db_keys{{db="db{DB}"}}', "minute-script": script, "zcount-script": script,
               "scrape": f'redis_key_size{{db="db{DB}",key="{store.zset_key}"}}', "count": "redis_keys_count{"}
    redis_cmd = {"plain": None, "minute-script": "eval", "zcount-script": "eval", "scrape": "zcard", "count": "scan"}
    admin = redis.client(0)
    load_before = os.getloadavg()[0]
    workload = Workload(Plan(redis.port, PASSWORD, DB, NAMESPACE, repository, expiration_store, TIMEOUT, size,
                             payload_bytes=payload))
    try:
        time.sleep(load_s)  # the steady stream of expiries, logins and logouts settles in
        admin.execute_command("SLOWLOG", "RESET")
        count_popen = started["count"][0].popen
        assert count_popen is not None
        count_pid = count_popen.pid
        rss_before_kb = _proc_status(count_pid, "VmRSS")
        cpu_before = _cpu_s(count_pid)
        times: dict[str, list[float]] = {m: [] for m in ports}
        pings: dict[str, list[float]] = {m: [] for m in ports}
        redis_us: dict[str, list[float]] = {m: [] for m in ports}
        slices: dict[str, int] = {m: 0 for m in ports}
        windows: list[tuple[str, bool, int, int, float | None]] = []  # (method, paused, start, end, counted)
        probe = PingProbe(redis.port)
        for _ in range(scrapes):  # cost, under load
            for m, port in ports.items():
                before = _commandstats(admin)
                start_ms = int(time.time() * 1000)
                with probe:
                    elapsed, body = _scrape(port, params[m])
                end_ms = int(time.time() * 1000)
                after = _commandstats(admin)
                times[m].append(elapsed)
                pings[m] += probe.samples
                if cmd := redis_cmd[m]:
                    calls = after.get(cmd, (0, 0))[0] - before.get(cmd, (0, 0))[0]
                    redis_us[m].append(after.get(cmd, (0, 0))[1] - before.get(cmd, (0, 0))[1])
                    slices[m] = max(slices[m], calls)
                windows.append((m, False, start_ms, end_ms, _metric(body, readers[m])))
        count_cpu_s = (_cpu_s(count_pid) - cpu_before) / scrapes
        count_peak_kb = _proc_status(count_pid, "VmHWM") - rss_before_kb
        for _ in range(snapshots):  # accuracy, workload paused
            workload.ask("pause")
            time.sleep(0.3)
            for m, port in ports.items():
                start_ms = int(time.time() * 1000)
                _, body = _scrape(port, params[m])
                windows.append((m, True, start_ms, int(time.time() * 1000), _metric(body, readers[m])))
            workload.ask("resume")
            time.sleep(load_s)
        stats = workload.ask("stats")
        workload.ask("pause")
        truths = workload.ask("truth", [(w[2], w[3]) for w in windows], timeout=1800)
        with redis.client(DB) as c:
            keys = c.execute_command("DBSIZE")
        slow = _slowlog(admin)
    finally:
        workload.close()
        admin.close()
    plain_median = statistics.median(times["plain"])
    rows = []
    for m in ports:
        errors: dict[bool, list[float]] = {False: [], True: []}
        consistent = {False: True, True: True}
        counted_last = None
        for (wm, paused, _s, _e, counted), truth in zip(windows, truths, strict=True):
            if wm != m or counted is None:
                continue
            errors[paused].append(counted - truth["end"])
            consistent[paused] &= truth["through"] <= counted <= truth["either"]
            if paused:
                counted_last = (int(counted), truth["end"])
        median = statistics.median(times[m])
        rows.append({
            "repository": label, "sessions": size, "method": m, "project": PROJECT[label] == m,
            "median_ms": round(median * 1000, 2), "p99_ms": round(p99(times[m]) * 1000, 2),
            "ratio": round(median / plain_median, 2),
            "redis_ping_p99_ms": round(p99(pings[m]) * 1000, 2) if pings[m] else None,
            "redis_ping_max_ms": round(max(pings[m]) * 1000, 2) if pings[m] else None,
            "redis_ms_per_scrape": round(statistics.median(redis_us[m]) / 1000, 2) if redis_us[m] else None,
            "redis_calls_per_scrape": slices[m] or None,
            "counted": counted_last[0] if counted_last else None,
            "live": counted_last[1] if counted_last else None,
            "max_error_paused": max(errors[True], key=abs) if errors[True] else None,
            "max_error_load": max(errors[False], key=abs) if errors[False] else None,
            "consistent_paused": consistent[True] if errors[True] else None,
            "consistent_load": consistent[False] if errors[False] else None,
            "exporter_cpu_s": round(count_cpu_s, 2) if m == "count" else None,
            "exporter_peak_mb": round(count_peak_kb / 1024, 1) if m == "count" else None,
            "send_lag_ms": max(t["send_lag_ms"] for t in truths),
        })
    for r in rows:
        r.update({"fill_s": workload.fill["fill_s"], "keys": keys,
                  "loadavg": [round(load_before, 2), round(os.getloadavg()[0], 2)], "slowlog": slow,
                  "load": {k: stats[k] for k in ("created", "logins", "touches", "logouts", "events", "ticks",
                                                 "late_ticks")},
                  "load_s": round(stats["ticks"] * 0.1, 1)})
    return rows
