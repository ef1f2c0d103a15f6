"""Typed, frozen stack settings, resolved from the validated StackConfig (components/config/schema.py)
by components/config/config.py. Components receive these objects (or their own Args built from them),
never raw config. Defaults and bounds live only in components/config/schema.py."""
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from pydantic import SecretStr, TypeAdapter

from .schema import Thresholds, WasAppSettings

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


@dataclass(frozen=True)
class SentinelSettings:
    """Sentinel HA settings (topology `sentinel` only)."""

    nodes: int
    """Redis nodes, each with a Sentinel container; odd, >= 3."""
    quorum: int
    """Sentinels that must agree a master is down; a majority of `nodes`."""
    down_after_ms: int
    """Milliseconds without a reply before a node is subjectively down."""
    failover_timeout_ms: int
    """Failover timeout in milliseconds."""
    master_set: str
    """Master set name clients ask Sentinel for."""
    min_replicas_to_write: int = 0
    """min-replicas-to-write on every node (0: off)."""
    min_replicas_max_lag: int = 10
    """min-replicas-max-lag, seconds."""


@dataclass(frozen=True)
class RedisSettings:
    """Everything the Redis component needs."""

    topology: str
    """`standalone` or `sentinel`."""
    release_name: str
    """Helm release name == chart fullnameOverride; every Redis object name derives from it."""
    chart: str
    """Chart reference (OCI URL)."""
    chart_version: str
    """Pinned chart version."""
    redis_image: Image
    """Redis server image."""
    sentinel_image: Image
    """Sentinel image (used in `sentinel` topology)."""
    redis_version: Sequence[int]
    """(major, minor) of the Redis image: the rules of redis.acl (components/config/acl.py image_version)."""
    sentinel_version: Sequence[int]
    """(major, minor) of the Sentinel image: the rules of sentinel.acl."""
    maxmemory: str
    """maxmemory as given (normalised lower case), e.g. `192mb`."""
    maxmemory_bytes: int
    """maxmemory in bytes (Redis units: 1mb = 1024*1024)."""
    maxmemory_policy: str
    """maxmemory-policy."""
    resources: Resources
    """Redis container resources; memory request == limit."""
    persistence_size: str
    """PVC size per node."""
    storage_class: str
    """StorageClass; empty = cluster default."""
    keyspace_notifications: bool
    """True when an app uses the indexed repository (needs `notify-keyspace-events Egx`)."""
    sentinel: SentinelSettings | None = None
    """Set iff topology is `sentinel`."""
    tls: bool = False
    """Mutual TLS on every Redis and Sentinel port (certificates from the program)."""
    password_generation: int = 1
    """Generation of the ACL passwords clients use."""
    password_also_accept: str = "none"
    """`none`, `next` or `previous`: the other generation the ACL accepts during a rotation."""
    accepted_cves: Sequence[str] = ()
    """Known CVEs (components/config/cve.py) the stack runs its Redis/Sentinel images with, knowingly."""

    default_password_generation: int = 1
    """Generation of the chart-internal `default` password (same rotation phase)."""

    def __post_init__(self) -> None:
        _frozen(self)

    @property
    def accepted_generations(self) -> tuple[int, ...]:
        """Password generations the ACL accepts, the clients' first."""
        return _accepted(self.password_generation, self.password_also_accept)

    @property
    def accepted_default_generations(self) -> tuple[int, ...]:
        """`default` password generations the ACL accepts, the current one first."""
        return _accepted(self.default_password_generation, self.password_also_accept)


def _frozen(obj: Any) -> None:
    """Lists given for Sequence fields (a provider call passes JSON arrays) become tuples, so the
    settings stay immutable and compare equal whichever way they were built."""
    for f in fields(obj):
        if isinstance(getattr(obj, f.name), list):
            object.__setattr__(obj, f.name, tuple(getattr(obj, f.name)))


def settings_of(kind: type[T], value: T | Mapping[str, Any]) -> T:
    """`value` as a `kind` (a settings dataclass of this module or one that nests them): itself, or
    built and type-checked from the dict a component provider passes (pydantic's TypeAdapter, lax)."""
    return value if isinstance(value, kind) else TypeAdapter(kind).validate_python(value)


def _accepted(g: int, also: str) -> tuple[int, ...]:
    return {"none": (g,), "next": (g, g + 1), "previous": (g, g - 1) if g > 1 else (g,)}[also]


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
