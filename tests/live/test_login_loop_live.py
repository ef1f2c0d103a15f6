"""Live proof of the login-loop alerts (the seed's first incident) through the real
Prometheus and Alertmanager on 127.0.0.1, with the generated rules (only `for`
shortened) and kube-prometheus's workload rule. Four fake WAS apps, one pod each, each
/actuator/prometheus in Micrometer's names:

- loop:       Tomcat holds sessions (an image without Spring Session) -> WasSessionsNotInRedis
- healthy:    Tomcat 0, traffic, sessions in Redis                    -> nothing
- noregistry: /actuator/prometheus is 404 (no Prometheus registry)    -> WasMetricsNotScraped
- nosessions: traffic, Tomcat 0, Redis count 0                        -> WasNoSessionsInRedis
"""
from __future__ import annotations

import time

from simulators.loopback import Redis, wait_until
from simulators.spring_session import SessionWriter
from simulators.stack import PASSWORD, Env, FakeKube, WasShape, redis_conf
from tools.stackfile import load_settings

SHAPES = {"loop": WasShape(tomcat_sessions=3), "healthy": WasShape(), "noregistry": WasShape(registry=False),
          "nosessions": WasShape()}
EXPECTED = {("WasSessionsNotInRedis", "loop", "critical"), ("WasMetricsNotScraped", "noregistry", "warning"),
            ("WasNoSessionsInRedis", "nosessions", "warning")}


def test_login_loop_fires_for_tomcat_sessions_and_the_healthy_shape_stays_silent(procs, webhook):
    settings = load_settings("dev", {"wasApps": [
        {"name": name, "image": "registry.example/app:1.0.0", "minReplicas": 1, "maxReplicas": 2,
         "memoryLimit": "512Mi", "memoryRequest": "512Mi", "sessionDatabase": db} for db, name in enumerate(SHAPES, 1)]})
    kube = FakeKube(settings.namespace, SHAPES)
    try:
        redis = Redis(procs, "redis", PASSWORD, redis_conf(settings)).start()
        healthy = next(a for a in settings.was_apps if a.name == "healthy")
        with redis.client(healthy.database) as client:  # before Prometheus looks
            SessionWriter(client, healthy.key_namespace, healthy.repository,
                          healthy.session_timeout_seconds).create(5)
        started = time.monotonic()
        env = Env(procs, webhook, settings, [redis], extra_scrape=kube.scrape_configs())

        def was_alerts(states: tuple[str, ...]) -> set[tuple[str, str, str]]:
            return {(a["labels"]["alertname"], a["labels"].get("app", ""), a["labels"]["severity"])
                    for a in env.prometheus.api("alerts")["alerts"]
                    if a["labels"]["alertname"].startswith("Was") and a["state"] in states}

        wait_until(lambda: {(n, app) for n, app, _ in EXPECTED}
                   <= {(e[2], e[3].get("app")) for e in webhook.events if e[0] >= started}, 40,
                   what="the three WAS alerts at the webhook")
        time.sleep(4)  # twice `for` (2s): anything else about the healthy app would be pending or firing now
        assert was_alerts(("firing", "pending")) == EXPECTED
        # only the WAS alerts carry `app`; others (the fake cluster's own) may fire beside them
        notified = {(e[2], e[3]["app"], e[3]["severity"]) for e in webhook.events
                    if e[1] == "firing" and e[2].startswith("Was")}
        assert notified == EXPECTED
        assert env.prometheus.value('spring_session:active_sessions{app="healthy"}') == 5
        assert env.prometheus.value('namespace_app:tomcat_sessions_active:sum{app="loop"}') == 3
        print(f"login-loop alerts at the webhook {max(e[0] for e in webhook.events) - started:.1f}s after start")
    finally:
        kube.close()
