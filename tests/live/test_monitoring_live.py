"""Live proof on real redis-server, redis-sentinel, redis_exporter, Prometheus and
Alertmanager on 127.0.0.1, with the config the program generates: Redis config from the
chart values, exporter args from the Deployment, scrape labels as the ServiceMonitor and
kube-prometheus set them, the generated rules (only `for` shortened) and the generated
Alertmanager routing with a webhook in place of Slack."""
from __future__ import annotations

import re
import signal
import time

import pytest

from components.monitoring.dashboard import panel_queries, variables
from components.monitoring.session_count import RECORD
from simulators.loopback import HOST, Redis, Sentinel, connect, master_from_sentinels, wait_until
from simulators.spring_session import SessionWriter, pipeline
from simulators.stack import FAST_FOR, PASSWORD, Env, FakeKube, WasShape, redis_conf, standalone, writer
from tools.checklist import rows_to_run, run
from tools.stackfile import load_settings

APP = {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0", "minReplicas": 1}

# ----------------------------------------------------------------------- scenario 1
@pytest.mark.parametrize("repository", ["default", "indexed"])
def test_session_metric_equals_live_sessions(procs, webhook, repository):
    settings = load_settings("dev", {"wasApps": [{**APP, "repositoryType": repository}]})
    env = standalone(procs, webhook, settings)
    app = settings.was_apps[0]
    w = writer(env, app)
    with env.nodes[0].client(0) as noise:  # other keys elsewhere must not count
        pipeline(noise, [("SET", f"cache:{i}", "x") for i in range(25)])
    n = 37
    ids = w.create(n, users=7)
    wait_until(lambda: env.sessions() == n, 20, what=f"{RECORD} == {n}")
    if repository == "indexed":  # the seed's query: every key, not sessions
        keys = env.prometheus.value(f'redis_db_keys{{db="db{app.database}"}}')
        assert keys is not None and keys > n
    for sid in ids[:5]:
        w.delete(sid, None)
    wait_until(lambda: env.sessions() == n - 5, 20, what="count after 5 logouts")
    w.create(4, timeout_seconds=2)
    wait_until(lambda: env.sessions() == n - 1, 20, what="count with 4 short sessions")
    wait_until(lambda: env.sessions() == n - 5, 30, what="count back after their TTL")
    w.client.close()


# ----------------------------------------------------------------------- scenario 2
def test_every_dashboard_and_checklist_query_returns_data(procs, webhook):
    """Every panel and checklist row has data from the shared recording rules, the WAS
    ones included (kube-state-metrics, cAdvisor and a WAS pod faked in the healthy shape,
    pods found through kube-prometheus's workload rule); the checklist passes."""
    settings = load_settings("dev")
    app = settings.was_apps[0]
    kube = FakeKube(settings.namespace, {app.name: WasShape()})
    try:
        env = standalone(procs, webhook, settings, extra_scrape=kube.scrape_configs())
        sent = lambda rate_interval="1m": variables(env.scope.namespace, env.scope.job, ".*", rate_interval)
        # > 10 MB, so the fragmentation ratio is judged
        writer(env, app, payload=4096).create(2500, batch=500)
        wait_until(lambda: env.sessions() == 2500, 20, what="sessions recorded")

        def empty() -> list[str]:
            out = [title for title, expr in panel_queries(env.scope, sent(rate_interval="10s"))
                   if not env.prometheus.query(expr)]
            return out + [check.item for check, _, values in rows_to_run(env.scope)
                          if env.prometheus.value(check.query.render(values)) is None]

        wait_until(lambda: not empty(), 20, what="data for every panel and checklist row")
        heap = env.prometheus.value(dict(panel_queries(env.scope, sent()))["JVM heap %"])
        assert heap == pytest.approx(25.0)  # the max=-1 pool is excluded
        rows, code = run(env.prometheus.url, env.scope, 20)
        assert code == 0 and not [r for r in rows if r[3] == "FAIL"], rows
        assert ("petclinic: Tomcat sessions", "0", "== 0", "OK", "") in rows
    finally:
        kube.close()


# ------------------------------------------------------------------ scenarios 3 and 5
def test_redis_down_reaches_webhook_and_resolves(procs, webhook):
    settings = load_settings("dev")
    env = standalone(procs, webhook, settings)
    wait_until(lambda: env.prometheus.value("redis_up") == 1, 15, what="redis_up 1")
    killed = time.monotonic()
    env.nodes[0].kill(signal.SIGKILL)
    event = wait_until(lambda: webhook.first("RedisDown", "firing", killed), 40, what="RedisDown at webhook")
    assert event[3]["severity"] == "critical" and event[3]["namespace"] == settings.namespace
    print(f"RedisDown delivered {event[0] - killed:.1f}s after kill (for={FAST_FOR})")
    restarted = time.monotonic()
    env.nodes[0].start()
    wait_until(lambda: webhook.first("RedisDown", "resolved", restarted), 40, what="RedisDown resolved")


def test_exporter_stopped_fires_target_down(procs, webhook):
    settings = load_settings("dev")
    env = standalone(procs, webhook, settings)
    wait_until(lambda: env.prometheus.value('up{job="redis-exporter"}') == 1, 15, what="exporter up")
    stopped = time.monotonic()
    env.exporter.stop()
    wait_until(lambda: webhook.first("RedisExporterDown", "firing", stopped), 40, what="RedisExporterDown at webhook")
    assert "RedisDown" not in env.prometheus.firing()  # no redis_up 0: the exporter is gone, not Redis


# ----------------------------------------------------------------------- scenario 4
def test_filling_past_maxmemory_fires_eviction_alert(procs, webhook):
    # A small Redis that config still accepts (it must hold its declared peak).
    settings = load_settings("dev", {"redisMaxmemory": "4mb", "redisMemory": "64Mi", "expectedPeakSessions": 100,
                                     "sessionPayloadBytes": 2048})
    env = standalone(procs, webhook, settings)
    # rate() needs a sample from before the fill: the fill takes ~0.2 s, less than a scrape
    # interval, and a counter first seen at its final value has no increase.
    wait_until(lambda: env.prometheus.value("redis_evicted_keys_total") == 0, 15, what="counter scraped before the fill")
    w = writer(env, settings.was_apps[0], payload=2048)
    started = time.monotonic()
    w.create(6000, batch=500)  # ~15 MB of sessions into 4 MB
    evicted = env.prometheus.value("redis_evicted_keys_total")
    wait_until(lambda: (env.prometheus.value("redis_evicted_keys_total") or 0) > 0, 15, what="evictions counted")
    event = wait_until(lambda: webhook.first("RedisEvictionDetected", "firing", started), 40,
                       what="RedisEvictionDetected at webhook")
    assert event[3]["severity"] == "warning", evicted
    with env.nodes[0].client() as c:
        assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-ttl"}


# ----------------------------------------------------------------------- scenario 6
def test_aof_keeps_sessions_written_before_the_last_second(procs, webhook):
    settings = load_settings("dev")
    conf = redis_conf(settings)
    assert conf["appendonly"] == "yes" and conf["appendfsync"] == "everysec"
    redis = Redis(procs, "redis", PASSWORD, conf).start()
    app = settings.was_apps[0]
    client = redis.client(app.database)
    w = SessionWriter(client, app.key_namespace, app.repository, app.session_timeout_seconds)
    durable = w.create(500)
    time.sleep(1.5)  # everysec: these are on disk now
    w.create(100)   # may or may not survive: written within the last second
    redis.kill(signal.SIGKILL)
    redis.start()
    with redis.client(app.database) as c:
        present = pipeline(c, [("EXISTS", f"{app.key_namespace}:sessions:{sid}") for sid in durable])
    assert sum(present) == len(durable)


# ----------------------------------------------------------------------- scenario 7
@pytest.mark.parametrize("repository", ["default", "indexed"])
def test_sentinel_failover_elects_a_master_and_clients_write_again(procs, webhook, repository):
    # indexed: the counting script runs on the nodes, never on the Sentinels.
    settings = load_settings("prod", {"wasApps": [{**APP, "minReplicas": 3, "repositoryType": repository}]})
    sentinel = settings.redis.sentinel
    conf = redis_conf(settings)
    master = Redis(procs, "node-0", PASSWORD, conf).start()
    replicas = [Redis(procs, f"node-{i}", PASSWORD, {**conf, "replicaof": f"{HOST} {master.port}"}).start()
                for i in range(1, sentinel.nodes)]
    nodes = [master, *replicas]
    sentinels = [Sentinel(procs, f"sentinel-{i}", PASSWORD, master, sentinel.master_set, sentinel.quorum,
                          sentinel.down_after_ms, sentinel.failover_timeout_ms).start() for i in range(sentinel.nodes)]
    env = Env(procs, webhook, settings, nodes, sentinels)
    prom = env.prometheus
    wait_until(lambda: prom.value('count(redis_instance_info{role="master"})') == 1
               and prom.value('count(redis_instance_info{role="slave"})') == sentinel.nodes - 1, 30,
               what="topology visible in Prometheus")
    wait_until(lambda: prom.value("max(redis_sentinel_master_ok_slaves)") == sentinel.nodes - 1, 30,
               what="sentinels see every replica")
    wait_until(lambda: prom.value("count(redis_up == 1)") == 2 * sentinel.nodes, 30,
               what="every node and every Sentinel up")
    addrs = [(HOST, s.port) for s in sentinels]
    app = settings.was_apps[0]

    def write_session() -> bool:
        host, port = master_from_sentinels(addrs, sentinel.master_set, PASSWORD)
        with connect(host, port, PASSWORD, app.database, timeout=1) as c:
            w = SessionWriter(c, app.key_namespace, app.repository, app.session_timeout_seconds)
            return bool(w.create(1))

    assert write_session()
    wait_until(lambda: env.sessions() == 1, 30, what="the session counted once, on the master")
    killed = time.monotonic()
    master.kill(signal.SIGKILL)
    wait_until(lambda: master_from_sentinels(addrs, sentinel.master_set, PASSWORD)[1] != master.port, 60,
               what="a new master elected")
    wait_until(write_session, 30, what="client writes again")
    failover = time.monotonic() - killed
    print(f"failover: client wrote again {failover:.1f}s after the kill (down-after {sentinel.down_after_ms} ms)")
    assert failover < sentinel.down_after_ms / 1000 + 30
    master.start()  # the old master comes back and must be demoted by Sentinel
    wait_until(lambda: master.role() == "slave", 60, what="old master demoted")
    wait_until(lambda: prom.value('count(redis_instance_info{role="master"})') == 1, 30, what="one master")
    wait_until(lambda: not {"RedisNoMaster", "RedisMultipleMasters"} & prom.firing(), 30,
               what="no master-topology alert still firing")
    instances = {r["metric"]["instance"] for r in prom.query("redis_up")}
    assert len(instances) == 2 * sentinel.nodes  # every node and every Sentinel, stable names
    assert all(re.match(r"redis-node-\d\.redis-headless\.petclinic\.svc\.cluster\.local:(6379|26379)$", i)
               for i in instances)
