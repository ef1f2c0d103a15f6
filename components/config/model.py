"""The stack's settings as the program holds them after the config is parsed
(components/config/config.py to_settings): the config's own models where a component takes
them (components/config/app.py, store.py), the values derived from them (Image, Resources) and
the containers __main__.py reads (StackSettings, MonitoringSettings). Defaults and bounds live
only in the config models."""
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import SecretStr, TypeAdapter

from .schema import Thresholds, WasAppSettings
from .store import RedisSettings, SentinelSettings

__all__ = ["RedisSettings", "SentinelSettings"]  # their module is components/config/store.py

T = TypeVar("T")


@dataclass(frozen=True)
class Image:
    """A container image split the way Helm charts want it."""

    registry: str
    """Registry host, e.g. docker.io."""
    repository: str
    """Repository path, e.g. bitnamilegacy/redis."""
    tag: str
    """Pinned tag; never empty, never `latest`. Names the release (the known-CVE floor reads it)."""
    digest: str = ""
    """`sha256:...` pinning the bytes, or empty (pulled by tag)."""

    @property
    def ref(self) -> str:
        """registry/repository:tag[@digest]"""
        return f"{self.registry}/{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")

    def chart_values(self) -> dict[str, str]:
        """The Bitnami chart's image block (common.images.image pulls by digest when one is set)."""
        values = {"registry": self.registry, "repository": self.repository, "tag": self.tag}
        return values | ({"digest": self.digest} if self.digest else {})


@dataclass(frozen=True)
class Resources:
    """Container requests and limits (Kubernetes quantities)."""

    cpu_request: str
    """CPU request, e.g. 100m."""
    cpu_limit: str
    """CPU limit."""
    memory_request: str
    """Memory request, e.g. 256Mi."""
    memory_limit: str
    """Memory limit; the OOM killer's line."""

    def to_k8s(self) -> dict:
        """The `resources` block of a container spec."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


def settings_of(kind: type[T], value: T | Mapping[str, Any]) -> T:
    """`value` as a `kind` (a settings dataclass of this module or one that nests them): itself, or
    built and type-checked from the dict a component provider passes (pydantic's TypeAdapter, lax)."""
    return value if isinstance(value, kind) else TypeAdapter(kind).validate_python(value)


@dataclass(frozen=True)
class SlackSettings:
    """Alertmanager → Slack routing; present only when slackChannel is set."""

    channel: str
    """Channel, e.g. #alerts."""
    webhook_url: SecretStr
    """Incoming webhook URL; becomes a secret Output only in the component (never printed)."""
    send_resolved: bool
    """Notify on resolve too."""


@dataclass(frozen=True)
class MonitoringSettings:
    """kube-prometheus integration."""

    prometheus_release: str
    """Value of the `release` label Prometheus selects on."""
    prometheus_namespace: str
    """Namespace of Prometheus (allowed to scrape the exporter)."""
    grafana_namespace: str
    """Namespace where Grafana's sidecar looks for dashboards."""
    exporter_image: str
    """redis_exporter image with pinned tag."""
    thresholds: Thresholds
    """Shared thresholds."""
    runbook_base_url: str
    """URL of docs/runbooks.md; alerts link `<url>#<alert>`."""
    slack: SlackSettings | None
    """Slack routing, or None."""


@dataclass(frozen=True)
class Sizing:
    """Declared load, checked against maxmemory."""

    expected_peak_sessions: int
    """Peak concurrent sessions across all apps."""
    session_payload_bytes: int
    """Typical serialized attribute bytes per session."""


@dataclass(frozen=True)
class StackSettings:
    """The whole stack's settings."""

    project: str
    """Pulumi project name."""
    stack: str
    """Pulumi stack name."""
    namespace: str
    """Kubernetes namespace of everything but the dashboard."""
    create_namespace: bool
    """Create the namespace or use an existing one."""
    protect_data: bool
    """Pulumi protect + retainOnDelete on the Namespace and the Redis release."""
    kubernetes_version: str
    """Kubernetes minor version for validation."""
    redis: RedisSettings
    """Redis."""
    was_apps: tuple["WasAppSettings", ...]
    """WAS applications, at least one (the config's entries: components/config/app.py)."""
    monitoring: MonitoringSettings
    """Monitoring."""
    sizing: Sizing
    """Declared load."""
    dns_egress: tuple[dict, ...] = ()
    """NetworkPolicy egress rules to the cluster DNS (dnsEgress), for every Redis client."""
    acknowledged: tuple[str, ...] = ()
    """Config keys whose one-shot change this `up` is allowed to make (components/config/changes.py)."""
