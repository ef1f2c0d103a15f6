"""The Redis session store's settings, one type (issue 21 item 2): the stack config's `redis*`,
`sentinel*` and `imageRegistry` keys validate straight into `RedisSettings` (with its
`SentinelSettings`), which is the RedisSessionStore component's `settings` input.

The keys stay flat in the stack config (`redisMaxmemory`, `sentinelNodes`): each field's alias
is its config key, and components/config/schema.py StackConfig groups them before validation
(`GROUPS`). Written for Pulumi's component analyzer like components/config/app.py: plain
annotations, `Defaulted[T]` where a default exists, rules as field metadata, Enums for choices.
What derives from the keys (the images split for the chart, their versions, maxmemory in
bytes, container resources) is a property.
"""
import enum
import re
from collections.abc import Sequence

from pydantic import AfterValidator, ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass

from . import acl, boot, cve, sizing, validators
from .app import AS_TEXT, Defaulted
from .model import Image, Resources
from .validators import ConfigModel, Each, FieldError, Validator, ruled

REDIS_MEMORY_MIN = 64 * 2**20
"""The smallest memory limit a Redis server starts in."""
TOPOLOGIES = ("standalone", "sentinel")


class MaxmemoryPolicy(enum.StrEnum):
    """Redis maxmemory-policy."""

    NOEVICTION = "noeviction"
    VOLATILE_TTL = "volatile-ttl"
    VOLATILE_LRU = "volatile-lru"
    VOLATILE_LFU = "volatile-lfu"
    VOLATILE_RANDOM = "volatile-random"
    ALLKEYS_LRU = "allkeys-lru"
    ALLKEYS_LFU = "allkeys-lfu"
    ALLKEYS_RANDOM = "allkeys-random"


class AlsoAccept(enum.StrEnum):
    """The password rotation phase."""

    NONE = "none"
    NEXT = "next"
    PREVIOUS = "previous"


def _topology(text: str) -> str:
    if text == "cluster":
        raise ValueError("Redis Cluster is not built (Spring Session uses standalone or sentinel); "
                         "allowed: standalone, sentinel")
    if text not in TOPOLOGIES:
        raise ValueError("one of: standalone, sentinel")
    return text


def _master_set(text: str) -> str:
    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", text):
        raise ValueError("1-64 characters of A-Z, a-z, 0-9, '-' and '_'")
    return text


def _storage_class(text: str) -> str:
    return text if text == "" else validators.dns1123_subdomain(text)


CONFIG = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, allow_inf_nan=False,
                    use_attribute_docstrings=True, use_enum_values=True)
REPOSITORY = Validator(validators.repository_path)
TAG = Validator(validators.image_tag)
DIGEST = Validator(validators.image_digest)


