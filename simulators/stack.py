"""The project's monitoring stack on loopback, built from what the program generates:
Redis config from the chart values, exporter args and password file from the exporter
component, scrape config as the ServiceMonitor and kube-prometheus produce it, the
generated rules (only `for` shortened) and the generated Alertmanager routing with a
webhook in place of Slack. Used by tests/live and bench/."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from components.config import names
from components.config.sessions import stores_for, stores_in_order
from components.config.tls import CERT_VALIDITY_HOURS
from components.exporter import AUTH_DIR, COUNTER_SCRIPT, counter_env, exporter_containers
from components.monitoring.alerts import rule_groups
from components.monitoring.certificates import expiry_group
from components.monitoring.scope import scope_of
from components.monitoring.session_count import RECORD, check_single_keys, counted_by_scan
from components.monitoring.targets import scrape_targets
from components.redis import EXPORTER_PASSWORD_FILE, chart_values, connection_for
from simulators.certs import issue, not_after
from simulators.loopback import (
    Alertmanager,
    HttpServer,
    Proc,
    Processes,
    Prometheus,
    Redis,
    Sentinel,
    plain_config,
    prometheus_config,
    start_exporter,
)
from simulators.spring_session import SessionWriter

PASSWORD = "loopback-password-1234"
FAST_FOR = "2s"


def redis_conf(settings, acl_file: str | None = None) -> dict[str, str]:
    """The redis.conf lines the chart gets (commonConfiguration), as a dict. The ACL file
    is the local one given, or (no ACL: the default user may do anything) left out."""
    lines = chart_values(settings.redis.release_name, settings.redis,
                         stores_in_order(settings.was_apps))["commonConfiguration"].splitlines()
    conf = dict(line.split(" ", 1) for line in lines if line.strip())
    assert "aclfile" in conf, "the chart config names the ACL file"
    if acl_file:
        conf["aclfile"] = acl_file
    else:
        del conf["aclfile"]
    return conf


COUNTER_INTERVAL = 0.5
"""The session counter's interval on loopback (seconds); its count key lives COUNTER_TTL seconds."""
COUNTER_TTL = 2


def start_counter(procs: Processes, nodes: list[str], stores, password: str, *, user: str = names.COUNTER_USER,
                  redis_version: tuple[int, int] = (7, 0), tls_dir: Path | None = None,
                  interval: float = COUNTER_INTERVAL, ttl: int = COUNTER_TTL, name: str = "session-counter") -> Proc:
    """The session-counter sidecar as the exporter pod runs it: components/exporter.py
    COUNTER_SCRIPT, unchanged, under bash with the local redis-cli (Debian's 7.0 here), its
    environment from counter_env with the loopback nodes (`host:port`, master first or not),
    a local password file, and a shorter interval."""
    folder = procs.workdir / name
    folder.mkdir(exist_ok=True)
    (folder / "password").write_text(password)
    env = counter_env(nodes, stores, redis_version, tls_dir is not None, password_file=str(folder / "password"),
                      tls_dir=str(tls_dir or ""), interval=interval, ttl=ttl, heartbeat=str(folder / "alive"))
    return procs.start(name, ["bash", "-c", COUNTER_SCRIPT], env={**env, "COUNTER_USER": user})


def fast_rules(settings, for_: str = FAST_FOR) -> list[dict]:
    """The generated rules with every `for` shortened; expressions untouched."""
    return [{**g, "rules": [{**r, "for": for_} if "alert" in r else r for r in g["rules"]]}
            for g in rule_groups(scope_of(settings))]


# kube-prometheus's rule mapping a Deployment's pods to it (kubernetes-mixin, group
# k8s.rules.pod_owner; kube-prometheus manifests/kubernetesControlPlane-prometheusRule.yaml,
# workload_type deployment, copied verbatim), so the loopback Prometheus finds WAS pods
# exactly as a cluster does.
KUBE_PROMETHEUS_RULES = {"name": "k8s.rules.pod_owner", "rules": [{
    "record": "namespace_workload_pod:kube_pod_owner:relabel",
    "labels": {"workload_type": "deployment"},
    "expr": """max by (cluster, namespace, workload, pod) (
  label_replace(
    label_replace(
      kube_pod_owner{job="kube-state-metrics", owner_kind="ReplicaSet"},
      "replicaset", "$1", "owner_name", "(.*)"
    ) * on(replicaset, namespace, cluster) group_left(owner_name) topk by(cluster, replicaset, namespace) (
      1, max by (cluster, replicaset, namespace, owner_name) (
        kube_replicaset_owner{job="kube-state-metrics", owner_kind="Deployment"}
      )
    ),
    "workload", "$1", "owner_name", "(.*)"
  )
)""",
}]}


