"""Turn benchmark results into docs/benchmarks.md and the scrape-time plot."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from components.config import sizing

METHODS = ("plain", "scrape", "count", "minute-script", "zcount-script")
STYLES = {"plain": "o-", "scrape": "s-", "count": "^--", "minute-script": "x:", "zcount-script": "d:"}


def plot(rows: list[dict], path: Path) -> Path:
    repositories = list(dict.fromkeys(r["repository"] for r in rows))
    fig, axes = plt.subplots(1, len(repositories), figsize=(5.5 * len(repositories), 4.2), sharey=True)
    for ax, repository in zip(axes, repositories, strict=True):
        for method in METHODS:
            pts = sorted((r["sessions"], r["median_ms"]) for r in rows if r["repository"] == repository and r["method"] == method)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], STYLES[method], label=method)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(repository)
        ax.set_xlabel("live sessions (steady state, logins)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("exporter scrape time, median (ms)")
    fig.suptitle("redis_exporter scrape time vs session count, under load")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _live(span: list[int]) -> str:
    low, high = span
    return f"{low}" if low == high else f"{low}–{high}"


def _remeasured(r: dict) -> str:
    if not (again := r.get("remeasured")):
        return ""
    return (f"\nRe-measured on {r['date']} (`--only {','.join(again['steps'])}`): section 1; the other "
            f"sections are the full run of {again['previous_date']}.")


def markdown(r: dict, plot_name: str) -> str:
    v = r["versions"]
    def cell(v):
        return "–" if v is None else v

    count_rows = [[x["repository"], f"{x['sessions']:,}", x["method"] + (" **(project)**" if x["project"] else ""),
                   x["median_ms"], x["p99_ms"], x["ratio"], x["redis_ping_p99_ms"], x["redis_ping_max_ms"],
                   cell(x["redis_ms_per_scrape"]), cell(x["redis_calls_per_scrape"]), cell(x["counted"]), cell(x["live"]),
                   cell(x["max_error_paused"]), cell(x["max_error_load"]), cell(x["exporter_peak_mb"])]
                  for x in r["session_count"]]
    largest = max(x["sessions"] for x in r["session_count"])
    top = {(x["repository"], x["method"]): x for x in r["session_count"] if x["sessions"] == largest}
    verdict = []
    for repository in dict.fromkeys(x["repository"] for x in r["session_count"]):
        project = next(x for (rep, _), x in top.items() if rep == repository and x["project"])
        regular = top[(repository, "scrape")]
        live = project["live"] or 1
        worst = max(abs(project["max_error_paused"] or 0), abs(project["max_error_load"] or 0))
        line = (f"- **{repository}**, counted by `{project['method']}`: max error after logins "
                f"{project['max_error_paused']:+g} paused, {project['max_error_load']:+g} under load "
                f"({100 * worst / live:.2f} % of {live:,} live), consistent with the sessions live during the "
                f"scrape: {project['consistent_paused'] and project['consistent_load']}. Regular scrape "
                f"{regular['ratio']}x plain, Redis time for the key checks (ZCARD) {cell(regular['redis_ms_per_scrape'])} ms, "
                f"PING p99 {regular['redis_ping_p99_ms']} ms.")
        if project["method"] == "count":
            line += (f" Counting scrape (every 60 s): {project['median_ms']} ms, Redis busy "
                     f"{project['redis_ms_per_scrape']} ms in {project['redis_calls_per_scrape']} SCAN slices "
                     f"(≈ {project['redis_ms_per_scrape'] / project['redis_calls_per_scrape']:.1f} ms each), PING p99 "
                     f"{project['redis_ping_p99_ms']} ms; exporter +{project['exporter_peak_mb']} MB, "
                     f"{project['exporter_cpu_s']} s CPU.")
        if (before := top.get((repository, "zcount-script"))) is not None:
            line += (f" Before issue 20 (Lua ZCOUNT in the exporter's script, `zcount-script`): max error "
                     f"{before['max_error_paused']:+g} paused, {before['max_error_load']:+g} under load, consistent: "
                     f"{before['consistent_paused'] and before['consistent_load']}; scrape {before['median_ms']} ms "
                     f"({before['ratio']}x plain), Redis blocked {cell(before['redis_ms_per_scrape'])} ms per EVAL. "
                     f"After (ZCARD via check-single-keys): scrape {regular['median_ms']} ms ({regular['ratio']}x plain), "
                     f"max error {project['max_error_paused']:+g} paused, {project['max_error_load']:+g} under load.")
        verdict.append(line)
    loads = sorted({tuple(x["loadavg"]) for x in r["session_count"]})
    slow_rows = []
    for x in r["session_count"]:
        if x["method"] == "plain":
            slow = ", ".join(f"{name} {n}x, max {ms} ms" for name, (n, ms) in sorted(x["slowlog"].items())) or "none"
            slow_rows.append([x["repository"], f"{x['sessions']:,}", slow])
    mem_rows = [[x["repository"], x["payload"], x["bytes_per_session"], x["model"]] for x in r["bytes_per_session"]]
    fit = r["fit"]
    demo = r["sizing_demo"]
    lat = r["alert_latency"]
    fo = r["failover"]
    ev = r["program_eval"]
    return f"""# Benchmarks