@dataclass(frozen=True, config=CONFIG)
class SentinelSettings(ConfigModel):
    """Sentinel HA settings (used in topology `sentinel`)."""

    nodes: Defaulted[int] = Field(default=3, ge=3, le=9, alias="sentinelNodes")
    """sentinel topology: Redis nodes, each with a Sentinel; odd, 3..9."""
    quorum: Defaulted[int] = Field(default=2, ge=2, le=8, alias="sentinelQuorum")
    """sentinel topology: Sentinels that must agree the master is down; a majority of sentinelNodes and at
    most sentinelNodes - 1 (the master's pod takes its Sentinel down with it)."""
    down_after_ms: Defaulted[int] = Field(default=5000, ge=1000, le=600_000, alias="sentinelDownAfterMs")
    """sentinel topology: milliseconds without a reply before a node is considered down."""
    failover_timeout_ms: Defaulted[int] = Field(default=60000, ge=2000, le=3_600_000, alias="sentinelFailoverTimeoutMs")
    """sentinel topology: failover timeout in milliseconds; above sentinelDownAfterMs."""
    master_set: Defaulted[str] = ruled("mymaster", Validator(_master_set), alias="sentinelMasterSet")
    """sentinel topology: Sentinel master set name that clients ask for. Fixed once deployed: a
    running Sentinel set cannot take a new name (docs/runbooks.md, "Rename the Sentinel master set")."""
    min_replicas_to_write: Defaulted[int] = Field(default=1, ge=0, le=8, alias="sentinelMinReplicasToWrite")
    """sentinel topology: the master refuses writes unless this many replicas acknowledged within
    sentinelMinReplicasMaxLagSeconds (min-replicas-to-write); bounds the writes an isolated old master
    accepts and then loses. 0 turns it off; at most sentinelNodes - 1."""
    min_replicas_max_lag: Defaulted[int] = Field(default=10, ge=1, le=60, alias="sentinelMinReplicasMaxLagSeconds")
    """sentinel topology: min-replicas-max-lag, seconds since a replica's last acknowledgement for it to
    count; about the longest an isolated old master keeps accepting writes."""
    image_repository: Defaulted[str] = ruled("bitnamilegacy/redis-sentinel", REPOSITORY,
                                             alias="sentinelImageRepository")
    """Redis Sentinel image repository."""
    image_tag: Defaulted[str] = ruled("8.2.1-debian-12-r0", TAG, alias="sentinelImageTag")
    """Redis Sentinel image tag (pinned, never latest); the same known-CVE floor as redisImageTag."""
    image_digest: Defaulted[str] = ruled("", DIGEST, alias="sentinelImageDigest")
    """Optional digest (sha256:...) pinning the Sentinel image's bytes."""

    @model_validator(mode="after")
    def _consistent(self) -> "SentinelSettings":
        nodes, quorum = self.nodes, self.quorum
        if nodes % 2 == 0:
            raise FieldError("sentinelNodes", nodes, "odd (3, 5, 7, 9) so that a majority exists")
        if not nodes // 2 + 1 <= quorum <= nodes - 1:
            low, high = nodes // 2 + 1, nodes - 1
            span = f"{low}..{high}" if low < high else f"exactly {low}"
            raise FieldError("sentinelQuorum", quorum,
                             f"{span}: a majority of sentinelNodes={nodes}, and at most {high} because the "
                             "master's pod takes its own Sentinel down with it")
        if self.min_replicas_to_write > nodes - 1:
            raise FieldError("sentinelMinReplicasToWrite", self.min_replicas_to_write,
                             f"0..{nodes - 1}: sentinelNodes={nodes} leaves at most {nodes - 1} replicas")
        if self.failover_timeout_ms <= self.down_after_ms:
            raise FieldError("sentinelFailoverTimeoutMs", self.failover_timeout_ms,
                             f"above sentinelDownAfterMs={self.down_after_ms}")
        return self


