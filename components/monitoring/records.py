"""Recording rules: the one definition of every derived quantity that the alerts, the
dashboard and the checklist read (names `level:metric:operation`, as in the
kube-prometheus mixins). The session count has its own module (components/monitoring/session_count.py,
`spring_session:active_sessions`).

WAS pods are found through kube-prometheus's own workload rule
`namespace_workload_pod:kube_pod_owner:relabel{namespace, workload, workload_type, pod}`
(kubernetes-mixin, group `k8s.rules.pod_owner`, in kube-prometheus
manifests/kubernetesControlPlane-prometheusRule.yaml and in kube-prometheus-stack): a WAS
app's Deployment is named after the app (components/was.py), so its pods are the series
with `workload_type="deployment", workload="<app>"`. Never a pod-name regex.

Per-app rules carry the label `app` from the rule (one rule per app, like the session
count), so no regex over app names is needed either.
"""
from __future__ import annotations

from dataclasses import dataclass

from .promql import Promql, promql
from .scope import Scope

MIB = 1024 * 1024
FRAGMENTATION_MIN_USED_BYTES = 10 * MIB
"""Below this, mem_fragmentation_ratio is allocator noise (a near-empty Redis shows 5-10)."""
KUBE_POD_OWNER = "namespace_workload_pod:kube_pod_owner:relabel"
"""kube-prometheus's workload -> pod rule (input; not defined here)."""
NON_APP_URIS = "/actuator.*|/livez|/readyz"
"""http_server_requests `uri` values that are not user traffic: actuator (probes, the
Prometheus scrape) and the probe paths Boot adds with add-additional-paths."""

# Names every consumer uses.
REDIS_MEMORY_PERCENT = "instance:redis_memory_used:percent_maxmemory"
REDIS_FRAGMENTATION = "instance:redis_mem_fragmentation_ratio:judged"
WAS_POD = "namespace_app_pod:kube_pod_owner:relabel"
WAS_READY = "namespace_app:kube_deployment_status_replicas_ready:max"
WAS_METRICS_UP = "namespace_app:up:sum"
JVM_HEAP_PERCENT = "namespace_app_pod:jvm_memory_heap_used:percent"
TOMCAT_SESSIONS = "namespace_app:tomcat_sessions_active:sum"
HTTP_REQUESTS = "namespace_app:http_server_requests:rate5m"


@dataclass(frozen=True)
class Record:
    """One recorded series."""

    name: str
    """Recorded metric name."""
    expr: Promql
    """PromQL, rendered with `Scope.values` (`${store}`, `${namespace}`; per-app rules
    `${app_name}`, `${metrics_job}`)."""
    labels: str
    """Labels of the result, for the reader."""
    meaning: str
    """What the value is."""
    per_app: bool = False
    """One rule per WAS app, labelled app=<name>."""


RECORDS = (
    Record(REDIS_MEMORY_PERCENT,
           promql("100 * redis_memory_used_bytes{${store}} / (redis_memory_max_bytes{${store}} > 0)"),
           "namespace, job, instance", "Redis used memory, % of maxmemory; none while maxmemory is 0 (unset)."),
    Record(REDIS_FRAGMENTATION,
           promql("redis_mem_fragmentation_ratio{${store}}"
                  " and on(namespace, job, instance) redis_memory_used_bytes{${store}} > ${min_used}",
                  min_used=FRAGMENTATION_MIN_USED_BYTES),
           "namespace, job, instance",
           "mem_fragmentation_ratio, only while Redis holds more than 10 MiB (below that it is not judged)."),
    Record(WAS_POD,
           promql('max by (namespace, pod) (${owner}{${namespace},workload_type="deployment",workload="${app_name}"})',
                  owner=KUBE_POD_OWNER),
           "namespace, pod, app", "1 for every pod of the app's Deployment (kube-prometheus workload rule).",
           per_app=True),
    Record(WAS_READY,
           promql('max by (namespace) (kube_deployment_status_replicas_ready{${namespace},deployment="${app_name}"})'),
           "namespace, app", "Ready pods of the app's Deployment (kube-state-metrics); 0 when none.", per_app=True),
    Record(WAS_METRICS_UP,
           promql('sum by (namespace) (up{${namespace},job="${metrics_job}"})'),
           "namespace, app", "Pods whose /actuator/prometheus was scraped by the app's PodMonitor in the last "
           "scrape; absent when Prometheus has no target for it.", per_app=True),
    Record(JVM_HEAP_PERCENT,
           promql('100 * sum by (namespace, pod) (jvm_memory_used_bytes{${namespace},area="heap"}'
                  ' and on(namespace, pod, id) jvm_memory_max_bytes{${namespace},area="heap"} > 0)'
                  ' / sum by (namespace, pod) (jvm_memory_max_bytes{${namespace},area="heap"} > 0)'
                  " * on(namespace, pod) group_left(app) ${was_pod}{${namespace}}", was_pod=WAS_POD),
           "namespace, pod, app", "JVM heap used, % of max, per pod; pools whose max is -1 are left out."),
    Record(TOMCAT_SESSIONS,
           promql("sum by (namespace, app) (tomcat_sessions_active_current_sessions{${namespace}}"
                  " * on(namespace, pod) group_left(app) ${was_pod}{${namespace}})", was_pod=WAS_POD),
           "namespace, app", "Sessions held by the servlet container (Micrometer TomcatMetrics); 0 when Spring "
           "Session serves every request."),
    Record(HTTP_REQUESTS,
           promql('sum by (namespace, app) (rate(http_server_requests_seconds_count{${namespace},uri!~"${non_app}"}[5m])'
                  " * on(namespace, pod) group_left(app) ${was_pod}{${namespace}})", non_app=NON_APP_URIS, was_pod=WAS_POD),
           "namespace, app", "Requests per second the app serves, actuator and probe paths left out."),
)


def recording_rules(s: Scope) -> list[dict]:
    """PrometheusRule rules for RECORDS, in dependency order (WAS_POD before its readers)."""
    rules = []
    for record in RECORDS:
        for app in (s.apps if record.per_app else (None,)):
            rule: dict = {"record": record.name, "expr": record.expr.render(s.values(app))}
            if app is not None:
                rule["labels"] = {"app": app.name}
            rules.append(rule)
    return rules