@dataclass(frozen=True)
class WasShape:
    """What one fake WAS pod's /actuator/prometheus shows."""

    tomcat_sessions: int = 0
    """Sessions in Tomcat's own manager: 0 when Spring Session serves every request."""
    registry: bool = True
    """False: the image lacks micrometer-registry-prometheus, /actuator/prometheus is 404."""
    traffic: bool = True
    """Serves user requests (besides actuator)."""


class FakeWasPod:
    """One WAS pod's /actuator/prometheus in Micrometer's Prometheus names (TomcatMetrics,
    JvmMemoryMetrics, http.server.requests); the request counters grow on every scrape."""

    def __init__(self, app: str, shape: WasShape):
        self.app, self.shape, self.scrapes = app, shape, 0
        self.pod = f"{app}-7d9f8c6b5d-x2x7q"
        self.http = HttpServer(self._respond)

    def _respond(self, path: str) -> tuple:
        if not self.shape.registry or not path.startswith("/actuator/prometheus"):
            return 404, "application/json", b'{"status":404,"error":"Not Found","path":"/actuator/prometheus"}'
        self.scrapes += 1
        n, shape = self.scrapes, self.shape
        labels = 'error="none",exception="none",method="GET",outcome="SUCCESS",status="200"'
        lines = [
            'jvm_memory_used_bytes{area="heap",id="G1 Eden Space"} 50000000',
            'jvm_memory_max_bytes{area="heap",id="G1 Eden Space"} 200000000',
            'jvm_memory_used_bytes{area="heap",id="G1 Survivor Space"} 4000000',
            'jvm_memory_max_bytes{area="heap",id="G1 Survivor Space"} -1',
            f"tomcat_sessions_active_current_sessions {shape.tomcat_sessions}",
            f"tomcat_sessions_created_sessions_total {shape.tomcat_sessions}",
            f'http_server_requests_seconds_count{{{labels},uri="/actuator/prometheus"}} {n}',
            f'http_server_requests_seconds_count{{{labels},uri="/owners/{{ownerId}}"}} {10 * n if shape.traffic else 0}',
        ]
        return "text/plain; version=0.0.4", ("\n".join(lines) + "\n").encode()

    def close(self) -> None:
        self.http.close()


class FakeKube:
    """Stands in for kube-state-metrics and cAdvisor (one endpoint, scraped with
    honor_labels as kube-prometheus does) and for one pod per WAS app (scraped as its
    PodMonitor would: job <namespace>/<app>, target labels namespace and pod)."""

    def __init__(self, namespace: str, apps: dict[str, WasShape], node: str = "node-a"):
        self.namespace = namespace
        self.pods = {app: FakeWasPod(app, shape) for app, shape in apps.items()}
        ns = f'namespace="{namespace}"'
        lines = []
        for app, p in self.pods.items():
            rs = p.pod.rsplit("-", 1)[0]
            pod = f'{ns},pod="{p.pod}"'
            lines += [
                f'kube_pod_owner{{{pod},owner_kind="ReplicaSet",owner_name="{rs}",owner_is_controller="true"}} 1',
                f'kube_replicaset_owner{{{ns},replicaset="{rs}",owner_kind="Deployment",owner_name="{app}",'
                f'owner_is_controller="true"}} 1',
                f'kube_pod_info{{{pod},node="{node}"}} 1',
                f'kube_deployment_status_replicas_ready{{{ns},deployment="{app}"}} 1',
                f'container_memory_working_set_bytes{{{pod},container="{app}"}} 367001600',
            ]
        body = ("\n".join(lines) + "\n").encode()
        self.kube = HttpServer(lambda path: ("text/plain; version=0.0.4", body))

    def scrape_configs(self, interval: str = "1s") -> list[dict]:
        jobs = [{"job_name": "kube-state-metrics", "scrape_interval": interval, "honor_labels": True,
                 "static_configs": [{"targets": [self.kube.address]}]}]
        for app, p in self.pods.items():
            jobs.append({"job_name": names.pod_monitor_job(self.namespace, app), "scrape_interval": interval,
                         "metrics_path": "/actuator/prometheus",
                         "static_configs": [{"targets": [p.http.address],
                                             "labels": {"namespace": self.namespace, "pod": p.pod, "container": app}}]})
        return jobs

    def close(self) -> None:
        self.kube.close()
        for p in self.pods.values():
            p.close()


