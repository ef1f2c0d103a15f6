"""What the alerts, the dashboard and the checklist watch: one Redis store (found by its
exporter's `job` label) and the WAS apps whose sessions it holds, in one namespace.
Built once from the stack settings; the monitoring components take only this."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import names
from ..config.model import StackSettings, WasAppSettings
from ..config.schema import Thresholds


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
    apps: tuple[WasAppSettings, ...]
    """The WAS apps using the store."""
    thresholds: Thresholds
    """Alert, dashboard and checklist thresholds."""
    runbook_base_url: str
    """docs/runbooks.md as published; alerts link `<url>#<alert lower case>`."""
    title: str
    """Names the dashboard (its title and uid): the stack, or a store in a multi-store program."""

    @property
    def selector(self) -> str:
        """Label matchers (no braces) selecting the store's exporter series."""
        return f'namespace="{self.namespace}",job="{self.job}"'

    @property
    def namespace_selector(self) -> str:
        """Label matchers (no braces) selecting everything in the namespace (WAS, kube metrics)."""
        return f'namespace="{self.namespace}"'

    def metrics_job(self, app: str) -> str:
        """`job` label of an app's /actuator/prometheus series (its PodMonitor's target)."""
        return names.pod_monitor_job(self.namespace, app)


def scope_of(s: StackSettings, title: str | None = None) -> Scope:
    """The stack's one store and its apps."""
    return Scope(
        namespace=s.namespace,
        job=names.exporter(s.redis.release_name),
        topology=s.redis.topology,
        redis_nodes=s.redis.sentinel.nodes if s.redis.sentinel else 1,
        maxmemory_bytes=s.redis.maxmemory_bytes,
        # By name: reordering wasApps changes no rule, panel or script (render/impact.py).
        apps=tuple(sorted(s.was_apps, key=lambda a: a.name)),
        thresholds=s.monitoring.thresholds,
        runbook_base_url=s.monitoring.runbook_base_url,
        title=title or s.stack,
    )
