"""Grafana "Dashboard 007" as data: rows of panel specs, built with grafana-foundation-sdk.

Thresholds come from the same `Thresholds` object as the alerts; derived quantities from
the same recording rules (components/monitoring/records.py, components/monitoring/session_count.py), which fix
the seed's errors: sessions from the exact count (not `redis_db_keys`), memory % guarded
for maxmemory = 0, fragmentation not judged below 10 MB, container memory as working set,
JVM heap from Micrometer's real metric names with max = -1 pools excluded, WAS pods from
kube-prometheus's workload rule (not a pod-name regex).

Adding a panel is one PanelSpec in `rows()`; an alert names its panel (Alert.panel).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as gm

from ..config import names
from . import records as rec
from .promql import Promql, matchers, promql
from .records import FRAGMENTATION_MIN_USED_BYTES, MIB
from .scope import Scope
from .session_count import COUNT_FAILED, RECORD, STORE_MISMATCH

DATASOURCE = gm.DataSourceRef(type_val="prometheus", uid="${datasource}")


def variables(namespace: str = "$namespace", job: str = "$job", instance: str = "$instance",
              rate_interval: str = "$__rate_interval") -> dict[str, object]:
    """What a panel's `Promql` reads: `store` (the store's exporter series), `instances` (those
    of the instances picked), `namespace` (everything in the namespace), `rate_interval`.
    The defaults are the dashboard's variables (what the board holds); values given are what
    Grafana sends in their place (the `instance` picker's "All" is `.*`)."""
    store = matchers(namespace=namespace, job=job)
    return {"store": store, "instances": store + "," + f'instance=~"{instance}"',
            "namespace": matchers(namespace=namespace), "rate_interval": rate_interval}


SESSIONS_HOW = ("Live Spring Sessions (not expired, not logged out), counted on the master "
                "(components/monitoring/session_count.py). method=zcard (sorted-set store): ZCARD at every scrape, high by the "
                "expired sessions Spring has not removed yet (a few per thousand, docs/benchmarks.md). "
                "method=scan (default repository, indexed with minute sets): a SCAN every 60 s by the exporter pod's "
                "session counter, exact as of its "
                "end; sessions created or ended while it runs may or may not be in it (measured bound in "
                "docs/benchmarks.md).")


@dataclass(frozen=True)
class PanelSpec:
    """One panel."""

    title: str
    """Panel title."""
    kind: str
    """`stat` or `timeseries`."""
    expr: Promql
    """PromQL, rendered with `variables()` (`${store}`, `${instances}`, `${namespace}`,
    `${rate_interval}`)."""
    unit: str = "short"
    """Grafana unit id."""
    steps: tuple = ()
    """Threshold steps after the base: ((value, color), ...)."""
    base_color: str = "green"
    """Colour below the first step."""
    legend: str = ""
    """Legend format (timeseries; stat panels with one value per app)."""
    no_value: str = ""
    """What a stat shows when the query returns nothing ("" = Grafana's "No data")."""
    description: str = ""
    """Panel description (Grafana's (i) tooltip)."""


@dataclass(frozen=True)
class RowSpec:
    """A row and its panels."""

    title: str
    """Row title."""
    panels: tuple[PanelSpec, ...] = field(default_factory=tuple)
    """Panels, left to right."""


def rows(s: Scope) -> list[RowSpec]:
    """The rows of Dashboard 007 for a store and its apps: the seed's four, then the login loop."""
    t = s.thresholds
    pods = promql("${pods}{${namespace}}", pods=rec.WAS_POD)
    return [
        RowSpec("Redis status", (
            PanelSpec("Redis up", "stat", promql("min(redis_up{${instances}})"), "none", ((1, "green"),), "red"),
            PanelSpec("Active sessions", "stat", promql("sum(${sessions}{${store}})", sessions=RECORD), "short",
                      ((t.sessions_high, "orange"),), description=SESSIONS_HOW),
            PanelSpec("Apps not counted", "stat",
                      promql("count(${failed}{${store}} == 1 or ${mismatch}{${store}} == 1) or vector(0)",
                             failed=COUNT_FAILED, mismatch=STORE_MISMATCH), "none",
                      ((1, "red"),), description="Apps whose session count failed (SessionCountFailed) or whose "
                      "Redis DB does not match their config (SessionStoreMismatch); their sessions are missing "
                      "from Active sessions."),
            PanelSpec("Connected clients", "stat", promql("sum(redis_connected_clients{${instances}})"), "short",
                      ((t.connected_clients_high, "orange"),)),
            PanelSpec("Memory used (% of maxmemory)", "stat",
                      promql("max(${memory}{${instances}})", memory=rec.REDIS_MEMORY_PERCENT), "percent",
                      ((t.memory_used_percent_warning, "orange"), (t.memory_used_percent_critical, "red"))),
            PanelSpec("Fragmentation", "stat",
                      promql("max(${fragmentation}{${instances}})", fragmentation=rec.REDIS_FRAGMENTATION), "none",
                      ((t.fragmentation_warning, "orange"), (t.fragmentation_critical, "red")),
                      no_value=f"not judged (< {FRAGMENTATION_MIN_USED_BYTES // MIB} MB used)"),
        )),
        RowSpec("Session trends", (
            PanelSpec("Active sessions by app", "timeseries",
                      promql("sum by (app) (${sessions}{${store}})", sessions=RECORD), "short",
                      ((t.sessions_high, "orange"),), legend="{{app}}", description=SESSIONS_HOW),
            PanelSpec("Memory % of maxmemory", "timeseries",
                      promql("${memory}{${instances}}", memory=rec.REDIS_MEMORY_PERCENT), "percent",
                      ((t.memory_used_percent_warning, "orange"), (t.memory_used_percent_critical, "red")),
                      legend="{{instance}}"),
        )),
        RowSpec("Redis performance", (
            PanelSpec("Commands/s", "timeseries",
                      promql("sum by (instance) (rate(redis_commands_processed_total{${instances}}[${rate_interval}]))"),
                      "ops", legend="{{instance}}"),
            PanelSpec("Evictions/s (each one logs a user out)", "timeseries",
                      promql("sum by (instance) (rate(redis_evicted_keys_total{${instances}}[${rate_interval}]))"),
                      "ops", ((0.000001, "red"),), legend="{{instance}}"),
        )),
        RowSpec("WAS pods", (
            PanelSpec("Ready pods", "stat", promql("${ready}{${namespace}}", ready=rec.WAS_READY), "short",
                      legend="{{app}}"),
            PanelSpec("Pods per node", "timeseries",
                      promql("count by (node) (kube_pod_info{${namespace}} * on(namespace, pod) group_left(app) ${pods})",
                             pods=pods), "short", legend="{{node}}"),
            PanelSpec("Container memory (working set)", "timeseries",
                      promql('sum by (app, pod) (container_memory_working_set_bytes{${namespace},container!=""}'
                             " * on(namespace, pod) group_left(app) ${pods})", pods=pods), "bytes",
                      legend="{{app}} {{pod}}"),
            PanelSpec("JVM heap %", "timeseries", promql("${heap}{${namespace}}", heap=rec.JVM_HEAP_PERCENT),
                      "percent", ((t.jvm_heap_percent_warning, "orange"),), legend="{{app}} {{pod}}"),
        )),
        RowSpec("WAS sessions (login loop)", (
            PanelSpec("Sessions in Tomcat (login loop if > 0)", "stat",
                      promql("${tomcat}{${namespace}}", tomcat=rec.TOMCAT_SESSIONS), "short", ((1, "red"),),
                      legend="{{app}}"),
            PanelSpec("Pods scraped", "stat", promql("${scraped}{${namespace}}", scraped=rec.WAS_METRICS_UP), "short",
                      ((1, "green"),), "red", legend="{{app}}", no_value="not scraped"),
            PanelSpec("Requests/s (actuator excluded)", "timeseries",
                      promql("${requests}{${namespace}}", requests=rec.HTTP_REQUESTS), "reqps", legend="{{app}}"),
        )),
    ]


def panel_queries(s: Scope, values: Mapping[str, object] | None = None) -> list[tuple[str, str]]:
    """(panel title, query) for every panel: as the dashboard holds it (Grafana's variables),
    or rendered with `values` (e.g. `variables(<namespace>, <job>, ".*", "1m")`, what Grafana sends)."""
    return [(p.title, p.expr.render(values or variables())) for row in rows(s) for p in row.panels]


def _thresholds(p: PanelSpec) -> gd.ThresholdsConfig:
    steps = [gm.Threshold(value=None, color=p.base_color)] + [gm.Threshold(value=v, color=c) for v, c in p.steps]
    return gd.ThresholdsConfig().mode(gm.ThresholdsMode.ABSOLUTE).steps(steps)


def _panel(p: PanelSpec, width: int, panel_id: int):
    query = prometheus.Dataquery().ref_id("A").expr(p.expr.render(variables())).datasource(DATASOURCE)
    panel: Any
    if p.kind == "stat":
        panel = stat.Panel().height(4)
        query = query.instant()
        if p.legend:
            query = query.legend_format(p.legend)
        if p.no_value:
            panel = panel.no_value(p.no_value)
    else:
        panel = timeseries.Panel().height(8)
        query = query.legend_format(p.legend or "__auto")
    if p.description:
        panel = panel.description(p.description)
    return (panel.id(panel_id).title(p.title).span(width).unit(p.unit).datasource(DATASOURCE)
            .thresholds(_thresholds(p)).with_target(query))


def build(s: Scope) -> dict:
    """The dashboard as a JSON-ready dict."""
    board = (
        gd.Dashboard(f"Dashboard 007 - Redis sessions ({s.title})")
        .uid(names.dashboard_uid(s.title))
        .tags(["redis", "spring-session", "redis-session-platform"])
        .refresh("30s")
        .time("now-6h", "now")
        .with_variable(gd.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(gd.QueryVariable("namespace").label("Namespace").datasource(DATASOURCE)
                       .query("label_values(redis_up, namespace)")
                       .current(gm.VariableOption(text=s.namespace, value=s.namespace))
                       .refresh(gm.VariableRefresh.ON_TIME_RANGE_CHANGED))
        .with_variable(gd.QueryVariable("job").label("Redis store (exporter)").datasource(DATASOURCE)
                       .query('label_values(redis_up{namespace="$namespace"}, job)')
                       .current(gm.VariableOption(text=s.job, value=s.job))
                       .refresh(gm.VariableRefresh.ON_TIME_RANGE_CHANGED))
        .with_variable(gd.QueryVariable("instance").label("Redis instance").datasource(DATASOURCE)
                       .query('label_values(redis_up{namespace="$namespace",job="$job"}, instance)')
                       .multi(True).include_all(True).all_value(".*")
                       .refresh(gm.VariableRefresh.ON_TIME_RANGE_CHANGED))
    )
    # Explicit ids, rows included: the SDK leaves them unset (rows all 0), and Grafana
    # links (viewPanel=, alerts' panelId) need stable unique ones.
    panel_id = 0
    for row in rows(s):
        panel_id += 1
        board = board.with_row(gd.Row(row.title).id(panel_id))
        n = len(row.panels)
        for i, p in enumerate(row.panels):  # fill the 24 columns: 5 panels -> 5,5,5,5,4
            panel_id += 1
            board = board.with_panel(_panel(p, 24 // n + (1 if i < 24 % n else 0), panel_id))
    return json.loads(JSONEncoder(sort_keys=True).encode(board.build()))


def dashboard_json(s: Scope, indent: int | None = None) -> str:
    """Serialized dashboard for the ConfigMap."""
    return json.dumps(build(s), sort_keys=True, indent=indent)