Generated by `.venv/bin/python -m bench` ({r['mode']} run, {r['date']}); raw figures in
`benchmarks.json`. Loopback only, real binaries.{_remeasured(r)}

Machine: {v['machine']}. Python {v['python']}; {v['redis']}; {v['redis_exporter']};
{v['prometheus']}; {v['alertmanager']}.

## 1. Session count: every method, steady state with logins
Stores filled as a Spring app that has run longer than the timeout (30 min) leaves them
(bench/workload.py, simulators/spring_session.py: Spring Session 3.4 code paths; payload
{r['plan']['payload']} B; expiries spread over the timeout, so the current minute holds
1/30 of the sessions; half the users logged in after arriving anonymous, i.e. with a
session id change; recent logouts lingering), then kept steady while measured: new
sessions at the expiry rate, half of them logging in, as many touches, a tenth as many
logouts, the cleanup cron, keyspace events (load per run in `benchmarks.json`). Methods
(one exporter each): `plain` (its `redis_db_keys` is what the seed and, for the default
repository, this project read before), `minute-script` (this project's Lua count before
issue 14), `zcount-script` (the sorted-set count before issue 20: Lua ZCOUNT over (now, +inf]
in the exporter's script), `scrape` (the regular scrape now, no Lua: plain +
`check-single-keys` of the sorted-set keys, TYPE + ZCARD, which counts the sorted-set store
by ZCARD), `count` (the counting scrape: SCAN via `count-keys`,
every 60 s on its own endpoint). **(project)** marks how each store is counted now.
{r['plan']['scrapes']} interleaved scrapes per method under load; ratio = median / plain
median; Redis ping = a PING loop's round trip during that method's scrapes; Redis ms =
Redis's own time per scrape (INFO commandstats: EVAL, which blocks Redis for all of it;
ZCARD; SCAN, in COUNT-1000 slices = calls). Error = counted - sessions live on the writer's clock
at the end of the scrape, max over {r['plan']['snapshots']} paused snapshots and over every
scrape under load (a SCAN's sessions created or ended while it runs may or may not be
counted). Consistent = the count lies between the sessions live through the scrape and
those live at any point of it, the window widened by the writer's send lag (from its
decision on a pipelined command to Redis' reply: Redis applied it at most that much later)
and each id change in it allowed to count 0 or 2 times (SCAN promises neither for a key
renamed while it runs). Peak MB = the counting
exporter's memory growth. Load average (1 min) at the start and end of each run:
{", ".join(f"{a}-{b}" for a, b in loads)} (2 cores; other work on the machine shows here).

{_table(["store", "sessions", "method", "median ms", "p99 ms", "ratio", "Redis ping p99 ms", "Redis ping max ms",
         "Redis ms", "Redis calls", "counted", "live", "max error paused", "max error under load", "peak MB"],
        count_rows)}

