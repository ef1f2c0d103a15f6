"""Measure 2: Redis memory per session, the sizing rule it gives, and a demonstration on
the dev stack's own numbers: filling to the declared peak evicts nothing; filling to
twice the peak makes RedisEvictionDetected reach the webhook."""
from __future__ import annotations

import time
from pathlib import Path

from components.config import sizing
from simulators.loopback import Processes, Redis, Webhook, wait_until
from simulators.spring_session import SessionWriter
from simulators.stack import PASSWORD, redis_conf, standalone
from tools.stackfile import load_settings

PAYLOADS = (512, 2048, 8192)
APP = {"name": "petclinic", "image": "r/petclinic:1.0"}


def _used(redis: Redis) -> int:
    with redis.client() as c:
        return int(c.info("memory")["used_memory"])


def bytes_per_session(workdir: Path, sessions: int) -> list[dict]:
    """used_memory growth per session, per repository type and payload."""
    procs = Processes(workdir)
    rows = []
    try:
        redis = Redis(procs, "redis", PASSWORD, {"appendonly": "no"}).start()
        for repository in ("default", "indexed"):
            for payload in PAYLOADS:
                with redis.client() as c:
                    c.flushall()
                before = _used(redis)
                with redis.client(1) as c:
                    w = SessionWriter(c, "spring:session:petclinic", repository, 1800, payload)
                    w.create(sessions, users=max(1, sessions // 4), batch=5000, spread_seconds=1680)
                per = (_used(redis) - before) / sessions
                rows.append({"repository": repository, "payload": payload, "sessions": sessions,
                             "bytes_per_session": round(per), "model": sizing.bytes_per_session(repository, payload)})
    finally:
        procs.close()
    return rows


def fit(rows: list[dict]) -> dict[str, tuple[float, float]]:
    """Least-squares overhead + factor × payload per repository type."""
    out = {}
    for repository in ("default", "indexed"):
        pts = [(r["payload"], r["bytes_per_session"]) for r in rows if r["repository"] == repository]
        n = len(pts)
        mx, my = sum(p for p, _ in pts) / n, sum(b for _, b in pts) / n
        slope = sum((p - mx) * (b - my) for p, b in pts) / sum((p - mx) ** 2 for p, _ in pts)
        out[repository] = (round(my - slope * mx), round(slope, 3))
    return out


def demonstrate(workdir: Path, stack: str = "dev") -> dict:
    """Fill the stack's Redis to its declared peak, then to 2x, with the real alert path."""
    settings = load_settings(stack)
    app = settings.was_apps[0]
    peak, payload = settings.expected_peak_sessions, settings.session_payload_bytes
    procs = Processes(workdir)
    webhook = Webhook()
    result = {"stack": stack, "maxmemory": settings.redis.maxmemory, "peak": peak, "payload": payload,
              "policy": settings.redis.maxmemory_policy}
    try:
        env = standalone(procs, webhook, settings, conf={"appendonly": "no"})
        # rate() needs a sample from before the evictions: a counter first seen at its final
        # value has no increase (as in tests/live/test_monitoring_live.py)
        wait_until(lambda: env.prometheus.value("redis_evicted_keys_total") == 0, 15, what="counter scraped before the fill")
        client = env.nodes[0].client(app.database)
        w = SessionWriter(client, app.key_namespace, app.repository, app.session_timeout_seconds, payload)
        w.create(peak, users=max(1, peak // 4), batch=5000, spread_seconds=app.session_timeout_seconds // 2)
        time.sleep(3)
        with env.nodes[0].client() as c:
            evicted = int(c.info("stats")["evicted_keys"])
        result["evicted_at_peak"] = evicted
        result["used_at_peak_mb"] = round(_used(env.nodes[0]) / 2**20, 1)
        result["alert_at_peak"] = webhook.first("RedisEvictionDetected") is not None
        started = time.monotonic()
        w.create(peak, users=max(1, peak // 4), batch=5000, spread_seconds=app.session_timeout_seconds // 2)
        event = wait_until(lambda: webhook.first("RedisEvictionDetected", "firing", started), 60,
                           what="RedisEvictionDetected at 2x peak")
        with env.nodes[0].client() as c:
            result["evicted_at_2x"] = int(c.info("stats")["evicted_keys"])
        result["alert_at_2x_after_s"] = round(event[0] - started, 1)
        client.close()
    finally:
        webhook.close()
        procs.close()
    return result


__all__ = ["bytes_per_session", "fit", "demonstrate", "redis_conf"]