@dataclass(frozen=True, config=CONFIG)
class RedisSettings(ConfigModel):
    """Everything the Redis session store needs: the stack config's Redis and Sentinel keys."""

    topology: Defaulted[str] = ruled("standalone", Validator(_topology), alias="redisTopology")
    """standalone (one master, persistence on) or sentinel (replication + Sentinel HA)."""
    release_name: Defaulted[str] = ruled("redis", Validator(lambda t: validators.dns1035_label(t, max_len=40)),
                                         alias="redisReleaseName")
    """Helm release name and chart fullnameOverride; every Redis object name derives from it."""
    chart: Defaulted[str] = ruled("oci://registry-1.docker.io/bitnamicharts/redis", Validator(validators.oci_chart),
                                  alias="redisChart")
    """Bitnami Redis chart reference (OCI, no tag)."""
    chart_version: Defaulted[str] = ruled("23.1.1", Validator(validators.chart_version), alias="redisChartVersion")
    """Pinned Bitnami Redis chart version."""
    image_registry: Defaulted[str] = ruled("docker.io", Validator(validators.registry), alias="imageRegistry")
    """Registry for the Redis and Sentinel images."""
    image_repository: Defaulted[str] = ruled("bitnamilegacy/redis", REPOSITORY, alias="redisImageRepository")
    """Redis image repository (Bitnami moved versioned images to bitnamilegacy/*)."""
    image_tag: Defaulted[str] = ruled("8.2.1-debian-12-r0", TAG, alias="redisImageTag")
    """Redis image tag (pinned, never latest); names the Redis release, which must be at or above the
    known-CVE floor (docs/security.md) unless redisImageAcceptedCves acknowledges what it carries."""
    image_digest: Defaulted[str] = ruled("", DIGEST, alias="redisImageDigest")
    """Optional digest (sha256:...) pinning the Redis image's bytes; the chart then pulls by digest."""
    accepted_cves: Defaulted[Sequence[str]] = ruled((), Each(Validator(cve.cve_id)), max_length=len(cve.CVES),
                                                    alias="redisImageAcceptedCves")
    """Known CVEs the stack knowingly runs with: Redis/Sentinel images below the known-CVE floor are
    refused unless every CVE they carry is listed here (docs/security.md, docs/decisions.md); a CVE no
    deployed image carries is refused too, so the list cannot outlive an upgrade."""
    maxmemory: Defaulted[str] = ruled("192mb", Validator(validators.redis_memory), AfterValidator(str.lower),
                                      alias="redisMaxmemory")
    """Redis maxmemory, <n>kb|mb|gb; at most 80% of redisMemory (room for the AOF-rewrite fork)."""
    maxmemory_policy: Defaulted[MaxmemoryPolicy] = Field(default=MaxmemoryPolicy.VOLATILE_TTL, validate_default=True,
                                                         alias="redisMaxmemoryPolicy")
    """Redis maxmemory-policy; volatile-ttl evicts the sessions closest to expiry first (docs/decisions.md)."""
    memory: Defaulted[str] = ruled("256Mi", AS_TEXT, Validator(validators.memory_bytes), alias="redisMemory")
    """Redis container memory request and limit, at least 64Mi."""
    cpu_request: Defaulted[str] = ruled("100m", AS_TEXT, Validator(validators.cpu_millis), alias="redisCpuRequest")
    """Redis container CPU request; at most redisCpuLimit."""
    cpu_limit: Defaulted[str] = ruled("1", AS_TEXT, Validator(validators.cpu_millis), alias="redisCpuLimit")
    """Redis container CPU limit."""
    persistence_size: Defaulted[str] = ruled("1Gi", AS_TEXT, Validator(validators.storage_bytes),
                                             alias="redisPersistenceSize")
    """PersistentVolumeClaim size per Redis node; at least twice redisMaxmemory (an AOF rewrite writes
    the new file beside the old one)."""
    storage_class: Defaulted[str] = ruled("", Validator(_storage_class), alias="redisStorageClass")
    """StorageClass for Redis volumes; empty uses the cluster default."""
    sentinel: Defaulted[SentinelSettings] = Field(default_factory=SentinelSettings, alias="sentinel")
    """The Sentinel settings (the `sentinel*` keys; used in topology `sentinel`)."""
    tls: Defaulted[bool] = Field(default=False, alias="redisTls",
                                 description="TLS (mutual) on every Redis and Sentinel port; the program issues "
                                 "the CA and certificates (pulumi-tls). Needs springBootMajor "
                                 f"{boot.releases(lambda r: r.ssl_bundle_since)} in every WAS app.")
    """TLS (mutual) on every Redis and Sentinel port."""
    tls_transition: Defaulted[bool] = Field(default=False, alias="redisTlsTransition")
    """standalone topology, while redisTls is switched: Redis serves plaintext on 6379 and mutual TLS on 6380
    at once, so the WAS apps roll to the new protocol with no window; false once they rolled (docs/runbooks.md,
    "Switch TLS on or off")."""
    password_generation: Defaulted[int] = Field(default=1, ge=1, le=10000, alias="redisPasswordGeneration")
    """Generation of the Redis ACL passwords the clients (WAS apps, the exporter and its session counter)
    use; raising it issues new passwords (rotation procedure: docs/runbooks.md, "Rotate Redis passwords")."""
    default_password_generation: Defaulted[int] = Field(default=1, ge=1, le=10000,
                                                        alias="redisDefaultPasswordGeneration")
    """Generation of the chart-internal `default` password (replication, Sentinel, probes, the acl-reload
    sidecar); it follows the rotation phase of redisPasswordAlsoAccept, and raising it rolls the Redis pods
    (docs/runbooks.md, "Rotate the default password")."""
    password_also_accept: Defaulted[AlsoAccept] = Field(default=AlsoAccept.NONE, validate_default=True,
                                                        alias="redisPasswordAlsoAccept")
    """Rotation phase: Redis also accepts the next generation's passwords (`next`, before clients switch)
    or the previous one's (`previous`, while clients roll); `none` accepts only the current one."""

    # ------------------------------------------------------------------ derived
    @property
    def sentinel_topology(self) -> bool:
        """Whether Redis runs as a Sentinel set (its `sentinel` settings apply)."""
        return self.topology == "sentinel"

    @property
    def redis_image(self) -> Image:
        """The Redis server image, split the way the chart wants it."""
        return _image(self.image_registry, self.image_repository, self.image_tag, self.image_digest)

    @property
    def sentinel_image(self) -> Image:
        """The Sentinel image (used in `sentinel` topology)."""
        s = self.sentinel
        return _image(self.image_registry, s.image_repository, s.image_tag, s.image_digest)

    @property
    def redis_version(self) -> tuple[int, ...]:
        """(major, minor) of the Redis image: the rules of redis.acl (components/config/acl.py image_version)."""
        return acl.image_version(self.image_tag)

    @property
    def sentinel_version(self) -> tuple[int, ...]:
        """(major, minor) of the Sentinel image: the rules of sentinel.acl."""
        return acl.image_version(self.sentinel.image_tag)

    @property
    def server_tls(self) -> bool:
        """Whether every Redis port is TLS-only (the chart's TLS): redisTls outside a transition."""
        return self.tls and not self.tls_transition

    @property
    def certificates(self) -> bool:
        """Whether the program issues the CA and certificates: TLS, or a transition either way."""
        return self.tls or self.tls_transition

    @property
    def maxmemory_bytes(self) -> int:
        """maxmemory in bytes (Redis units: 1mb = 1024*1024)."""
        return validators.redis_memory(self.maxmemory)

    @property
    def resources(self) -> Resources:
        """Redis container resources; memory request == limit."""
        return Resources(self.cpu_request, self.cpu_limit, self.memory, self.memory)

    @property
    def accepted_generations(self) -> tuple[int, ...]:
        """Password generations the ACL accepts, the clients' first."""
        return _accepted(self.password_generation, self.password_also_accept)

    @property
    def accepted_default_generations(self) -> tuple[int, ...]:
        """`default` password generations the ACL accepts, the current one first."""
        return _accepted(self.default_password_generation, self.password_also_accept)

    # ------------------------------------------------------------------ rules across fields
    @model_validator(mode="after")
    def _consistent(self) -> "RedisSettings":
        memory = validators.memory_bytes(self.memory)
        if memory < REDIS_MEMORY_MIN:
            raise FieldError("redisMemory", self.memory, f"at least {validators.mib(REDIS_MEMORY_MIN)}")
        ceiling = int(memory * sizing.MAXMEMORY_MAX_FRACTION_OF_LIMIT)
        if self.maxmemory_bytes > ceiling:
            raise FieldError("redisMaxmemory", self.maxmemory,
                             f"at most {int(sizing.MAXMEMORY_MAX_FRACTION_OF_LIMIT * 100)}% of redisMemory="
                             f"{self.memory} ({ceiling // 2**20}mb), to leave room for the AOF-rewrite fork")
        if validators.storage_bytes(self.persistence_size) < 2 * self.maxmemory_bytes:
            raise FieldError("redisPersistenceSize", self.persistence_size,
                             f"at least twice redisMaxmemory={self.maxmemory}: an AOF rewrite writes the "
                             "new file beside the old one")
        if validators.cpu_millis(self.cpu_request) > validators.cpu_millis(self.cpu_limit):
            raise FieldError("redisCpuRequest", self.cpu_request, f"at most redisCpuLimit={self.cpu_limit}")
        if self.password_also_accept == "previous" and self.password_generation < 2 \
                and self.default_password_generation < 2:
            raise FieldError("redisPasswordAlsoAccept", "previous",
                             "none or next: redisPasswordGeneration=1 and redisDefaultPasswordGeneration=1 have no "
                             "previous generation")
        if self.tls_transition and self.sentinel_topology:
            raise FieldError("redisTlsTransition", True,
                             "false in sentinel topology: Sentinel announces one port per node for both protocols "
                             "(redis/redis#13210), so clients cannot move one pod at a time; follow docs/runbooks.md "
                             "\"Switch TLS on or off\"")
        self._cve_floor()
        for key, tag in (("redisImageTag", self.image_tag), ("sentinelImageTag", self.sentinel.image_tag)):
            try:
                acl.image_version(tag)  # the version each process's ACL file is written for
            except ValueError as exc:
                raise FieldError(key, tag, str(exc)) from None
        for key, repository, tag, digest in (
                ("redisImageRepository", self.image_repository, self.image_tag, self.image_digest),
                ("sentinelImageRepository", self.sentinel.image_repository, self.sentinel.image_tag,
                 self.sentinel.image_digest)):
            try:
                _image(self.image_registry, repository, tag, digest)
            except ValueError as exc:
                raise FieldError(key, repository, str(exc)) from None
        return self

    def _cve_floor(self) -> None:
        accepted = set(self.accepted_cves)
        images = [("redisImageTag", self.image_repository, self.image_tag)]
        if self.sentinel_topology:
            images.append(("sentinelImageTag", self.sentinel.image_repository, self.sentinel.image_tag))
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
            raise FieldError("redisImageAcceptedCves", list(self.accepted_cves),
                             f"only CVEs a deployed Redis or Sentinel image carries: {', '.join(stale)} "
                             "no longer applies (the images are at or above the floor); remove it")


def _image(registry: str, repository: str, tag: str, digest: str) -> Image:
    """The parts, checked once more as one reference by the distribution grammar (docker-image-py)."""
    validators.image(f"{registry}/{repository}:{tag}" + (f"@{digest}" if digest else ""))
    return Image(registry, repository, tag, digest)


def _accepted(g: int, also: str) -> tuple[int, ...]:
    return {"none": (g,), "next": (g, g + 1), "previous": (g, g - 1) if g > 1 else (g,)}[also]
