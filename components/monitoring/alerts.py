"""Alert rules as data, in the style of the kube-prometheus mixins.

One alert name per condition. Where a condition has degrees, the name has one rule per
`severity` tier (warning, critical), and Alertmanager's inhibit rules (components/monitoring/routing.py)
let the critical one silence the warning one, so a condition pages once.

Each rule is an `Alert`; expressions are `Promql` templates (components/monitoring/promql.py) filled from
one place, the Scope (`Scope.values`):
the store's selector (namespace + exporter job: every Redis expression is scoped to it,
and every alert carries the namespace label, since an AlertmanagerConfig routes only
alerts of its own namespace) and `Thresholds` (the same object the dashboard and the
checklist use). Derived quantities come from the recording rules (components/monitoring/records.py,
components/monitoring/session_count.py), never recomputed here. Every rule about a WAS app carries
the label `app`.
Runbooks: docs/runbooks.md#<alert name lower case>.

Adding an alert: an `Alert` here (its `panel` and `check` name the dashboard panel and the
checklist row that show it), the `PanelSpec` (components/monitoring/dashboard.py), the `Check`
(tools/checklist.py), a `## <AlertName>` section in docs/runbooks.md, and a fire and
a silent case per tier in tests/monitoring/test_alerts.py `cases()`; tests fail when one is
missing.

Annotations are Go templates (Alertmanager/Prometheus): text that comes from config
enters them only through `template_literal`, so no value can break or inject a template.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from ..config import names
from ..config.app import WasAppSettings
from ..config.sessions import stores_for
from . import certificates as cert
from . import records as rec
from .promql import Promql, promql
from .records import recording_rules
from .scope import Scope
from .session_count import COUNT_FAILED, RECORD, STORE_MISMATCH
from .session_count import recording_rules as session_rules


def _always(s: Scope) -> bool:
    return True


@dataclass(frozen=True)
class Alert:
    """One alerting rule (one tier of a condition)."""

    name: str
    """Alert name (CamelCase), one per condition; its runbook anchor is the lower-cased name."""
    expr: Promql
    """PromQL, rendered with `Scope.values` (`${store}`, `${namespace}`, each `Thresholds`
    field by name; per_app rules also `${app}`, `${app_name}`, `${min_replicas}`)."""
    for_: str
    """How long the condition must hold."""
    severity: str
    """critical | warning | info (one rule per tier, same name)."""
    summary: str
    """One line."""
    description: str
    """Alertmanager template; shows the value and the instance or app. `${name}`s are filled
    like the expression's, plus `${namespace_name}` (the namespace as Go template text)."""
    when: Callable[[Scope], bool] = _always
    """Whether the stack needs this rule (e.g. Sentinel-only rules)."""
    per_app: bool = False
    """One rule per WAS app, labelled app=<name> (for thresholds that differ per app)."""
    panel: str = ""
    """Title of the Dashboard 007 panel that shows the condition ("" = none); tests check it exists."""
    check: str = ""
    """Checklist item that judges the condition ("" = none); tests check it exists."""


def _sentinel(s: Scope) -> bool:
    return s.topology == "sentinel"


MEMORY = promql("${memory}{${store}}", memory=rec.REDIS_MEMORY_PERCENT)
FRAGMENTATION = promql("${fragmentation}{${store}}", fragmentation=rec.REDIS_FRAGMENTATION)
CERT_LEFT = promql("min by (namespace, job, certificate) (${record}{${store}}) - time()", record=cert.RECORD)
FRAGMENTATION_WHY = "Redis {{ $labels.instance }} fragmentation ratio {{ $value }}"

