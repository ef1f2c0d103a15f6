"""One Spring WAS app, one type (issue 21 item 2): the `wasApps[]` entry of the stack config
(validated by components/config/config.py, strict) and the `app` input of the WasApp component
(Pulumi's component analyzer infers its schema from this class).

Written for the analyzer, which reads the raw annotations (pulumi 3.272 analyzer.py
`analyze_type`): no `from __future__ import annotations`, no `Annotated`, `Literal` or tuple
types. Bounds are `Field` defaults, rules are the field's metadata (validators.ruled), choices
are Enums whose values the object keeps (`use_enum_values`), Kubernetes-shaped fields are
`Sequence[Mapping[str, Any]]` validated as their API type (workload.Shaped).

What a default resolves to is a property (`database`, `key_namespace`, `repository`,
`expiration_store`): components read those, never the optional fields.
"""
import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

from pydantic import BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

from . import boot, names, validators, workload
from .model import Resources
from .validators import ConfigModel, FieldError, Validator, ruled
from .workload import Shaped

SESSION_TIMEOUT_MIN_SECONDS = 60
SESSION_TIMEOUT_MAX_SECONDS = 24 * 3600
# A session timeout is bounded: Redis holds each session for its whole timeout, so memory
# (components/config/sizing.py), the session count's SCAN (components/monitoring/session_count.py, O(live
# sessions) per count) and how long a stolen session cookie stays usable all grow with it.
WAS_MEMORY_LIMIT_MIN = 256 * 2**20
"""The smallest memory limit a Spring Boot JVM starts in."""
SINGLE_APP_DATABASE = 1
"""The database of an app that is the only one in wasApps and sets no sessionDatabase
(what the positional default gave the first app, so single-app stacks keep theirs)."""


class RepositoryType(enum.StrEnum):
    """Spring Session repository."""

    DEFAULT = "default"
    INDEXED = "indexed"


class ExpirationStore(enum.StrEnum):
    """The indexed repository's expiration store."""

    MINUTE = "minute"
    SORTED_SET = "sorted-set"


class FlushMode(enum.StrEnum):
    """When Spring Session writes a changed session to Redis."""

    ON_SAVE = "on_save"
    IMMEDIATE = "immediate"


T = TypeVar("T")
if TYPE_CHECKING:
    BootMajor = int
    Defaulted = Annotated[T, "a field with a default"]
else:
    # Pulumi's analyzer makes a property optional only when its type is (pulumi 3.272
    # analyzer.py `analyze_property`: `is_optional`), whatever its default: a field with a
    # default is Optional for the analyzer, pydantic and the generated SDKs, and its plain
    # type for mypy and the code. An explicit null is refused (`_no_nulls`).
    Defaulted = Optional
    # the Boot table's majors (components/config/boot.py): errors, Pulumi.yaml and the README say "one of: 2, 3, 4"
    BootMajor = enum.IntEnum("BootMajor", {f"BOOT_{m}": m for m in boot.MAJORS})


def _int_as_text(value: Any) -> Any:
    # Quantities may be written unquoted in YAML (cpuLimit: 1); they are still text.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


AS_TEXT = BeforeValidator(_int_as_text)
APP_NAME = Validator(lambda t: validators.dns1035_label(t, max_len=40))
IMAGE = Validator(validators.image, "an image reference by the distribution grammar (lower-case repository, optional "
                  "registry) pinned by a tag other than latest, or by a digest", normalize=True)
DURATION = Validator(validators.duration_seconds)
CPU = Validator(validators.cpu_millis)
MEMORY = Validator(validators.memory_bytes)


def _session_namespace(text: str) -> str:
    import re
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,99}$", text):
        raise ValueError("a Spring Session key namespace: 1-100 characters of A-Z, a-z, 0-9, ':', '.', '_', '-', "
                         "e.g. spring:session:shop")
    return text


CONFIG = ConfigDict(extra="forbid", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True,
                    allow_inf_nan=False, use_attribute_docstrings=True, use_enum_values=True)


