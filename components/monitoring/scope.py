"""What the alerts, the dashboard and the checklist watch: one Redis store (found by its
exporter's `job` label) and the WAS apps whose sessions it holds, in one namespace.
Built once from the stack settings; the monitoring components take only this."""
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..config import names
from ..config.app import WasAppSettings
from ..config.schema import StackSettings, Thresholds
from .promql import matchers
from .session_count import selectors


@dataclass(frozen=True)
class Scope:
    """One store and its apps, as monitoring sees them."""

    namespace: str
    """Namespace of the store, its exporter and its apps (every series carries it)."""
    job: str
    """The exporter's Service name: the `job` label kube-prometheus gives its series."""
    topology: str
    """`standalone` or `sentinel`."""
    redis_nodes: int
    """Redis nodes (1, or the Sentinel topology's node count)."""
    maxmemory_bytes: int
    """Redis maxmemory."""
    apps: Sequence[WasAppSettings]
    """The WAS apps using the store."""
    threshold_values: Mapping[str, float]
    """Alert, dashboard and checklist thresholds: the stack's `thresholds` object (camelCase keys, README
    table); keys left out take their defaults."""
    runbook_base_url: str
    """docs/runbooks.md as published; alerts link `<url>#<alert lower case>`."""
    title: str
    """Names the dashboard (its title and uid): the stack, or a store in a multi-store program."""

    def __post_init__(self) -> None:
        Thresholds.model_validate(self.threshold_values, strict=False)  # a bad key or value stops here

    @property
    def thresholds(self) -> Thresholds:
        """`threshold_values`, validated by the stack config's own model (defaults, bounds, order).
        A whole number keeps the type it was given (`80`, not `80.0`, in the rules and panels)."""
        valid = Thresholds.model_validate(self.threshold_values, strict=False)
        given = {f: self.threshold_values[info.alias or f] for f, info in Thresholds.model_fields.items()
                 if info.alias in self.threshold_values}
        return valid.model_copy(update={f: v for f, v in given.items() if type(v) is int and v == getattr(valid, f)})

    @property
    def store_labels(self) -> dict[str, str]:
        """The labels every series of the store's exporter carries (namespace, job)."""
        return {"namespace": self.namespace, "job": self.job}

    @property
    def selector(self) -> str:
        """Label matchers (no braces) selecting the store's exporter series."""
        return matchers(**self.store_labels)

    @property
    def namespace_selector(self) -> str:
        """Label matchers (no braces) selecting everything in the namespace (WAS, kube metrics)."""
        return matchers(namespace=self.namespace)

    def metrics_job(self, app: str) -> str:
        """`job` label of an app's /actuator/prometheus series (its PodMonitor's target)."""
        return names.pod_monitor_job(self.namespace, app)

    def values(self, app: WasAppSettings | None = None) -> dict[str, object]:
        """What a `Promql` template (monitoring/promql.py) reads in the Prometheus rules and
        the checklist: `store` (the store's exporter series), `namespace` (everything in the namespace), every
        `Thresholds` field by name, `replicas` (Redis nodes - 1); with an app also `app` (its
        series: namespace and app label), `app_name`, `min_replicas` and `metrics_job`."""
        t = self.thresholds
        values: dict[str, object] = {
            **selectors(self.job, self.namespace), "namespace": self.namespace_selector, "replicas": self.redis_nodes - 1,
            **{field: getattr(t, field) for field in type(t).model_fields}}
        if app is not None:
            values |= {"app": matchers(namespace=self.namespace, app=app.name), "app_name": app.name,
                       "min_replicas": app.min_replicas, "metrics_job": self.metrics_job(app.name)}
        return values


def scope_of(s: StackSettings, title: str | None = None) -> Scope:
    """The stack's one store and its apps."""
    return Scope(
        namespace=s.namespace,
        job=names.exporter(s.redis.release_name),
        topology=s.redis.topology,
        redis_nodes=s.redis.sentinel.nodes if s.redis.sentinel_topology else 1,
        maxmemory_bytes=s.redis.maxmemory_bytes,
        # By name: reordering wasApps changes no rule, panel or script (render/impact.py).
        apps=tuple(sorted(s.was_apps, key=lambda a: a.name)),
        threshold_values=s.thresholds.model_dump(by_alias=True),
        runbook_base_url=s.runbook_base_url,
        title=title or s.stack,
    )
