"""Measure 3: Redis killed -> RedisDown delivered at the webhook, against its floor
(`for` + scrape interval + evaluation interval + Alertmanager group_wait)."""
from __future__ import annotations

import signal
import time
from pathlib import Path

from simulators.loopback import Processes, Webhook, wait_until
from simulators.stack import standalone
from tools.stackfile import load_settings


def _seconds(duration: str) -> float:
    return float(duration[:-1]) * {"s": 1, "m": 60}[duration[-1]]


def measure(workdir: Path, runs: int, for_: str, interval: str, group_wait: str) -> dict:
    floor = _seconds(for_) + 2 * _seconds(interval) + _seconds(group_wait)
    procs, webhook = Processes(workdir), Webhook()
    latencies, resolved = [], []
    try:
        env = standalone(procs, webhook, load_settings("dev"), for_=for_, interval=interval, group_wait=group_wait)
        redis = env.nodes[0]
        for _ in range(runs):
            wait_until(lambda: env.prometheus.value("redis_up") == 1 and "RedisDown" not in env.prometheus.firing(),
                       120, what="healthy before the run")
            killed = time.monotonic()
            redis.kill(signal.SIGKILL)
            event = wait_until(lambda: webhook.first("RedisDown", "firing", killed), floor + 120, what="RedisDown")
            latencies.append(round(event[0] - killed, 1))
            restarted = time.monotonic()
            redis.start()
            event = wait_until(lambda: webhook.first("RedisDown", "resolved", restarted), floor + 120,
                               what="RedisDown resolved")
            resolved.append(round(event[0] - restarted, 1))
    finally:
        webhook.close()
        procs.close()
    return {"for": for_, "scrape_interval": interval, "evaluation_interval": interval, "group_wait": group_wait,
            "floor_s": floor, "runs": runs, "latency_s": latencies, "resolved_s": resolved}