def without_acl(args: list[str]) -> list[str]:
    """Exporter args for a Redis without the ACL (the default user, plaintext): the monitoring
    tests' Redis, the exporter's web endpoint in plain HTTP. The ACL user, its password file and
    TLS flags are proven against a locked-down Redis in tests/live/test_security_live.py, the web
    endpoint's client-certificate TLS in tests/live/test_exporter_auth_live.py."""
    return [a for a in args if not a.startswith(("--redis.user=", "--tls-"))]


def exporter_web_certificates(folder, exporter: str, namespace: str) -> dict[str, str]:
    """The exporter's web certificates issued as components/exporter.py issues them (same
    names, same validity), {certificate: notAfter}: what the stack's certificate records hold.
    Env's web endpoint runs in plain HTTP (without_acl); the record is still the stack's."""
    server, clients = issue(folder, names.exporter_dns_names(exporter, namespace), ["prometheus"],
                            days=CERT_VALIDITY_HOURS // 24)
    return {f"{exporter}-web-tls": not_after(server.cert), f"{exporter}-scrape-tls": not_after(clients["prometheus"].cert),
            f"{exporter}-web-ca": not_after(server.ca)}


class Env:
    """One Redis topology with its exporter, Prometheus and Alertmanager (no ACL, no TLS:
    simulators/secure.py builds the locked-down one)."""

    def __init__(self, procs, webhook, settings, nodes: list[Redis], sentinels: Sequence[Sentinel] = (),
                 extra_scrape=None, for_: str = FAST_FOR, interval: str = "1s", group_wait: str = "1s"):
        self.procs, self.settings, self.nodes = procs, settings, nodes
        conn = connection_for(settings.redis.release_name, dataclasses.replace(settings.redis, tls=False),
                              settings.namespace, stores_in_order(settings.was_apps))
        stores = stores_for(settings.was_apps)
        # Every container of the exporter pod, run with its own args; cluster addresses and
        # mount paths mapped to the local processes and files.
        targets = scrape_targets(conn)
        processes: list[Redis | Sentinel] = [*nodes, *sentinels]
        local = {t.url: f"redis://{p.addr}" for t, p in zip(targets, processes, strict=True)}
        (procs.workdir / EXPORTER_PASSWORD_FILE).write_text(json.dumps({local[t.url]: PASSWORD for t in targets}))
        port_of_container: dict[str, int] = {}
        self.exporters = {}
        for container in exporter_containers(conn, "", check_single_keys(stores)):
            args = [a.replace(f"{AUTH_DIR}/", f"{procs.workdir}/")
                    for a in container["args"]]
            args = [f"--redis.addr={local[a.split('=', 1)[1]]}" if a.startswith("--redis.addr=") else a
                    for a in without_acl(args)]
            proc, port = start_exporter(procs, args, name=container["name"])
            self.exporters[container["name"]] = (proc, args)
            port_of_container[container["ports"][0]["name"]] = port
        self.exporter, self.exporter_args = self.exporters["redis-exporter"]
        self.targets = [(t.instance, local[t.url], port_of_container[t.port]) for t in targets]
        self.alertmanager = Alertmanager(procs, plain_config(webhook.url, group_wait=group_wait, group_interval="1s"))
        self.scope = scope_of(settings)
        labels = {"namespace": settings.namespace, "service": self.scope.job}
        # The exporter pod's session-counter sidecar, as `default` here (no ACL file).
        self.counter = start_counter(procs, [n.addr for n in nodes], stores, PASSWORD, user="default") \
            if counted_by_scan(stores) else None
        self.prometheus = Prometheus(procs, prometheus_config(
            self.targets, labels, self.alertmanager.port, interval=interval, job=self.scope.job,
            extra_static=extra_scrape or []),
            [*fast_rules(settings, for_), KUBE_PROMETHEUS_RULES,
             expiry_group(self.scope, exporter_web_certificates(procs.workdir / "exporter-web", self.scope.job,
                                                                settings.namespace))])

    def sessions(self, app: str = "petclinic") -> float | None:
        return self.prometheus.value(f'{RECORD}{{app="{app}"}}')


def standalone(procs, webhook, settings, extra_scrape=None, conf: dict | None = None, **env_args) -> Env:
    redis = Redis(procs, "redis", PASSWORD, {**redis_conf(settings), **(conf or {})}).start()
    return Env(procs, webhook, settings, [redis], extra_scrape=extra_scrape, **env_args)


def writer(env: Env, app_settings, payload: int = 512) -> SessionWriter:
    client = env.nodes[0].client(app_settings.database)
    return SessionWriter(client, app_settings.key_namespace, app_settings.repository,
                         app_settings.session_timeout_seconds, payload, database=app_settings.database)