REDIS_ALERTS = (
    Alert("RedisDown", promql("redis_up{${store}} == 0"), "1m", "critical",
          "Redis instance is down.",
          "Redis {{ $labels.instance }} in {{ $labels.namespace }} is unreachable (redis_up={{ $value }}); "
          "sessions cannot be read or written.", panel="Redis up", check="redis_up"),
    Alert("RedisExporterDown", promql("up{${store}} == 0"), "2m", "warning",
          "redis_exporter cannot be scraped.",
          "Prometheus cannot scrape redis_exporter for {{ $labels.instance }}: Redis is not monitored."),
    Alert("RedisMetricsAbsent", promql("absent(redis_up{${store}})"), "5m", "warning",
          "No Redis metrics reach Prometheus.",
          "No redis_up series for namespace {{ $labels.namespace }} for 5m: exporter gone, or the "
          "ServiceMonitor lost its release label (empty dashboard).", check="redis_up"),
    Alert("HighSessionCount", promql("${sessions}{${store}} > ${sessions_high}", sessions=RECORD), "5m", "warning",
          "Many live sessions.",
          "{{ $value }} live sessions for app {{ $labels.app }} (threshold ${sessions_high}); check Redis memory.",
          panel="Active sessions", check="sessions"),
    # The count is withheld or missing: HighSessionCount and the dashboard are blind for the app.
    Alert("SessionCountFailed", promql("${failed}{${store}} == 1", failed=COUNT_FAILED), "5m", "warning",
          "An app's sessions cannot be counted.",
          "The live-session count of app {{ $labels.app }} failed (the session counter's count key is missing: "
          "the session-counter container stopped or its SCAN failed; or the store check could not read its DB): "
          "HighSessionCount is blind for it.",
          panel="Apps not counted", check="session count"),
    Alert("SessionStoreMismatch", promql("${mismatch}{${store}} == 1", mismatch=STORE_MISMATCH), "5m", "warning",
          "An app's session DB does not hold what its config declares.",
          "The Redis DB of app {{ $labels.app }} holds keys its config does not declare (another namespace, "
          "another repository type or expiration store, or a sorted set under Spring's DEFAULT_NAMESPACE): "
          "its session count is withheld.", panel="Apps not counted", check="session count"),
    Alert("RedisEvictionDetected", promql("rate(redis_evicted_keys_total{${store}}[5m]) > 0"), "1m", "warning",
          "Redis is evicting keys: users are being logged out.",
          "Redis {{ $labels.instance }} evicts {{ $value }} keys/s at maxmemory; every evicted session is a "
          "logged-out user. Raise redisMaxmemory.", panel="Evictions/s (each one logs a user out)",
          check="evictions (24h)"),
    Alert("RedisMemoryHigh", promql("${memory} > ${memory_used_percent_warning}", memory=MEMORY), "5m", "warning",
          "Redis memory close to maxmemory.",
          "Redis {{ $labels.instance }} uses {{ $value | humanize }}% of maxmemory; evictions start at 100%.",
          panel="Memory used (% of maxmemory)", check="memory used"),
    Alert("RedisMemoryHigh", promql("${memory} > ${memory_used_percent_critical}", memory=MEMORY), "2m", "critical",
          "Redis memory about to hit maxmemory.",
          "Redis {{ $labels.instance }} uses {{ $value | humanize }}% of maxmemory; sessions will be evicted.",
          panel="Memory used (% of maxmemory)", check="memory used"),
    Alert("RedisTlsCertificateExpiring", promql("${left} < ${seconds}", left=CERT_LEFT,
                                                seconds=cert.WARNING_DAYS * cert.DAY), "10m", "warning",
          "A Redis TLS certificate expires within 30 days.",
          "Certificate {{ $labels.certificate }} expires in {{ $value | humanizeDuration }}: run pulumi up "
          "(it renews leaves in their last 30 days) and check the CA's validity.",
          check="TLS certificate expiry"),
    Alert("RedisTlsCertificateExpiring", promql("${left} < ${seconds}", left=CERT_LEFT,
                                                seconds=cert.CRITICAL_DAYS * cert.DAY), "10m", "critical",
          "A Redis TLS certificate expires within 7 days.",
          "Certificate {{ $labels.certificate }} expires in {{ $value | humanizeDuration }}: after that every "
          "TLS connection to Redis or scrape of the exporter fails; renew now.",
          check="TLS certificate expiry"),
    Alert("RedisContainerMemoryNearLimit",
          promql('100 * max by (namespace, pod) (container_memory_working_set_bytes{${namespace},container="redis"})'
                 ' / max by (namespace, pod) (kube_pod_container_resource_limits{${namespace},container="redis",'
                 'resource="memory"} > 0) > ${container_memory_percent_warning}'),
          "5m", "warning", "Redis container close to its memory limit.",
          "Redis pod {{ $labels.pod }} working set is {{ $value | humanize }}% of its limit; the OOM killer is next."),
    Alert("RedisRejectedConnections", promql("increase(redis_rejected_connections_total{${store}}[5m]) > 0"), "1m",
          "warning", "Redis rejects connections.",
          "Redis {{ $labels.instance }} rejected {{ $value }} connections in 5m (maxclients)."),
    Alert("RedisTooManyConnections", promql("redis_connected_clients{${store}} > ${connected_clients_high}"), "5m",
          "warning", "Too many Redis client connections.",
          "Redis {{ $labels.instance }} has {{ $value }} clients (threshold ${connected_clients_high}); check WAS pools.",
          panel="Connected clients"),
    Alert("RedisFragmentationHigh", promql("${ratio} > ${fragmentation_warning}", ratio=FRAGMENTATION), "15m",
          "warning", "Redis memory fragmentation high.",
          FRAGMENTATION_WHY + " (normal 1.0-${fragmentation_warning}).", panel="Fragmentation", check="fragmentation"),
    Alert("RedisFragmentationHigh", promql("${ratio} >= ${fragmentation_critical}", ratio=FRAGMENTATION), "15m",
          "critical", "Redis memory fragmentation critical.",
          FRAGMENTATION_WHY + " >= ${fragmentation_critical}: restart Redis (rolling, replicas first) or enable "
          "activedefrag.", panel="Fragmentation", check="fragmentation"),
)

