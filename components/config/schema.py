"""The stack config, declared once: every key with its type, default, bounds and
description. Everything else is generated from or checked against these models:

- the `config:` block of Pulumi.yaml and the README table (scripts/generate.py; a test
  fails when either is stale);
- the "allowed" text of every error message (components/config/config.py);
- the parse itself (pydantic v2, strict: a value is never coerced into something else).

Keys are camelCase (the Pulumi config names), attributes snake_case. Cross-field rules
live in the model validators, each raising FieldError naming the key it blames.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, model_validator
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import is_pydantic_dataclass
from pydantic.fields import FieldInfo

from . import boot, cve, sizing, validators, workload
from .app import AS_TEXT, IMAGE, WasAppSettings
from .validators import FieldError, Validator

__all__ = ["FieldError", "WasAppSettings"]


AsText = AS_TEXT
Namespace = Annotated[str, Validator(validators.namespace)]
Label = Annotated[str, Validator(validators.dns1123_label)]
ReleaseName = Annotated[str, Validator(lambda t: validators.dns1035_label(t, max_len=40))]
Memory = Annotated[str, AsText, Validator(validators.memory_bytes)]
Storage = Annotated[str, AsText, Validator(validators.storage_bytes)]
Cpu = Annotated[str, AsText, Validator(validators.cpu_millis)]
RedisMemory = Annotated[str, Validator(validators.redis_memory)]
Duration = Annotated[str, Validator(validators.duration_seconds)]
Image = Annotated[str, Validator(IMAGE.check, IMAGE.allowed)]
Registry = Annotated[str, Validator(validators.registry)]
RepositoryPath = Annotated[str, Validator(validators.repository_path)]
ImageTag = Annotated[str, Validator(validators.image_tag)]
ImageDigest = Annotated[str, Validator(validators.image_digest)]
CveId = Annotated[str, Validator(cve.cve_id)]
ChartRef = Annotated[str, Validator(validators.oci_chart)]
ChartVersion = Annotated[str, Validator(validators.chart_version)]
HttpUrl = Annotated[str, Validator(validators.url)]
SecretHttpsUrl = Annotated[SecretStr, Validator(validators.https_url, secret=True)]


def _storage_class(text: str) -> str:
    return text if text == "" else validators.dns1123_subdomain(text)


def _slack_channel(text: str) -> str:
    import re
    if text and not re.match(r"^[#@]?[a-z0-9][a-z0-9._-]{0,79}$", text):
        raise ValueError("empty, or a Slack channel name such as #alerts (lower-case a-z, 0-9, '.', '_', '-')")
    return text


def _kubernetes_version(text: str) -> str:
    import re
    m = re.match(r"^1\.(\d{2})$", text)
    if not m or int(m.group(1)) < 30:
        raise ValueError("a Kubernetes minor version 1.30 or later, e.g. 1.33 (the preStop sleep action needs 1.30)")
    return text


def _master_set(text: str) -> str:
    import re
    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", text):
        raise ValueError("1-64 characters of A-Z, a-z, 0-9, '-' and '_'")
    return text


def _topology(text: str) -> str:
    if text == "cluster":
        raise ValueError("Redis Cluster is not built (Spring Session uses standalone or sentinel); "
                         "allowed: standalone, sentinel")
    if text not in TOPOLOGIES:
        raise ValueError("one of: standalone, sentinel")
    return text


ACKNOWLEDGEABLE = ("redisTopology", "redisReleaseName", "redisPersistenceSize", "redisStorageClass", "redisTls",
                   "redisPasswordGeneration", "redisDefaultPasswordGeneration", "redisTlsCa", "sentinelMasterSet")


def _acknowledged(text: str) -> str:
    for key in (k.strip() for k in text.split(",") if k.strip()):
        if key not in ACKNOWLEDGEABLE:
            raise ValueError("empty, or comma-separated keys among: " + ", ".join(ACKNOWLEDGEABLE))
    return text


TOPOLOGIES = ("standalone", "sentinel")
StorageClass = Annotated[str, Validator(_storage_class)]
SlackChannel = Annotated[str, Validator(_slack_channel)]
KubernetesVersion = Annotated[str, Validator(_kubernetes_version)]
MasterSet = Annotated[str, Validator(_master_set)]
Topology = Annotated[str, Validator(_topology)]
Percent = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
MaxmemoryPolicy = Literal["noeviction", "volatile-ttl", "volatile-lru", "volatile-lfu", "volatile-random",
                          "allkeys-lru", "allkeys-lfu", "allkeys-random"]

# The smallest memory limit a Redis server starts in.
REDIS_MEMORY_MIN = 64 * 2**20


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, alias_generator=to_camel,
                              validate_by_name=False, validate_by_alias=True, allow_inf_nan=False,
                              use_attribute_docstrings=True)


class Thresholds(_Model):
    """Alert, dashboard and checklist thresholds (one object for all three)."""

    sessions_high: Annotated[int, Field(ge=1, le=10**9)] = 100
    """Live sessions of one app above which HighSessionCount fires (seed checklist: 100)."""
    memory_used_percent_warning: Percent = 80
    """Redis used memory, % of maxmemory: warning."""
    memory_used_percent_critical: Percent = 90
    """Redis used memory, % of maxmemory: critical; above the warning."""
    container_memory_percent_warning: Percent = 90
    """Redis container working set, % of its memory limit: warning."""
    fragmentation_warning: Annotated[float, Field(gt=1, le=100)] = 1.5
    """mem_fragmentation_ratio: warning (seed checklist: 1.5)."""
    fragmentation_critical: Annotated[float, Field(gt=1, le=100)] = 2.0
    """mem_fragmentation_ratio: critical, restart Redis (seed checklist: 2.0); above the warning."""
    connected_clients_high: Annotated[int, Field(ge=1, le=10000)] = 500
    """Redis client connections above which RedisTooManyConnections fires (Redis maxclients: 10000)."""
    jvm_heap_percent_warning: Percent = 85
    """WAS JVM heap used, % of max: warning."""

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        for low, high in (("memory_used_percent_warning", "memory_used_percent_critical"),
                          ("fragmentation_warning", "fragmentation_critical")):
            if getattr(self, low) >= getattr(self, high):
                raise FieldError(to_camel(low), getattr(self, low),
                                 f"must be below {to_camel(high)}={getattr(self, high):g} (the warning fires first)")
        return self


DEFAULT_APPS = (TypeAdapter(WasAppSettings).validate_python({"name": "petclinic",
                                                    "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}),)


class StackConfig(_Model):
    """Every config key of the project (`<project>:<key>`)."""

    namespace: Namespace = "petclinic"
    """Kubernetes namespace for Redis, the exporter and the WAS apps."""
    create_namespace: bool = True
    """Create the namespace (labelled Pod Security "restricted"); false uses an existing one."""
    protect_data: bool = True
    """Pulumi `protect` and `retainOnDelete` on what holds users' data: the Namespace and the Redis
    release (whose StatefulSets keep their volumes). A rename, a createNamespace flip or `pulumi destroy`
    then stops instead of deleting them; deleting is the deliberate step in docs/runbooks.md ("Delete a
    stack's data on purpose"). false (dev) lets Pulumi delete them."""
    kubernetes_version: KubernetesVersion = "1.33"
    """Kubernetes minor version the rendered manifests are validated against."""

    redis_topology: Topology = "standalone"
    """standalone (one master, persistence on) or sentinel (replication + Sentinel HA)."""
    redis_release_name: ReleaseName = "redis"
    """Helm release name and chart fullnameOverride; every Redis object name derives from it."""
    redis_chart: ChartRef = "oci://registry-1.docker.io/bitnamicharts/redis"
    """Bitnami Redis chart reference (OCI, no tag)."""
    redis_chart_version: ChartVersion = "23.1.1"
    """Pinned Bitnami Redis chart version."""
    image_registry: Registry = "docker.io"
    """Registry for the Redis and Sentinel images."""
    redis_image_repository: RepositoryPath = "bitnamilegacy/redis"
    """Redis image repository (Bitnami moved versioned images to bitnamilegacy/*)."""
    redis_image_tag: ImageTag = "8.2.1-debian-12-r0"
    """Redis image tag (pinned, never latest); names the Redis release, which must be at or above the
    known-CVE floor (docs/security.md) unless redisImageAcceptedCves acknowledges what it carries."""
    redis_image_digest: ImageDigest = ""
    """Optional digest (sha256:...) pinning the Redis image's bytes; the chart then pulls by digest."""
    sentinel_image_repository: RepositoryPath = "bitnamilegacy/redis-sentinel"
    """Redis Sentinel image repository."""
    sentinel_image_tag: ImageTag = "8.2.1-debian-12-r0"
    """Redis Sentinel image tag (pinned, never latest); the same known-CVE floor as redisImageTag."""
    sentinel_image_digest: ImageDigest = ""
    """Optional digest (sha256:...) pinning the Sentinel image's bytes."""
    redis_image_accepted_cves: Annotated[tuple[CveId, ...], Field(max_length=len(cve.CVES), strict=False)] = ()
    """Known CVEs the stack knowingly runs with: Redis/Sentinel images below the known-CVE floor are
    refused unless every CVE they carry is listed here (docs/security.md, docs/decisions.md); a CVE no
    deployed image carries is refused too, so the list cannot outlive an upgrade."""
    redis_maxmemory: RedisMemory = "192mb"
    """Redis maxmemory, <n>kb|mb|gb; at most 80% of redisMemory (room for the AOF-rewrite fork)."""
    redis_maxmemory_policy: MaxmemoryPolicy = "volatile-ttl"
    """Redis maxmemory-policy; volatile-ttl evicts the sessions closest to expiry first (docs/decisions.md)."""
    redis_memory: Memory = "256Mi"
    """Redis container memory request and limit, at least 64Mi."""
    redis_cpu_request: Cpu = "100m"
    """Redis container CPU request; at most redisCpuLimit."""
    redis_cpu_limit: Cpu = "1"
    """Redis container CPU limit."""
    redis_persistence_size: Storage = "1Gi"
    """PersistentVolumeClaim size per Redis node; at least twice redisMaxmemory (an AOF rewrite writes
    the new file beside the old one)."""
    redis_storage_class: StorageClass = ""
    """StorageClass for Redis volumes; empty uses the cluster default."""
    sentinel_nodes: Annotated[int, Field(ge=3, le=9)] = 3
    """sentinel topology: Redis nodes, each with a Sentinel; odd, 3..9."""
    sentinel_quorum: Annotated[int, Field(ge=2, le=8)] = 2
    """sentinel topology: Sentinels that must agree the master is down; a majority of sentinelNodes and at
    most sentinelNodes - 1 (the master's pod takes its Sentinel down with it)."""
    sentinel_down_after_ms: Annotated[int, Field(ge=1000, le=600_000)] = 5000
    """sentinel topology: milliseconds without a reply before a node is considered down."""
    sentinel_failover_timeout_ms: Annotated[int, Field(ge=2000, le=3_600_000)] = 60000
    """sentinel topology: failover timeout in milliseconds; above sentinelDownAfterMs."""
    sentinel_master_set: MasterSet = "mymaster"
    """sentinel topology: Sentinel master set name that clients ask for. Fixed once deployed: a
    running Sentinel set cannot take a new name (docs/runbooks.md, "Rename the Sentinel master set")."""
    sentinel_min_replicas_to_write: Annotated[int, Field(ge=0, le=8)] = 1
    """sentinel topology: the master refuses writes unless this many replicas acknowledged within
    sentinelMinReplicasMaxLagSeconds (min-replicas-to-write); bounds the writes an isolated old master
    accepts and then loses. 0 turns it off; at most sentinelNodes - 1."""
    sentinel_min_replicas_max_lag_seconds: Annotated[int, Field(ge=1, le=60)] = 10
    """sentinel topology: min-replicas-max-lag, seconds since a replica's last acknowledgement for it to
    count; about the longest an isolated old master keeps accepting writes."""
    redis_tls: bool = Field(False, description="TLS (mutual) on every Redis and Sentinel port; the program issues "
                            "the CA and certificates (pulumi-tls). Needs springBootMajor "
                            f"{boot.releases(lambda r: r.ssl_bundle_since)} in every WAS app.")
    redis_password_generation: Annotated[int, Field(ge=1, le=10000)] = 1
    """Generation of the Redis ACL passwords the clients (WAS apps, the exporter and its session counter)
    use; raising it issues new passwords (rotation procedure: docs/runbooks.md, "Rotate Redis passwords")."""
    redis_default_password_generation: Annotated[int, Field(ge=1, le=10000)] = 1
    """Generation of the chart-internal `default` password (replication, Sentinel, probes, the acl-reload
    sidecar); it follows the rotation phase of redisPasswordAlsoAccept, and raising it rolls the Redis pods
    (docs/runbooks.md, "Rotate the default password")."""
    acknowledge_change: Annotated[str, Validator(_acknowledged)] = ""
    """For one `pulumi up`: the config key(s) (comma-separated) of a change the program otherwise refuses on
    a running stack (redisTopology, redisReleaseName, redisPersistenceSize, redisStorageClass, redisTls, a
    password generation skipping the `next` phase); set it only after the runbook's steps (docs/runbooks.md,
    "Change a running stack"), remove it after that up."""
    redis_password_also_accept: Literal["none", "next", "previous"] = "none"
    """Rotation phase: Redis also accepts the next generation's passwords (`next`, before clients switch)
    or the previous one's (`previous`, while clients roll); `none` accepts only the current one."""
    expected_peak_sessions: Annotated[int, Field(ge=1, le=100_000_000)] = 10000
    """Peak concurrent sessions the stack must hold without eviction (maxmemory sizing check)."""
    session_payload_bytes: Annotated[int, Field(ge=0, le=1_000_000)] = 2048
    """Typical serialized session attribute bytes per session (maxmemory sizing check)."""

    was_apps: Annotated[tuple[WasAppSettings, ...], Field(min_length=1, max_length=15, strict=False)] = DEFAULT_APPS
    """Spring WAS applications (a list of objects, fields below), 1..15."""
    thresholds: Thresholds = Thresholds()
    """Alert, dashboard and checklist thresholds (an object, fields below); keys given override the
    defaults one by one."""

    dns_egress: workload.DnsEgress = workload.DnsEgress()
    """Where WAS apps and the exporter may send DNS (UDP/TCP 53); an object, fields below. Default: the
    `k8s-app: kube-dns` pods of kube-system (kube-dns and CoreDNS) and NodeLocal DNSCache's 169.254.20.10."""

    prometheus_release: Label = "kube-prometheus"
    """Helm release of kube-prometheus-stack; its `release` label selects ServiceMonitors and rules."""
    prometheus_namespace: Label = "monitoring"
    """Namespace where Prometheus runs (the only namespace allowed to scrape the exporter)."""
    grafana_namespace: Label = "monitoring"
    """Namespace whose Grafana sidecar loads dashboards (ConfigMap label grafana_dashboard=1)."""
    runbook_base_url: HttpUrl = "https://github.com/example/redis-session-platform/blob/main/docs/runbooks.md"
    """Where docs/runbooks.md is published; every alert's runbook_url is this plus an anchor."""
    exporter_image: Image = "docker.io/oliver006/redis_exporter:v1.74.0"
    """redis_exporter image (pinned tag)."""
    slack_channel: SlackChannel = ""
    """Slack channel for alerts; empty means no AlertmanagerConfig is created."""
    slack_webhook_url: SecretHttpsUrl | None = Field(None, json_schema_extra={"pulumi": "secret-optional"})
    """Slack incoming-webhook URL (https), required when slackChannel is set; set it with
    `pulumi config set --secret slackWebhookUrl ...`. Not declared in Pulumi.yaml: Pulumi has no
    optional secret (docs/decisions.md)."""
    slack_send_resolved: bool = True
    """Also notify Slack when an alert resolves."""

    @model_validator(mode="after")
    def _consistent(self) -> StackConfig:
        memory = validators.memory_bytes(self.redis_memory)
        if memory < REDIS_MEMORY_MIN:
            raise FieldError("redisMemory", self.redis_memory, f"at least {validators.mib(REDIS_MEMORY_MIN)}")
        maxmemory = validators.redis_memory(self.redis_maxmemory)
        ceiling = int(memory * sizing.MAXMEMORY_MAX_FRACTION_OF_LIMIT)
        if maxmemory > ceiling:
            raise FieldError("redisMaxmemory", self.redis_maxmemory,
                             f"at most {int(sizing.MAXMEMORY_MAX_FRACTION_OF_LIMIT * 100)}% of redisMemory="
                             f"{self.redis_memory} ({ceiling // 2**20}mb), to leave room for the AOF-rewrite fork")
        if validators.storage_bytes(self.redis_persistence_size) < 2 * maxmemory:
            raise FieldError("redisPersistenceSize", self.redis_persistence_size,
                             f"at least twice redisMaxmemory={self.redis_maxmemory}: an AOF rewrite writes the "
                             "new file beside the old one")
        if validators.cpu_millis(self.redis_cpu_request) > validators.cpu_millis(self.redis_cpu_limit):
            raise FieldError("redisCpuRequest", self.redis_cpu_request, f"at most redisCpuLimit={self.redis_cpu_limit}")
        nodes, quorum = self.sentinel_nodes, self.sentinel_quorum
        if nodes % 2 == 0:
            raise FieldError("sentinelNodes", nodes, "odd (3, 5, 7, 9) so that a majority exists")
        if not nodes // 2 + 1 <= quorum <= nodes - 1:
            low, high = nodes // 2 + 1, nodes - 1
            span = f"{low}..{high}" if low < high else f"exactly {low}"
            raise FieldError("sentinelQuorum", quorum,
                             f"{span}: a majority of sentinelNodes={nodes}, and at most {high} because the "
                             "master's pod takes its own Sentinel down with it")
        if self.sentinel_min_replicas_to_write > nodes - 1:
            raise FieldError("sentinelMinReplicasToWrite", self.sentinel_min_replicas_to_write,
                             f"0..{nodes - 1}: sentinelNodes={nodes} leaves at most {nodes - 1} replicas")
        if self.redis_password_also_accept == "previous" and self.redis_password_generation < 2 \
                and self.redis_default_password_generation < 2:
            raise FieldError("redisPasswordAlsoAccept", "previous",
                             "none or next: redisPasswordGeneration=1 and redisDefaultPasswordGeneration=1 have no "
                             "previous generation")
        if self.sentinel_failover_timeout_ms <= self.sentinel_down_after_ms:

            raise FieldError("sentinelFailoverTimeoutMs", self.sentinel_failover_timeout_ms,
                             f"above sentinelDownAfterMs={self.sentinel_down_after_ms}")
        self._cve_floor()
        if self.slack_channel and self.slack_webhook_url is None:
            raise FieldError("slackWebhookUrl", None, "required when slackChannel is set: "
                             "pulumi config set --secret slackWebhookUrl https://hooks.slack.com/services/...")
        return self


    def _cve_floor(self) -> None:
        accepted = set(self.redis_image_accepted_cves)
        images = [("redisImageTag", self.redis_image_repository, self.redis_image_tag)]
        if self.redis_topology == "sentinel":
            images.append(("sentinelImageTag", self.sentinel_image_repository, self.sentinel_image_tag))
        carried: set[str] = set()
        for key, repository, tag in images:
            why = cve.unpatched(tag)
            if why is None:
                continue
            carried |= set(cve.CVES)
            missing = [c for c in cve.CVES if c not in accepted]
            if missing:
                raise FieldError(key, tag, f"a Redis release at or above the known-CVE floor "
                                 f"({cve.floor_text()}): {repository}:{tag} {why} and carries {', '.join(missing)} "
                                 f"({cve.CVES[missing[0]]}); use a patched image, or acknowledge them in "
                                 "redisImageAcceptedCves (docs/security.md, Known-CVE floor)")
        stale = sorted(accepted - carried)
        if stale:
            raise FieldError("redisImageAcceptedCves", list(self.redis_image_accepted_cves),
                             f"only CVEs a deployed Redis or Sentinel image carries: {', '.join(stale)} "
                             "no longer applies (the images are at or above the floor); remove it")


def pulumi_declared(name: str) -> bool:
    """Whether a StackConfig field is declared in Pulumi.yaml (optional secrets are not)."""
    extra = StackConfig.model_fields[name].json_schema_extra
    return not (isinstance(extra, dict) and extra.get("pulumi") == "secret-optional")


def fields_of(model: type) -> dict[str, FieldInfo]:
    """A config model's fields: a BaseModel's, or a pydantic dataclass's (WasAppSettings)."""
    return model.model_fields if issubclass(model, BaseModel) else model.__pydantic_fields__  # type: ignore[attr-defined]


def is_model(annotation: Any) -> bool:
    """Whether a type is a config model (a BaseModel or a pydantic dataclass)."""
    return isinstance(annotation, type) and (issubclass(annotation, BaseModel) or is_pydantic_dataclass(annotation))


def alias(model: type, name: str) -> str:
    return fields_of(model)[name].alias or name
