"""Alert rules as data, in the style of the kube-prometheus mixins.

One alert name per condition. Where a condition has degrees, the name has one rule per
`severity` tier (warning, critical), and Alertmanager's inhibit rules (components/monitoring/routing.py)
let the critical one silence the warning one, so a condition pages once.

Each rule is an `Alert`; expressions are templates filled from one place, the Scope:
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
from ..config.model import WasAppSettings
from ..config.sessions import stores_for
from . import certificates as cert
from . import records as rec
from .records import recording_rules
from .scope import Scope
from .session_count import COUNT_FAILED, RECORD, STORE_MISMATCH
from .session_count import recording_rules as session_rules

SEVERITIES = ("critical", "warning", "info")


def _always(s: Scope) -> bool:
    return True


@dataclass(frozen=True)
class Alert:
    """One alerting rule (one tier of a condition)."""

    name: str
    """Alert name (CamelCase), one per condition; its runbook anchor is the lower-cased name."""
    expr: str
    """PromQL template: {ns} = the store's label matchers, {nsa} = the namespace's, {t} = Thresholds,
    {app} = the app (per_app rules, a WasAppSettings)."""
    for_: str
    """How long the condition must hold."""
    severity: str
    """critical | warning | info (one rule per tier, same name)."""
    summary: str
    """One line."""
    description: str
    """Alertmanager template; shows the value and the instance or app."""
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


MEMORY = rec.REDIS_MEMORY_PERCENT + "{{{ns}}}"
FRAGMENTATION = rec.REDIS_FRAGMENTATION + "{{{ns}}}"
CERT_LEFT = "min by (namespace, job, certificate) (" + cert.RECORD + "{{{ns}}}) - time()"
FRAGMENTATION_WHY = "Redis {{ $labels.instance }} fragmentation ratio {{ $value }}"

REDIS_ALERTS = (
    Alert("RedisDown", "redis_up{{{ns}}} == 0", "1m", "critical",
          "Redis instance is down.",
          "Redis {{ $labels.instance }} in {{ $labels.namespace }} is unreachable (redis_up={{ $value }}); "
          "sessions cannot be read or written.", panel="Redis up", check="redis_up"),
    Alert("RedisExporterDown", "up{{{ns}}} == 0", "2m", "warning",
          "redis_exporter cannot be scraped.",
          "Prometheus cannot scrape redis_exporter for {{ $labels.instance }}: Redis is not monitored."),
    Alert("RedisMetricsAbsent", "absent(redis_up{{{ns}}})", "5m", "warning",
          "No Redis metrics reach Prometheus.",
          "No redis_up series for namespace {{ $labels.namespace }} for 5m: exporter gone, or the "
          "ServiceMonitor lost its release label (empty dashboard).", check="redis_up"),
    Alert("HighSessionCount", RECORD + "{{{ns}}} > {t.sessions_high}", "5m", "warning",
          "Many live sessions.",
          "{{ $value }} live sessions for app {{ $labels.app }} (threshold {t.sessions_high}); check Redis memory.",
          panel="Active sessions", check="sessions"),
    # The count is withheld or missing: HighSessionCount and the dashboard are blind for the app.
    Alert("SessionCountFailed", COUNT_FAILED + "{{{ns}}} == 1", "5m", "warning",
          "An app's sessions cannot be counted.",
          "The live-session count of app {{ $labels.app }} failed (counting scrape failed or timed out, or the "
          "store check could not read its DB): HighSessionCount is blind for it.",
          panel="Apps not counted", check="session count"),
    Alert("SessionStoreMismatch", STORE_MISMATCH + "{{{ns}}} == 1", "5m", "warning",
          "An app's session DB does not hold what its config declares.",
          "The Redis DB of app {{ $labels.app }} holds keys its config does not declare (another namespace, "
          "another repository type or expiration store, or a sorted set under Spring's DEFAULT_NAMESPACE): "
          "its session count is withheld.", panel="Apps not counted", check="session count"),
    Alert("RedisEvictionDetected", "rate(redis_evicted_keys_total{{{ns}}}[5m]) > 0", "1m", "warning",
          "Redis is evicting keys: users are being logged out.",
          "Redis {{ $labels.instance }} evicts {{ $value }} keys/s at maxmemory; every evicted session is a "
          "logged-out user. Raise redisMaxmemory.", panel="Evictions/s (each one logs a user out)",
          check="evictions (24h)"),
    Alert("RedisMemoryHigh", MEMORY + " > {t.memory_used_percent_warning}", "5m", "warning",
          "Redis memory close to maxmemory.",
          "Redis {{ $labels.instance }} uses {{ $value | humanize }}% of maxmemory; evictions start at 100%.",
          panel="Memory used (% of maxmemory)", check="memory used"),
    Alert("RedisMemoryHigh", MEMORY + " > {t.memory_used_percent_critical}", "2m", "critical",
          "Redis memory about to hit maxmemory.",
          "Redis {{ $labels.instance }} uses {{ $value | humanize }}% of maxmemory; sessions will be evicted.",
          panel="Memory used (% of maxmemory)", check="memory used"),
    Alert("RedisTlsCertificateExpiring", CERT_LEFT + f" < {cert.WARNING_DAYS * cert.DAY}", "10m", "warning",
          "A Redis TLS certificate expires within 30 days.",
          "Certificate {{ $labels.certificate }} expires in {{ $value | humanizeDuration }}: run pulumi up "
          "(it renews leaves in their last 30 days) and check the CA's validity.",
          check="TLS certificate expiry"),
    Alert("RedisTlsCertificateExpiring", CERT_LEFT + f" < {cert.CRITICAL_DAYS * cert.DAY}", "10m", "critical",
          "A Redis TLS certificate expires within 7 days.",
          "Certificate {{ $labels.certificate }} expires in {{ $value | humanizeDuration }}: after that every "
          "TLS connection to Redis or scrape of the exporter fails; renew now.",
          check="TLS certificate expiry"),
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
          "Redis {{ $labels.instance }} has {{ $value }} clients (threshold {t.connected_clients_high}); check WAS pools.",
          panel="Connected clients"),
    Alert("RedisFragmentationHigh", FRAGMENTATION + " > {t.fragmentation_warning}", "15m", "warning",
          "Redis memory fragmentation high.",
          FRAGMENTATION_WHY + " (normal 1.0-{t.fragmentation_warning}).", panel="Fragmentation", check="fragmentation"),
    Alert("RedisFragmentationHigh", FRAGMENTATION + " >= {t.fragmentation_critical}", "15m", "critical",
          "Redis memory fragmentation critical.",
          FRAGMENTATION_WHY + " >= {t.fragmentation_critical}: restart Redis (rolling, replicas first) or enable "
          "activedefrag.", panel="Fragmentation", check="fragmentation"),
)

SENTINEL_ALERTS = (
    # Only about reachable Redis nodes (Sentinels report role=""): when no node can be
    # scraped, that is RedisDown (redis_up 0) or RedisExporterDown (scrape fails), never
    # a lost master; the sentinel-exporter's redis_up series do not count.
    Alert("RedisNoMaster", 'count(redis_instance_info{{{ns},role="slave"}})'
          ' unless on() redis_instance_info{{{ns},role="master"}}', "1m", "critical",
          "No Redis master.",
          "No reachable Redis node in {namespace} is master ({{ $value }} reachable, all replicas): "
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

WAS_ALERTS = (
    Alert("WasPodsBelowMinimum", rec.WAS_READY + '{{{nsa},app="{app.name}"}} < {app.min_replicas}', "5m", "warning",
          "WAS has fewer ready pods than its HPA minimum.",
          "App {app.name} has {{ $value }} ready pods, minimum {app.min_replicas}.", per_app=True,
          panel="Ready pods", check="ready pods"),
    Alert("WasJvmHeapHigh", rec.JVM_HEAP_PERCENT + "{{{nsa}}} > {t.jvm_heap_percent_warning}", "10m", "warning",
          "WAS JVM heap nearly full.",
          "Pod {{ $labels.pod }} of app {{ $labels.app }} uses {{ $value | humanize }}% of its JVM heap "
          "(pools with max=-1 excluded).", panel="JVM heap %", check="JVM heap (max pod)"),
    # The seed's first incident: Spring Session replaces the container's HttpSession, so a
    # Tomcat session means Spring Session is not active (image without it, or an app that
    # ignores the config): with 2+ pods users loop through logins.
    Alert("WasSessionsNotInRedis", rec.TOMCAT_SESSIONS + "{{{nsa}}} > 0", "5m", "critical",
          "App keeps HTTP sessions in the servlet container, not in Redis (login loop).",
          "App {{ $labels.app }} holds {{ $value }} sessions in Tomcat's own memory: Spring Session is not active, "
          "every pod has its own sessions and users are logged out when they reach another pod.",
          panel="Sessions in Tomcat (login loop if > 0)", check="Tomcat sessions"),
    # Serves traffic while its Redis count stays at 0 (and not the Tomcat case above, nor a
    # failed count: the count must exist and be 0): sessions go somewhere else, e.g. another
    # DB or key namespace (@EnableRedisHttpSession overrides the Boot properties).
    Alert("WasNoSessionsInRedis",
          rec.HTTP_REQUESTS + "{{{nsa}}} > 0 and on(namespace, app) " + RECORD + "{{{ns}}} == 0"
          " unless on(namespace, app) " + rec.TOMCAT_SESSIONS + "{{{nsa}}} > 0", "15m", "warning",
          "App serves traffic but has no session in Redis.",
          "App {{ $labels.app }} serves {{ $value | humanize }} requests/s while its Redis session count is 0: "
          "its sessions are not where the platform counts them (or it never creates one).",
          panel="Requests/s (actuator excluded)"),
    # The image without micrometer-registry-prometheus: /actuator/prometheus is 404 (up 0),
    # or no target at all (PodMonitor not selected). Only for ready pods: pods that do not
    # start are WasPodsBelowMinimum.
    Alert("WasMetricsNotScraped",
          rec.WAS_READY + "{{{nsa}}} > 0 unless on(namespace, app) " + rec.WAS_METRICS_UP + "{{{nsa}}} > 0",
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
    fill = dict(ns=s.selector, nsa=s.namespace_selector, t=s.thresholds,
                namespace=template_literal(s.namespace), replicas=s.redis_nodes - 1, app=app)
    labels = {"severity": alert.severity, "namespace": s.namespace}
    if app is not None:
        labels["app"] = app.name
    return {
        "alert": alert.name,
        "expr": alert.expr.format(**fill),
        "for": alert.for_,
        "labels": labels,
        "annotations": {
            "summary": alert.summary,
            "description": alert.description.replace("{{", "\0").replace("}}", "\1").format(**fill)
            .replace("\0", "{{").replace("\1", "}}"),
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
    groups = [{"name": f"{names.PART_OF}.sessions", "rules": session_rules(stores_for(s.apps), s.selector)},
              {"name": f"{names.PART_OF}.records", "rules": recording_rules(s)}]
    groups += [{"name": f"{names.PART_OF}.{g}", "rules": rules} for g, rules in by_group.items() if rules]
    return groups


def find(groups: list[dict], alert: str, severity: str | None = None) -> dict | None:
    """The rendered rule of an alert (first match; of that tier if given), for tests and tools."""
    return next((r for g in groups for r in g["rules"] if r.get("alert") == alert
                 and severity in (None, r["labels"]["severity"])), None)
