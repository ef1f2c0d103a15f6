"""A Spring app's session traffic in steady state, in its own process (so it never holds the
benchmark's GIL): it fills the store as one that has run longer than the timeout leaves it
(SpringSessionRepository.steady_state), then keeps it steady with logins, touches, logouts
and new sessions at the rate sessions expire (count / timeout per second), runs Spring's
cleanup cron every minute and feeds keyspace events to onMessage. It is the ground truth:
`truth(windows)` says how many sessions were live through / at some point in each window.

Control over a Pipe: ("pause",), ("resume",), ("truth", [(start_ms, end_ms), ...]),
("stats",), ("stop",). Every reply is one message.
"""
from __future__ import annotations

import multiprocessing as mp
import random
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from simulators.loopback import HOST, connect
from simulators.spring_session import SpringSessionRepository

TICK_S = 0.1


@dataclass(frozen=True)
class Plan:
    port: int
    password: str
    database: int
    namespace: str
    repository: str
    store: str
    timeout_seconds: int
    sessions: int
    payload_bytes: int = 512
    line: str = "3.4"
    rate_per_s: float = 0.0
    """New sessions per second; 0: sessions / timeout (what expires per second)."""
    seed: int = 7


def _run(plan: Plan, conn: Connection) -> None:
    client = connect(HOST, plan.port, plan.password, plan.database, timeout=60)
    repo = SpringSessionRepository(client, plan.namespace, plan.repository, plan.timeout_seconds, line=plan.line,
                                   store=plan.store, database=plan.database, payload_bytes=plan.payload_bytes)
    rng = random.Random(plan.seed)
    started = time.perf_counter()
    repo.steady_state(plan.sessions, users=max(1, plan.sessions // 4))
    fill_s = time.perf_counter() - started
    listener = repo.listener(HOST, plan.port, plan.password) if plan.repository == "indexed" else None
    if listener:
        # Sessions whose timeout passed while the fill ran: the app's listener would have had
        # their `expired` events then (the fill writes with no listener subscribed; at 1M it
        # runs for minutes). Handled as at their expiry, as Spring would have.
        now = repo.clock()
        with repo.pipelined(batch=6000, reads=False):
            for sid, stored in list(repo.stored.items()):
                expiry = stored.last_accessed_ms + stored.max_inactive_s * 1000
                if stored.max_inactive_s > 0 and expiry <= now:
                    repo.on_message(repo.event_channels()[1], repo.expires_key(sid), at=expiry)
    live = repo.live_ids()
    anonymous: deque[str] = deque()
    rate = plan.rate_per_s or plan.sessions / plan.timeout_seconds
    counters = {"created": 0, "logins": 0, "touches": 0, "logouts": 0, "events": 0, "cleanups": 0, "ticks": 0,
                "late_ticks": 0}
    conn.send({"fill_s": round(fill_s, 1), "live": len(live), "keys": client.execute_command("DBSIZE")})
    paused, carry, minute = False, 0.0, repo.clock() // 60000
    next_tick = time.monotonic()
    while True:
        if conn.poll(0 if not paused else 0.05):
            cmd: Any = conn.recv()
            if cmd[0] == "stop":
                conn.send(counters)
                break
            if cmd[0] == "pause":
                paused = True
                conn.send("paused")
            elif cmd[0] == "resume":
                paused, next_tick = False, time.monotonic()
                conn.send("resumed")
            elif cmd[0] == "truth":
                conn.send([_truth(repo, start, end) for start, end in cmd[1]])
            elif cmd[0] == "stats":
                conn.send(dict(counters))
        if paused:
            continue
        now = time.monotonic()
        if now < next_tick:
            time.sleep(min(next_tick - now, 0.02))
            continue
        counters["late_ticks"] += now - next_tick > TICK_S
        next_tick = max(next_tick + TICK_S, now - TICK_S)
        carry += rate * TICK_S
        n, carry = int(carry), carry - int(carry)
        counters["ticks"] += 1
        with repo.pipelined(batch=2000):
            for _ in range(n):  # anonymous visitors; half of them log in a little later
                sid = repo.new_session()
                counters["created"] += 1
                live.append(sid)
                if rng.random() < 0.5:
                    anonymous.append(sid)
            for _ in range(min(len(anonymous), n // 2 + (rng.random() < 0.5))):
                old = anonymous.popleft()
                new = repo.login(old, f"user{rng.randrange(max(1, plan.sessions // 4))}")
                if new:
                    counters["logins"] += 1
                    live.append(new)
            for _ in range(n):  # requests of visitors already there
                if live and (sid := _pick(live, rng)) and repo.touch(sid):
                    counters["touches"] += 1
            for _ in range(n // 10 + (rng.random() < (n % 10) / 10)):
                if live and (sid := _pick(live, rng)) and repo.logout(sid):
                    counters["logouts"] += 1
            if listener:
                for channel, body in listener.messages(0):
                    repo.on_message(channel, body)
                    counters["events"] += 1
        if repo.clock() // 60000 != minute:  # cron "0 * * * * *"
            minute = repo.clock() // 60000
            repo.cleanup()
            counters["cleanups"] += 1
        if len(live) > 2 * plan.sessions + 1000:  # drop ids that ended (renamed, expired, logged out)
            at = repo.clock()
            live[:] = [s for s in live if (st := repo.stored.get(s)) and st.max_inactive_s and st.expires_ms > at]
    if listener:
        listener.close()
    client.close()


def _pick(live: list[str], rng: random.Random) -> str:
    """A random id of the list (ids that ended since are found gone by the request)."""
    return live[rng.randrange(len(live))]


def _truth(repo: SpringSessionRepository, start: int, end: int) -> dict:
    """Live sessions at `start`, at `end`, and live through the whole window. A count taken
    during it is consistent if it lies between `through` and `either` (= `start` + `end` -
    `through`), with the window widened by the writer's send lag (Redis applies a change
    that much after the writer's clock) and each id change in it allowed to count 0 or 2
    times (SCAN guarantees neither for a key renamed while it runs)."""
    lag = repo.max_send_lag_ms
    exact_end, at_start, at_end = repo.live_at([end, start - lag, end + lag])
    start, end = start - lag, end + lag
    through = repo.live_through(start, end)
    renamed = sum(start <= t <= end for t in repo.renamed_ms)
    return {"end": exact_end, "through": through - renamed, "either": at_start + at_end - through + renamed,
            "send_lag_ms": lag}


class Workload:
    """The workload process; `fill` holds what the steady-state fill reported."""

    def __init__(self, plan: Plan):
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_run, args=(plan, child), daemon=True)
        self.proc.start()
        if not self.conn.poll(1800):
            self.proc.kill()
            raise TimeoutError("workload fill took more than 30 min")
        self.fill = self.conn.recv()

    def ask(self, *cmd: Any, timeout: float = 600) -> Any:
        self.conn.send(cmd)
        if not self.conn.poll(timeout):
            raise TimeoutError(f"workload did not answer {cmd[0]!r}")
        return self.conn.recv()

    def close(self) -> dict:
        try:
            return self.ask("stop", timeout=30)
        finally:
            self.proc.join(timeout=10)
            if self.proc.is_alive():
                self.proc.kill()
