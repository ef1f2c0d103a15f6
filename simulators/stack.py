"""The project's monitoring stack on loopback, built from what the program generates:
Redis config from the chart values, exporter args and password file from the exporter
component, scrape config as the ServiceMonitor and kube-prometheus produce it, the
generated rules (only `for` shortened) and the generated Alertmanager routing with a
webhook in place of Slack. Used by tests/live and bench/."""
from __future__ import annotations

import json
from collections.abc import Sequence

from components.exporter import AUTH_DIR, AUTH_FILE, SCRIPT_DIR, SCRIPT_FILE, exporter_containers, scrape_targets
from components.redis import chart_values, connection_for
from monitoring.alerts import rule_groups
from monitoring.routing import plain_config
from monitoring.scope import scope_of
from monitoring.session_count import RECORD, lua_script, stores_for
from simulators.loopback import (
    Alertmanager,
    HttpServer,
    Prometheus,
    Redis,
    Sentinel,
    prometheus_config,
    start_exporter,
)
from simulators.spring_session import SessionWriter

PASSWORD = "loopback-password-1234"
FAST_FOR = "2s"


def redis_conf(settings) -> dict[str, str]:
    """The redis.conf lines the chart gets (commonConfiguration), as a dict."""
    lines = chart_values(settings.redis.release_name, settings.redis)["commonConfiguration"].splitlines()
    return dict(line.split(" ", 1) for line in lines if line.strip())


def fast_rules(settings, for_: str = FAST_FOR) -> list[dict]:
    """The generated rules with every `for` shortened; expressions untouched."""
    return [{**g, "rules": [{**r, "for": for_} if "alert" in r else r for r in g["rules"]]}
            for g in rule_groups(scope_of(settings))]


class FakeKubeMetrics:
    """Stands in for kube-state-metrics, cAdvisor and a WAS pod's /actuator/prometheus."""

    def __init__(self, namespace: str):
        pod = 'pod="petclinic-7d9f8c6b5d-x2x7q"'
        body = "\n".join([
            f'kube_pod_info{{namespace="{namespace}",{pod},node="node-a"}} 1',
            f'container_memory_working_set_bytes{{namespace="{namespace}",{pod},container="petclinic"}} 367001600',
            f'jvm_memory_used_bytes{{namespace="{namespace}",{pod},area="heap",id="G1 Eden Space"}} 50000000',
            f'jvm_memory_max_bytes{{namespace="{namespace}",{pod},area="heap",id="G1 Eden Space"}} 200000000',
            f'jvm_memory_used_bytes{{namespace="{namespace}",{pod},area="heap",id="G1 Survivor Space"}} 4000000',
            f'jvm_memory_max_bytes{{namespace="{namespace}",{pod},area="heap",id="G1 Survivor Space"}} -1',
        ]).encode() + b"\n"
        self.http = HttpServer(lambda path: ("text/plain; version=0.0.4", body))
        self.target = self.http.address

    def close(self):
        self.http.close()


class Env:
    """One Redis topology with its exporter, Prometheus and Alertmanager."""

    def __init__(self, procs, webhook, settings, nodes: list[Redis], sentinels: Sequence[Sentinel] = (),
                 extra_scrape=None, for_: str = FAST_FOR, interval: str = "1s", group_wait: str = "1s"):
        self.procs, self.settings, self.nodes = procs, settings, nodes
        conn = connection_for(settings.redis.release_name, settings.redis, settings.namespace)
        stores = stores_for(settings.was_apps)
        script = lua_script(stores)
        # Every container of the exporter pod, run with its own args; cluster addresses and
        # mount paths mapped to the local processes and files.
        targets = scrape_targets(conn)
        processes: list[Redis | Sentinel] = [*nodes, *sentinels]
        local = {t.url: f"redis://{p.addr}" for t, p in zip(targets, processes, strict=True)}
        if script:
            (procs.workdir / SCRIPT_FILE).write_text(script)
        (procs.workdir / AUTH_FILE).write_text(json.dumps({local[t.url]: PASSWORD for t in targets}))
        port_of_container: dict[str, int] = {}
        self.exporters = {}
        for container in exporter_containers(conn, "", bool(script)):
            args = [a.replace(f"{SCRIPT_DIR}/", f"{procs.workdir}/").replace(f"{AUTH_DIR}/", f"{procs.workdir}/")
                    for a in container["args"]]
            args = [f"--redis.addr={local[a.split('=', 1)[1]]}" if a.startswith("--redis.addr=") else a for a in args]
            proc, port = start_exporter(procs, args, name=container["name"])
            self.exporters[container["name"]] = (proc, args)
            port_of_container[container["ports"][0]["name"]] = port
        self.exporter, self.exporter_args = self.exporters["redis-exporter"]
        self.targets = [(t.instance, local[t.url], port_of_container[t.port]) for t in targets]
        self.alertmanager = Alertmanager(procs, plain_config(webhook.url, group_wait=group_wait, group_interval="1s"))
        self.scope = scope_of(settings)
        labels = {"namespace": settings.namespace, "service": self.scope.job}
        self.prometheus = Prometheus(procs, prometheus_config(
            self.targets, labels, self.alertmanager.port, interval=interval, job=self.scope.job,
            extra_static=extra_scrape), fast_rules(settings, for_))

    def sessions(self, app: str = "petclinic") -> float | None:
        return self.prometheus.value(f'{RECORD}{{app="{app}"}}')


def standalone(procs, webhook, settings, extra_scrape=None, conf: dict | None = None, **env_args) -> Env:
    redis = Redis(procs, "redis", PASSWORD, {**redis_conf(settings), **(conf or {})}).start()
    return Env(procs, webhook, settings, [redis], extra_scrape=extra_scrape, **env_args)


def writer(env: Env, app_settings, payload: int = 512) -> SessionWriter:
    client = env.nodes[0].client(app_settings.session_database)
    return SessionWriter(client, app_settings.session_namespace, app_settings.repository_type,
                         app_settings.session_timeout_seconds, payload)