Commands Redis ran for longer than 5 ms while each store was measured (SLOWLOG; from any
client: the methods, the workload, Spring's cleanup cron):

{_table(["store", "sessions", "commands > 5 ms"], slow_rows)}

At {largest:,} sessions:

{chr(10).join(verdict)}

What changed with issue 20 (no Lua for any client): the sorted-set store was counted by a Lua
ZCOUNT over (now, +inf] in the exporter's script (row `zcount-script`: exact); it is now counted by
ZCARD through redis_exporter's `check-single-keys` (row `scrape`), which also counts the sessions
that have expired but that no app instance has removed from the set yet (docs/decisions.md,
"Session count without Lua"). Default and minute-set stores are counted as before (SCAN, row
`count`); their regular scrape no longer runs the store-check script (EVAL) but TYPE on two
absent keys. The previous figures are this file's git history (run of 2026-12-02).

Issue 20 item 2 (the session counter sidecar): the default and minute-set stores are still counted
by SCAN ... MATCH over the same pattern (`<ns>:sessions:*`, `<ns>:sessions:expires:*`), now sent by
redis-cli `--scan --pattern` in the exporter pod's `session-counter` container (redis/redis
src/redis-cli.c sendScan/scanMode) instead of redis_exporter's `count-keys` (exporter/keys.go
getKeysCount → scanKeys): the same keys are matched and SCAN skips logically expired ones, so the
count's accuracy is unchanged (row `count`). The cost moves from the exporter (no key name held:
its peak MB above is gone) to the counter, whose redis-cli streams the names to `wc -l`. Measured
once by hand (2026-12-06, default store, 100,000 sessions in steady state with logins, this
machine, load 1.0-1.6; the sidecar's exact command with Debian's redis-cli 7.0, which has no
`--count` and so SCANs 10 keys per call, vs the exporter's count-keys, COUNT 1000, interleaved, 5
each under load, 3 paused): sidecar 331 ms median (max 367), 9,601 SCAN calls, Redis busy 156 ms
per count, PING p99 1.6 ms; exporter 203 ms, 100 calls, Redis 147 ms, PING p99 6.8 ms; paused,
counted - live: sidecar +10, +23, +23, exporter +4, +5, +7 (row `count` above: up to +13;
the same SCAN semantics, a longer SCAN with COUNT 10). With the Redis 7.2+ images the program
passes `--count 1000` (the exporter's batch size), i.e. the exporter's call pattern.

![scrape time]({plot_name})

## 2. Bytes per session and the sizing rule
`used_memory` growth per session ({r['plan']['memory_sessions']:,} sessions per cell):

{_table(["repository", "payload B", "measured B/session", "model B/session (components/config/sizing.py)"], mem_rows)}

Least-squares fit: default {fit['default'][0]} B + {fit['default'][1]}×payload; indexed
{fit['indexed'][0]} B + {fit['indexed'][1]}×payload. `components/config/sizing.py` uses
{sizing.SESSION_OVERHEAD_BYTES} + {sizing.PAYLOAD_FACTOR}×payload (rounded up), and config
refuses a `redisMaxmemory` below peak × bytes/session × {sizing.SESSION_HEADROOM} or above
{int(sizing.MAXMEMORY_MAX_FRACTION_OF_LIMIT * 100)}% of `redisMemory` (AOF-rewrite fork).

Demonstration on the `{demo['stack']}` stack (maxmemory {demo['maxmemory']}, policy
{demo['policy']}, declared peak {demo['peak']:,} sessions of {demo['payload']} B):
at the peak {demo['used_at_peak_mb']} MB used, **{demo['evicted_at_peak']} evictions**; at 2× the
peak **{demo['evicted_at_2x']:,} evictions** and RedisEvictionDetected reached the webhook
{demo['alert_at_2x_after_s']} s after the fill began.

## 3. Alert latency (Redis killed → RedisDown at the webhook)
Scaled intervals (production: for 1m, scrape/eval 30s, group_wait 30s → floor 150 s):
for {lat['for']}, scrape and evaluation {lat['scrape_interval']}, group_wait {lat['group_wait']};
floor = for + scrape + evaluation + group_wait = {lat['floor_s']} s.

{_table(["run", "kill → firing at webhook (s)", "restart → resolved at webhook (s)"],
        [[i + 1, a, b] for i, (a, b) in enumerate(zip(lat['latency_s'], lat['resolved_s'], strict=True))])}

Latency is below the floor when the kill lands late in a scrape/evaluation cycle: the
floor adds whole intervals, the real wait adds only the remaining part of each.

## 4. Sentinel failover ({fo['nodes']} nodes, quorum {fo['quorum']}, down-after {fo['down_after_ms']} ms, \
min-replicas-max-lag {fo['max_lag_s']} s)
Measured {fo.get('date', r['date'])}. A Sentinel-aware writer saves a session every ~5 ms and
reconnects through Sentinel on any error, as Lettuce does. **kill**: the master is SIGKILLed. **partition**: the master is cut
off from its replicas and the Sentinels (every peer reaches it through a relay that turns
into a black hole) while the writer, on the master's side, keeps its connection; the run
watches a fixed window. "lost" = acknowledged sessions missing from the final master.