@dataclass(frozen=True, config=CONFIG)
class WasAppSettings(ConfigModel):
    """One Spring web application server whose HTTP sessions live in Redis."""

    name: str = ruled(..., APP_NAME)
    """Name of the Deployment, Service, HPA, PDB and NetworkPolicy; label `app` of its metrics."""
    image: str = ruled(..., IMAGE)
    """Image with a pinned tag (or digest), built with spring-boot-starter-web,
    spring-session-data-redis and spring-boot-starter-data-redis (Boot 4:
    spring-boot-starter-session-data-redis), spring-boot-starter-actuator and
    micrometer-registry-prometheus (README, "The WAS image"). Without Spring Data Redis a
    Boot 3.1+ app stops at start: "Included health contributor 'redis' in group 'sessions'
    does not exist"; without Spring Session it keeps sessions in Tomcat (alert
    WasSessionsNotInRedis: the login loop); without the Prometheus registry
    /actuator/prometheus is 404 (WasMetricsNotScraped). The example
    springcommunity/spring-petclinic:3.4.0 has none of the three: it stops at start."""
    spring_boot_major: Defaulted[BootMajor] = Field(default=3, description=boot.describe())
    """The image's Spring Boot major version: its row of the Boot table (property names, repositories, TLS)."""
    min_replicas: Defaulted[int] = Field(default=2, ge=1, le=1000)
    """HPA minimum (and the initial replica count)."""
    max_replicas: Defaulted[int] = Field(default=4, ge=1, le=1000)
    """HPA maximum; at least minReplicas."""
    session_timeout: Defaulted[str] = ruled("30m", DURATION)
    """Session idle timeout, <n>s|m|h, 1m..24h."""
    repository_type: RepositoryType | None = None
    """Spring Session repository: `default` (one hash per session) or `indexed`
    (find-by-principal), among those the app's Boot line auto-configures (springBootMajor). Unset: the line's
    default."""
    session_expiration_store: ExpirationStore | None = None
    """Indexed repository only: `minute` (Spring's default per-minute expiry sets) or
    `sorted-set` (the app registers Spring Session 3.4+'s SortedSetRedisSessionExpirationStore
    bean with its own namespace; counted every scrape instead of by a SCAN). Unset: `minute`."""
    flush_mode: Defaulted[FlushMode] = Field(default=FlushMode.ON_SAVE, validate_default=True)
    """When Spring Session writes a changed session to Redis."""
    session_namespace: str | None = ruled(None, Validator(_session_namespace))
    """Spring Session key namespace. Unset: spring:session:<name>."""
    session_database: int | None = Field(default=None, ge=0, le=15)
    """Redis logical database holding only this app's sessions (one per app). Required when
    wasApps lists two or more apps (never derived from the position: a new or reordered app
    would move the others' sessions); unset on the only app: 1."""
    port: Defaulted[int] = Field(default=8080, ge=1024, le=65535)
    """HTTP port of the app (the Service; open to the ingress path). Serves /livez and /readyz
    for the kubelet, never /actuator."""
    management_port: Defaulted[int] = Field(default=8081, ge=1024, le=65535)
    """Actuator port (management.server.port): /actuator/health and /actuator/prometheus, admitted
    only from prometheusNamespace; differs from port."""
    cpu_request: Defaulted[str] = ruled("250m", AS_TEXT, CPU)
    """CPU request; at most cpuLimit."""
    cpu_limit: Defaulted[str] = ruled("1", AS_TEXT, CPU)
    """CPU limit."""
    memory_request: Defaulted[str] = ruled("512Mi", AS_TEXT, MEMORY)
    """Memory request; at most memoryLimit."""
    memory_limit: Defaulted[str] = ruled("768Mi", AS_TEXT, MEMORY)
    """Memory limit, at least 256Mi (a Spring Boot JVM does not start in less)."""
    target_cpu_percent: Defaulted[int] = Field(default=70, ge=1, le=100)
    """HPA target CPU utilisation, percent of the request."""
    env: Defaulted[Sequence[Mapping[str, Any]]] = ruled((), Shaped(workload.EnvVar))
    """Extra env vars, Kubernetes EnvVar shape: `{name, value}` or `{name, valueFrom: {secretKeyRef:
    {name, key}}}` / `configMapKeyRef`. Names the program sets (Spring Session, management, SERVER_PORT,
    JAVA_TOOL_OPTIONS) are refused: the program's wiring wins. Credentials only from Secrets."""
    env_from: Defaulted[Sequence[Mapping[str, Any]]] = ruled((), Shaped(workload.EnvFromSource))
    """Whole Secrets/ConfigMaps as env vars: `{secretRef: {name}}` or `{configMapRef: {name}}`, optional
    `prefix`. Kubernetes lets `env` win over it, so the program's settings still win."""
    volumes: Defaulted[Sequence[Mapping[str, Any]]] = ruled((), Shaped(workload.Volume))
    """Extra pod volumes: `secret`, `configMap`, `emptyDir` or `persistentVolumeClaim` (Pod Security
    restricted); names other than tmp, redis-secret, redis-tls."""
    volume_mounts: Defaulted[Sequence[Mapping[str, Any]]] = ruled((), Shaped(workload.VolumeMount))
    """Mounts of those volumes in the app container `{name, mountPath, readOnly, subPath}`; not at, under
    or above /tmp and /var/run/secrets/redis*. The root filesystem stays read-only."""
    service_account_name: str | None = ruled(None, Validator(validators.dns1123_subdomain))
    """ServiceAccount of the pods. Unset: the namespace's default."""
    automount_service_account_token: Defaulted[bool] = False
    """Mount the ServiceAccount's API token (only for apps that call the Kubernetes API)."""
    image_pull_secrets: Defaulted[Sequence[Mapping[str, Any]]] = ruled((), Shaped(workload.LocalObjectReference))
    """Secrets (type kubernetes.io/dockerconfigjson) to pull the image with: `[{name: regcred}]`."""
    node_selector: Defaulted[Mapping[str, str]] = ruled(..., workload.LABELS, default_factory=dict)
    """Pod nodeSelector: node label -> value."""
    tolerations: Defaulted[Sequence[Mapping[str, Any]]] = ruled((), Shaped(workload.Toleration))
    """Pod tolerations, Kubernetes Toleration shape."""
    affinity: Mapping[str, Any] | None = ruled(None, Shaped(workload.Affinity, many=False))
    """Pod affinity (nodeAffinity, podAffinity, podAntiAffinity), Kubernetes Affinity shape."""
    labels: Defaulted[Mapping[str, str]] = ruled(..., workload.LABELS, default_factory=dict)
    """Extra pod labels; not the app.kubernetes.io/* labels (the selector) nor the Redis client label."""
    annotations: Defaulted[Mapping[str, str]] = ruled(..., workload.ANNOTATION_KEYS, default_factory=dict)
    """Extra pod annotations; not the program's (password generation)."""
    liveness_path: Defaulted[str] = ruled("/livez", Validator(workload.http_path))
    """HTTP path of the liveness and startup probes, on the app port."""
    readiness_path: Defaulted[str] = ruled("/readyz", Validator(workload.http_path))
    """HTTP path of the readiness probe, on the app port."""
    egress: Defaulted[Sequence[Mapping[str, Any]]] = ruled((), Shaped(workload.EgressRule))
    """Extra NetworkPolicy egress rules `{to: [peers], ports: [{port, protocol}]}`; a peer is
    `{namespaceSelector, podSelector}` or `{ipBlock: {cidr, except}}`. `to` and `ports` are required."""
    ingress: Defaulted[Sequence[Mapping[str, Any]]] = ruled((), Shaped(workload.IngressRule))
    """Extra NetworkPolicy ingress rules `{from: [peers], ports: [...]}` (the app port is already open)."""

    # ------------------------------------------------------------------ derived
    @property
    def boot(self) -> boot.BootLine:
        """The app's Spring Boot line (components/config/boot.py): property names, what it offers."""
        return boot.line(self.spring_boot_major)

    @property
    def repository(self) -> str:
        """The repository the app runs: `repositoryType`, or its default for the Boot line."""
        return self.repository_type or self.boot.default_repository

    @property
    def expiration_store(self) -> str | None:
        """Indexed repository: `minute` or `sorted-set`; None for the default repository."""
        return (self.session_expiration_store or ExpirationStore.MINUTE.value) if self.repository == "indexed" \
            else None

    @property
    def session_timeout_seconds(self) -> int:
        """The session idle timeout in seconds."""
        return validators.duration_seconds(self.session_timeout)

    @property
    def resources(self) -> Resources:
        """The container's requests and limits."""
        return Resources(self.cpu_request, self.cpu_limit, self.memory_request, self.memory_limit)

    @property
    def database(self) -> int:
        """The Redis logical database of its sessions: `sessionDatabase`, or SINGLE_APP_DATABASE
        (the config requires `sessionDatabase` once wasApps lists two apps)."""
        return SINGLE_APP_DATABASE if self.session_database is None else self.session_database

    @property
    def key_namespace(self) -> str:
        """The Spring Session key namespace: `sessionNamespace`, or spring:session:<name>."""
        return self.session_namespace or f"spring:session:{self.name}"

    # ------------------------------------------------------------------ rules across fields
    @model_validator(mode="after")
    def _consistent(self) -> "WasAppSettings":
        if self.max_replicas < self.min_replicas:
            raise FieldError("maxReplicas", self.max_replicas, f"at least minReplicas={self.min_replicas}")
        if not SESSION_TIMEOUT_MIN_SECONDS <= self.session_timeout_seconds <= SESSION_TIMEOUT_MAX_SECONDS:
            raise FieldError("sessionTimeout", self.session_timeout,
                             "1m..24h: Redis holds every session for its whole timeout, so its memory, the "
                             "session count's SCAN and the life of a stolen cookie grow with it")
        if validators.cpu_millis(self.cpu_request) > validators.cpu_millis(self.cpu_limit):
            raise FieldError("cpuRequest", self.cpu_request, f"at most cpuLimit={self.cpu_limit}")
        limit = validators.memory_bytes(self.memory_limit)
        if limit < WAS_MEMORY_LIMIT_MIN:
            raise FieldError("memoryLimit", self.memory_limit,
                             f"at least {validators.mib(WAS_MEMORY_LIMIT_MIN)}: a Spring Boot JVM does not start in less")
        if validators.memory_bytes(self.memory_request) > limit:
            raise FieldError("memoryRequest", self.memory_request, f"at most memoryLimit={self.memory_limit}")
        if self.management_port == self.port:
            raise FieldError("managementPort", self.management_port,
                             f"a port other than port={self.port}: actuator must not be served on the app port")
        if self.repository_type is not None and self.repository_type not in self.boot.repositories:
            raise FieldError("repositoryType", self.repository_type,
                             f"Spring Boot {self.spring_boot_major} auto-configures only the "
                             f"{' and '.join(self.boot.repositories)} repository; allowed: "
                             + ", ".join(self.boot.repositories))
        if self.session_expiration_store is not None and self.repository != "indexed":
            raise FieldError("sessionExpirationStore", self.session_expiration_store,
                             "only with repositoryType indexed: the default repository has no expiration store")
        self._check_workload()
        if self.session_expiration_store == "sorted-set" and self.boot.sorted_set_since is None:
            raise FieldError("sessionExpirationStore", self.session_expiration_store,
                             "minute: SortedSetRedisSessionExpirationStore needs Spring Session 3.4+ "
                             f"(springBootMajor {boot.releases(lambda r: r.sorted_set_since)})")
        return self

    def _check_workload(self) -> None:
        seen: set[str] = set()
        for i, e in enumerate(self.env):
            if e["name"] in seen:
                raise FieldError(f"env[{i}].name", e["name"], "a name no earlier env entry has")
            seen.add(e["name"])
        declared = [v["name"] for v in self.volumes]
        for i, v in enumerate(self.volumes):
            if v["name"] in declared[:i]:
                raise FieldError(f"volumes[{i}].name", v["name"], "a name no earlier volume has")
        paths: list[str] = []
        for i, m in enumerate(self.volume_mounts):
            if m["name"] not in declared:
                raise FieldError(f"volumeMounts[{i}].name", m["name"],
                                 "the name of one of this app's volumes: " + (", ".join(declared) or "(none declared)"))
            if m["mountPath"] in paths:
                raise FieldError(f"volumeMounts[{i}].mountPath", m["mountPath"], "a path no earlier mount has")
            paths.append(m["mountPath"])
        for key in self.labels:
            if key.startswith("app.kubernetes.io/"):
                raise FieldError(f"labels.{key}", key, "a key outside app.kubernetes.io/*: those are the program's "
                                 "selector and version labels")
        for key in self.annotations:
            if key.startswith(names.PART_OF + "/"):
                raise FieldError(f"annotations.{key}", key, f"a key outside {names.PART_OF}/* (the program's)")
        if self.automount_service_account_token and self.service_account_name is None:
            raise FieldError("automountServiceAccountToken", True, "false unless serviceAccountName is set: "
                             "the namespace's default account should not get an API token")