SENTINEL_ALERTS = (
    # Only about reachable Redis nodes (Sentinels report role=""): when no node can be
    # scraped, that is RedisDown (redis_up 0) or RedisExporterDown (scrape fails), never
    # a lost master; the sentinel-exporter's redis_up series do not count.
    Alert("RedisNoMaster", promql('count(redis_instance_info{${store},role="slave"})'
                                  ' unless on() redis_instance_info{${store},role="master"}'), "1m", "critical",
          "No Redis master.",
          "No reachable Redis node in ${namespace_name} is master ({{ $value }} reachable, all replicas): "
          "writes fail until Sentinel elects one.", _sentinel),
    Alert("RedisMultipleMasters", promql('count(redis_instance_info{${store},role="master"}) > 1'), "1m", "critical",
          "More than one Redis master (split brain).",
          "{{ $value }} instances report role=master in ${namespace_name}; sessions may be written to a lost master.",
          _sentinel),
    Alert("RedisReplicasDisconnected",
          promql('max(redis_connected_slaves{${store}} and on(instance) redis_instance_info{${store},role="master"})'
                 " < ${replicas}"), "2m", "warning", "Redis master has fewer replicas than deployed.",
          "The master has {{ $value }} connected replicas, expected ${replicas}: a failover may lose data.",
          _sentinel),
    Alert("RedisReplicationLinkDown", promql("redis_master_link_up{${store}} == 0"), "1m", "warning",
          "Replica lost its master link.",
          "Replica {{ $labels.instance }} is not replicating from the master.", _sentinel),
)