{_table(["min-replicas-to-write", "fault", "run", "writes on the new master after (s)", "acknowledged",
         "acknowledged by the old master after the fault", "acknowledged but lost", "window (s)"],
        [[x['min_replicas_to_write'], x['fault'], i + 1, "never" if y['resumed_s'] is None else y['resumed_s'],
          y['acked'], y['old_master_acked_after_fault'], y['lost'], y['window_s']]
         for x in fo['scenarios'] for i, y in enumerate(x['runs'])])}

Kill: writes resume about 1–1.5 s after down-after-milliseconds (vote + promotion +
client rediscovery), with or without min-replicas-to-write; replication is asynchronous,
so a session acknowledged in the last milliseconds before the kill can be lost.
Partition without min-replicas-to-write: the isolated old master goes on acknowledging
every write for as long as the partition lasts, and all of them are discarded when it
rejoins as a replica: the loss grows with the partition ("never" = the writer never
reached the new master in the window). With it, the old master refuses writes
(NOREPLICAS) once no replica has acknowledged for min-replicas-max-lag seconds; the writer
then asks Sentinel and finds the new master. The loss is bounded by about max-lag seconds
of writes, and writes on the master's side resume after max(failover, max-lag). The cost:
a master with no replica in sync refuses writes (with 3 nodes, two down stops writes).
A failover before the replicas' first full sync completes loses everything written so far
— hence RedisReplicasDisconnected.

## 5. Program evaluation (mock runtime, `__main__.py`)
{_table(["stack", "resources", "runs", "median ms", "max ms"],
        [[x['stack'], x['resources'], x['runs'], x['median_ms'], x['max_ms']] for x in ev])}
"""


def summary(r: dict) -> str:
    largest = max(x["sessions"] for x in r["session_count"])
    lines = [f"session count at {largest:,}: " + ", ".join(
        f"{x['repository']}/{x['method']} {x['median_ms']} ms ({x['ratio']}x, error {x['max_error_paused']}"
        f"/{x['max_error_load']}, ping p99 {x['redis_ping_p99_ms']} ms)"
        for x in r["session_count"] if x["sessions"] == largest)]
    lines.append("bytes/session fit: " + str(r["fit"]))
    d = r["sizing_demo"]
    lines.append(f"sizing demo: evicted at peak {d['evicted_at_peak']}, at 2x {d['evicted_at_2x']}")
    lines.append(f"alert latency (floor {r['alert_latency']['floor_s']} s): {r['alert_latency']['latency_s']}")
    lines.append("failover: " + "; ".join(
        f"min-replicas {x['min_replicas_to_write']} {x['fault']}: " + ", ".join(
            f"resumed {y['resumed_s']} s lost {y['lost']}/{y['acked']}" for y in x["runs"])
        for x in r["failover"]["scenarios"]))
    return "\n".join(lines)
