"""One condition reaches Slack once: the generated routing and inhibit rules
(components/monitoring/routing.py, plain config; the AlertmanagerConfig carries the same rules) in
a real Alertmanager, a webhook in place of Slack, and amtool, the client that ships with
Alertmanager, to add alerts and to ask what was inhibited.

1. The real path: Redis at 95 % of maxmemory fires both tiers of RedisMemoryHigh in the
   real Prometheus; one notification, the critical one, reaches the webhook.
2. The inhibit matrix, with alerts added by amtool: tiers of one alert and subject,
   RedisDown and the rest of its instance, per-app alerts of different apps; and the
   same alerts without inhibit rules, which page twice (the test can fail).
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from simulators.loopback import HOST, Alertmanager, plain_config, wait_until
from simulators.stack import standalone
from tests.tools import require
from tools.stackfile import load_settings

NS = "petclinic-dev"


def amtool(*args: str, port: int) -> str:
    proc = subprocess.run([require("amtool"), *args, f"--alertmanager.url=http://{HOST}:{port}"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def notified(webhook, after: float, alertname: str | None = None) -> list[tuple]:
    """(alertname, severity, instance or app) of every firing alert notified after `after`."""
    return sorted((e[2], e[3]["severity"], e[3].get("instance") or e[3].get("app", "")) for e in webhook.events
                  if e[1] == "firing" and e[0] >= after and alertname in (None, e[2]))


def test_memory_at_95_percent_pages_once_critical(procs, webhook):
    settings = load_settings("dev")
    env = standalone(procs, webhook, settings)
    prom = env.prometheus
    wait_until(lambda: prom.value("redis_up") == 1, 15, what="redis_up 1")
    with env.nodes[0].client() as c:  # maxmemory just above what Redis uses (95 % of it; it grows a little with the exporter)
        used = int(c.info("memory")["used_memory"])
        c.config_set("maxmemory", str(int(used / 0.95)))
    started = time.monotonic()
    tiers = lambda: {a["labels"]["severity"] for a in prom.api("alerts")["alerts"]
                     if a["labels"]["alertname"] == "RedisMemoryHigh" and a["state"] == "firing"}
    wait_until(lambda: tiers() == {"warning", "critical"}, 30, what="both tiers firing in Prometheus")
    wait_until(lambda: notified(webhook, started, "RedisMemoryHigh"), 30, what="RedisMemoryHigh at the webhook")
    time.sleep(4)  # group_wait/group_interval are 1s: a second notification would be here by now
    [(_, severity, instance)] = notified(webhook, started, "RedisMemoryHigh")
    assert severity == "critical" and instance.endswith(":6379")
    posts = [p for p in webhook.posts if p[0] >= started and any(a["labels"]["alertname"] == "RedisMemoryHigh"
                                                                for a in p[1])]
    assert len(posts) == 1
    inhibited = json.loads(amtool("alert", "query", "--inhibited", "-o", "json", "alertname=RedisMemoryHigh",
                                  port=env.alertmanager.port))
    assert [(a["labels"]["severity"], bool(a["status"]["inhibitedBy"])) for a in inhibited] == [("warning", True)]
    percent = prom.value("max(instance:redis_memory_used:percent_maxmemory)")
    print(f"RedisMemoryHigh at {percent:.1f} % of maxmemory: both tiers firing in Prometheus, 1 notification "
          f"(critical) {posts[0][0] - started:.1f}s after maxmemory was lowered; amtool: warning inhibited")


ALERTS = [  # (labels, delivered with the project's inhibit rules)
    ({"alertname": "RedisMemoryHigh", "severity": "warning", "instance": "a:6379"}, False),  # its critical fires
    ({"alertname": "RedisMemoryHigh", "severity": "critical", "instance": "a:6379"}, True),
    ({"alertname": "RedisMemoryHigh", "severity": "warning", "instance": "b:6379"}, True),  # no critical for b
    ({"alertname": "RedisDown", "severity": "critical", "instance": "c:6379"}, True),
    ({"alertname": "RedisEvictionDetected", "severity": "warning", "instance": "c:6379"}, False),  # c is down
    ({"alertname": "RedisFragmentationHigh", "severity": "critical", "instance": "c:6379"}, False),
    ({"alertname": "RedisEvictionDetected", "severity": "warning", "instance": "d:6379"}, True),
    ({"alertname": "RedisNoMaster", "severity": "critical"}, True),  # no instance: not RedisDown's to mute
    ({"alertname": "RedisReplicasDisconnected", "severity": "warning"}, True),
    ({"alertname": "WasPodsBelowMinimum", "severity": "critical", "app": "shop"}, True),
    ({"alertname": "WasPodsBelowMinimum", "severity": "warning", "app": "cart"}, True),  # another app
]
key = lambda labels: (labels["alertname"], labels["severity"], labels.get("instance") or labels.get("app", ""))


@pytest.mark.parametrize("inhibit", [True, False], ids=["project-rules", "no-inhibit-rules"])
def test_inhibit_matrix_with_amtool(procs, webhook, inhibit):
    config = plain_config(webhook.url, group_wait="1s", group_interval="1s")
    if not inhibit:
        config["inhibit_rules"] = []
    am = Alertmanager(procs, config)
    started = time.monotonic()
    for labels, _ in ALERTS:
        amtool("alert", "add", *[f"{k}={v}" for k, v in {**labels, "namespace": NS}.items()], port=am.port)
    expected = sorted(key(labels) for labels, delivered in ALERTS if delivered or not inhibit)
    wait_until(lambda: set(notified(webhook, started)) >= set(expected), 30, what="the expected notifications")
    time.sleep(3)  # anything inhibited that leaked would have arrived by now
    assert notified(webhook, started) == expected  # each exactly once
    inhibited = json.loads(amtool("alert", "query", "--inhibited", "-o", "json", port=am.port))
    assert sorted(key(a["labels"]) for a in inhibited) == \
        sorted(key(labels) for labels, delivered in ALERTS if not delivered and inhibit)
