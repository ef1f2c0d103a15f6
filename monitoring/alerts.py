"""Alert rules as data, in the style of the kube-prometheus mixins.

Each rule is an `Alert`; expressions are templates filled from one place, the Scope:
the store's selector (namespace + exporter job: every Redis expression is scoped to it,
and every alert carries the namespace label, since an AlertmanagerConfig routes only
alerts of its own namespace) and `Thresholds` (the same object the dashboard uses).
Runbooks: docs/runbooks.md#<alert name lower case>.

Annotations are Go templates (Alertmanager/Prometheus): text that comes from config
enters them only through `template_literal`, so no value can break or inject a template.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from monitoring.scope import Scope
from monitoring.session_count import RECORD, recording_rules, stores_for
from settings import names

MIB = 1024 * 1024
# Fragmentation ratio is noise on a near-empty Redis (RSS dominated by the allocator).
FRAGMENTATION_MIN_USED_BYTES = 10 * MIB


@dataclass(frozen=True)
class Alert:
    """One alerting rule."""

    name: str
    """Alert name (CamelCase); its runbook anchor is the lower-cased name."""
    expr: str
    """PromQL template: {ns} = the store's label matchers, {nsa} = the namespace's, {t} = Thresholds."""
    for_: str
    """How long the condition must hold."""
    severity: str
    """critical | warning | info."""
    summary: str
    """One line."""
    description: str
    """Alertmanager template; shows the value and the instance."""
    when: Callable[[Scope], bool] = lambda s: True
    """Whether the stack needs this rule (e.g. Sentinel-only rules)."""


def _sentinel(s: Scope) -> bool:
    return s.topology == "sentinel"


REDIS_ALERTS = (
    Alert("RedisDown", "redis_up{{{ns}}} == 0", "1m", "critical",
          "Redis instance is down.",
          "Redis {{ $labels.instance }} in {{ $labels.namespace }} is unreachable (redis_up={{ $value }}); "
          "sessions cannot be read or written."),
    Alert("RedisExporterDown", "up{{{ns}}} == 0", "2m", "warning",
          "redis_exporter cannot be scraped.",
          "Prometheus cannot scrape redis_exporter for {{ $labels.instance }}: Redis is not monitored."),
    Alert("RedisMetricsAbsent", "absent(redis_up{{{ns}}})", "5m", "warning",
          "No Redis metrics reach Prometheus.",
          "No redis_up series for namespace {{ $labels.namespace }} for 5m: exporter gone, or the "
          "ServiceMonitor lost its release label (empty dashboard)."),
    Alert("HighSessionCount", RECORD + "{{{ns}}} > {t.sessions_high}", "5m", "warning",
          "Many live sessions.",
          "{{ $value }} live sessions for app {{ $labels.app }} (threshold {t.sessions_high}); check Redis memory."),
    Alert("RedisEvictionDetected", "rate(redis_evicted_keys_total{{{ns}}}[5m]) > 0", "1m", "warning",
          "Redis is evicting keys: users are being logged out.",
          "Redis {{ $labels.instance }} evicts {{ $value }} keys/s at maxmemory; every evicted session is a "
          "logged-out user. Raise redisMaxmemory."),
    Alert("RedisMemoryHigh",
          "100 * redis_memory_used_bytes{{{ns}}} / (redis_memory_max_bytes{{{ns}}} > 0) > {t.memory_used_percent_warning}",
          "5m", "warning", "Redis memory close to maxmemory.",
          "Redis {{ $labels.instance }} uses {{ $value | humanize }}% of maxmemory; evictions start at 100%."),
    Alert("RedisMemoryCritical",
          "100 * redis_memory_used_bytes{{{ns}}} / (redis_memory_max_bytes{{{ns}}} > 0) > {t.memory_used_percent_critical}",
          "2m", "critical", "Redis memory about to hit maxmemory.",
          "Redis {{ $labels.instance }} uses {{ $value | humanize }}% of maxmemory; sessions will be evicted."),
    Alert("RedisContainerMemoryNearLimit",
          "100 * max by (namespace, pod) (container_memory_working_set_bytes{{{nsa},container=\"redis\"}})"
          " / max by (namespace, pod) (kube_pod_container_resource_limits{{{nsa},container=\"redis\",resource=\"memory\"}} > 0)"
          " > {t.container_memory_percent_warning}",
          "5m", "warning", "Redis container close to its memory limit.",
          "Redis pod {{ $labels.pod }} working set is {{ $value | humanize }}% of its limit; the OOM killer is next."),
    Alert("RedisRejectedConnections", "increase(redis_rejected_connections_total{{{ns}}}[5m]) > 0", "1m", "warning",
          "Redis rejects connections.",
          "Redis {{ $labels.instance }} rejected {{ $value }} connections in 5m (maxclients)."),
    Alert("RedisTooManyConnections", "redis_connected_clients{{{ns}}} > {t.connected_clients_high}", "5m", "warning",
          "Too many Redis client connections.",
          "Redis {{ $labels.instance }} has {{ $value }} clients (threshold {t.connected_clients_high}); check WAS pools."),
    Alert("RedisFragmentationHigh",
          "redis_mem_fragmentation_ratio{{{ns}}} > {t.fragmentation_warning}"
          " and on(instance) redis_memory_used_bytes{{{ns}}} > " + str(FRAGMENTATION_MIN_USED_BYTES),
          "15m", "warning", "Redis memory fragmentation high.",
          "Redis {{ $labels.instance }} fragmentation ratio {{ $value }} (normal 1.0-{t.fragmentation_warning})."),
    Alert("RedisFragmentationCritical",
          "redis_mem_fragmentation_ratio{{{ns}}} > {t.fragmentation_critical}"
          " and on(instance) redis_memory_used_bytes{{{ns}}} > " + str(FRAGMENTATION_MIN_USED_BYTES),
          "15m", "critical", "Redis memory fragmentation critical.",
          "Redis {{ $labels.instance }} fragmentation ratio {{ $value }} >= {t.fragmentation_critical}: "
          "restart Redis (rolling, replicas first) or enable activedefrag."),
)

SENTINEL_ALERTS = (
    # Guarded by "the exporter reports at all": a stopped exporter is RedisExporterDown /
    # RedisMetricsAbsent, not a critical page about a master that may be fine.
    Alert("RedisNoMaster", '(count(redis_instance_info{{{ns},role="master"}}) or vector(0)) == 0'
          ' and on() count(redis_up{{{ns}}}) > 0', "1m", "critical",
          "No Redis master.",
          "No Redis instance reports role=master in {namespace} (masters: {{ $value }}): "
          "writes fail until Sentinel elects one.", _sentinel),
    Alert("RedisMultipleMasters", 'count(redis_instance_info{{{ns},role="master"}}) > 1', "1m", "critical",
          "More than one Redis master (split brain).",
          "{{ $value }} instances report role=master in {namespace}; sessions may be written to a lost master.",
          _sentinel),
    Alert("RedisReplicasDisconnected",
          'max(redis_connected_slaves{{{ns}}} and on(instance) redis_instance_info{{{ns},role="master"}})'
          " < {replicas}", "2m", "warning", "Redis master has fewer replicas than deployed.",
          "The master has {{ $value }} connected replicas, expected {replicas}: a failover may lose data.",
          _sentinel),
    Alert("RedisReplicationLinkDown", "redis_master_link_up{{{ns}}} == 0", "1m", "warning",
          "Replica lost its master link.",
          "Replica {{ $labels.instance }} is not replicating from the master.", _sentinel),
)


def _was_alerts(s: Scope) -> list[Alert]:
    out = []
    for app in s.apps:
        out.append(Alert(
            "WasPodsBelowMinimum",
            'kube_deployment_status_replicas_ready{{{nsa},deployment="' + app.name + '"}} < ' + str(app.min_replicas),
            "5m", "warning", "WAS has fewer ready pods than its HPA minimum.",
            "Deployment {{ $labels.deployment }} has {{ $value }} ready pods, minimum " + str(app.min_replicas) + "."))
    out.append(Alert(
        "WasJvmHeapHigh",
        "100 * sum by (namespace, pod) (jvm_memory_used_bytes{{{nsa},area=\"heap\"}}"
        " and on(namespace, pod, id) jvm_memory_max_bytes{{{nsa},area=\"heap\"}} > 0)"
        " / sum by (namespace, pod) (jvm_memory_max_bytes{{{nsa},area=\"heap\"}} > 0)"
        " > {t.jvm_heap_percent_warning}",
        "10m", "warning", "WAS JVM heap nearly full.",
        "Pod {{ $labels.pod }} uses {{ $value | humanize }}% of its JVM heap (pools with max=-1 excluded)."))
    return out


def template_literal(text: str) -> str:
    """`text` as Go template source that prints exactly `text`. Only `{{` opens an action
    (text/template: leftDelim), so text without it is literal; otherwise it becomes one
    action printing a Go string constant (JSON string escapes are valid Go escapes)."""
    return text if "{{" not in text else "{{ " + json.dumps(text, ensure_ascii=False) + " }}"


def _render(alert: Alert, s: Scope) -> dict:
    fill = dict(ns=s.selector, nsa=s.namespace_selector, t=s.thresholds,
                namespace=template_literal(s.namespace), replicas=s.redis_nodes - 1)
    return {
        "alert": alert.name,
        "expr": alert.expr.format(**fill),
        "for": alert.for_,
        "labels": {"severity": alert.severity, "namespace": s.namespace},
        "annotations": {
            "summary": alert.summary,
            "description": alert.description.replace("{{", "\0").replace("}}", "\1").format(**fill)
            .replace("\0", "{{").replace("\1", "}}"),
            "runbook_url": template_literal(f"{s.runbook_base_url}#{alert.name.lower()}"),
        },
    }


def all_alerts(s: Scope) -> list[Alert]:
    """The alerts this stack needs."""
    return [a for a in REDIS_ALERTS + SENTINEL_ALERTS if a.when(s)] + _was_alerts(s)


def alert_rules(s: Scope) -> list[dict]:
    """Every alerting rule of the stack as a PrometheusRule rule dict (alert, expr, for,
    labels.severity + namespace, annotations summary/description/runbook_url)."""
    return [_render(a, s) for a in all_alerts(s)]


def rule_groups(s: Scope) -> list[dict]:
    """PrometheusRule `spec.groups`: session recording rules, then alerts."""
    by_group: dict[str, list[dict]] = {"redis": [], "sentinel": [], "was": []}
    for alert in all_alerts(s):
        group = "was" if alert.name.startswith("Was") else "sentinel" if alert in SENTINEL_ALERTS else "redis"
        by_group[group].append(_render(alert, s))
    groups = [{"name": f"{names.PART_OF}.sessions",
               "rules": recording_rules(stores_for(s.apps), s.selector)}]
    groups += [{"name": f"{names.PART_OF}.{g}", "rules": rules} for g, rules in by_group.items() if rules]
    return groups


def find(groups: list[dict], alert: str) -> dict | None:
    """The rendered rule of an alert (first match), for tests and tools."""
    return next((r for g in groups for r in g["rules"] if r.get("alert") == alert), None)