WAS_ALERTS = (
    Alert("WasPodsBelowMinimum", promql("${ready}{${app}} < ${min_replicas}", ready=rec.WAS_READY), "5m", "warning",
          "WAS has fewer ready pods than its HPA minimum.",
          "App ${app_name} has {{ $value }} ready pods, minimum ${min_replicas}.", per_app=True,
          panel="Ready pods", check="ready pods"),
    Alert("WasJvmHeapHigh", promql("${heap}{${namespace}} > ${jvm_heap_percent_warning}", heap=rec.JVM_HEAP_PERCENT),
          "10m", "warning", "WAS JVM heap nearly full.",
          "Pod {{ $labels.pod }} of app {{ $labels.app }} uses {{ $value | humanize }}% of its JVM heap "
          "(pools with max=-1 excluded).", panel="JVM heap %", check="JVM heap (max pod)"),
    # The seed's first incident: Spring Session replaces the container's HttpSession, so a
    # Tomcat session means Spring Session is not active (image without it, or an app that
    # ignores the config): with 2+ pods users loop through logins.
    Alert("WasSessionsNotInRedis", promql("${tomcat}{${namespace}} > 0", tomcat=rec.TOMCAT_SESSIONS), "5m",
          "critical", "App keeps HTTP sessions in the servlet container, not in Redis (login loop).",
          "App {{ $labels.app }} holds {{ $value }} sessions in Tomcat's own memory: Spring Session is not active, "
          "every pod has its own sessions and users are logged out when they reach another pod.",
          panel="Sessions in Tomcat (login loop if > 0)", check="Tomcat sessions"),
    # Serves traffic while its Redis count stays at 0 (and not the Tomcat case above, nor a
    # failed count: the count must exist and be 0): sessions go somewhere else, e.g. another
    # DB or key namespace (@EnableRedisHttpSession overrides the Boot properties).
    Alert("WasNoSessionsInRedis",
          promql("${requests}{${namespace}} > 0 and on(namespace, app) ${sessions}{${store}} == 0"
                 " unless on(namespace, app) ${tomcat}{${namespace}} > 0",
                 requests=rec.HTTP_REQUESTS, sessions=RECORD, tomcat=rec.TOMCAT_SESSIONS), "15m", "warning",
          "App serves traffic but has no session in Redis.",
          "App {{ $labels.app }} serves {{ $value | humanize }} requests/s while its Redis session count is 0: "
          "its sessions are not where the platform counts them (or it never creates one).",
          panel="Requests/s (actuator excluded)"),
    # The image without micrometer-registry-prometheus: /actuator/prometheus is 404 (up 0),
    # or no target at all (PodMonitor not selected). Only for ready pods: pods that do not
    # start are WasPodsBelowMinimum.
    Alert("WasMetricsNotScraped",
          promql("${ready}{${namespace}} > 0 unless on(namespace, app) ${scraped}{${namespace}} > 0",
                 ready=rec.WAS_READY, scraped=rec.WAS_METRICS_UP),
          "10m", "warning", "App's /actuator/prometheus is not scraped.",
          "App {{ $labels.app }} has {{ $value }} ready pods but Prometheus scrapes metrics from none of them: "
          "the image lacks micrometer-registry-prometheus (404), or the PodMonitor is not selected. "
          "Login-loop detection is blind for this app.", panel="Pods scraped", check="metrics scraped"),
)


def template_literal(text: str) -> str:
    """`text` as Go template source that prints exactly `text`. Only `{{` opens an action
    (text/template: leftDelim), so text without it is literal; otherwise it becomes one
    action printing a Go string constant (JSON string escapes are valid Go escapes)."""
    return text if "{{" not in text else "{{ " + json.dumps(text, ensure_ascii=False) + " }}"


def _render(alert: Alert, s: Scope, app: WasAppSettings | None = None) -> dict:
    values = s.values(app)
    labels = {"severity": alert.severity, "namespace": s.namespace}
    if app is not None:
        labels["app"] = app.name
    return {
        "alert": alert.name,
        "expr": alert.expr.render(values),
        "for": alert.for_,
        "labels": labels,
        "annotations": {
            "summary": alert.summary,
            "description": Promql(alert.description).render({**values, "namespace_name": template_literal(s.namespace)}),
            "runbook_url": template_literal(f"{s.runbook_base_url}#{alert.name.lower()}"),
        },
    }


def all_alerts(s: Scope) -> list[Alert]:
    """The alerts this stack needs (one entry per tier)."""
    return [a for a in REDIS_ALERTS + SENTINEL_ALERTS + WAS_ALERTS if a.when(s)]


def _rules(alert: Alert, s: Scope) -> list[dict]:
    return [_render(alert, s, app) for app in s.apps] if alert.per_app else [_render(alert, s)]


def alert_rules(s: Scope) -> list[dict]:
    """Every alerting rule of the stack as a PrometheusRule rule dict (alert, expr, for,
    labels severity + namespace (+ app), annotations summary/description/runbook_url)."""
    return [r for a in all_alerts(s) for r in _rules(a, s)]


def rule_groups(s: Scope) -> list[dict]:
    """PrometheusRule `spec.groups`: recording rules (sessions, then the shared records),
    then alerts by subject."""
    by_group: dict[str, list[dict]] = {"redis": [], "sentinel": [], "was": []}
    for alert in all_alerts(s):
        group = "was" if alert in WAS_ALERTS else "sentinel" if alert in SENTINEL_ALERTS else "redis"
        by_group[group] += _rules(alert, s)
    groups = [{"name": f"{names.PART_OF}.sessions", "rules": session_rules(stores_for(s.apps), s.values())},
              {"name": f"{names.PART_OF}.records", "rules": recording_rules(s)}]
    groups += [{"name": f"{names.PART_OF}.{g}", "rules": rules} for g, rules in by_group.items() if rules]
    return groups
