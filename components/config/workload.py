"""The Kubernetes fields a real WAS Deployment needs (`wasApps[].env`, `volumes`, `egress`...),
in the shapes of the Kubernetes API (users paste from the Kubernetes docs), validated like
the rest of the config: strict types, unknown fields refused, every value checked by the
rule the API server applies, restated from k8s.io/api (core/v1 types.go, networking/v1
types.go) and k8s.io/kubernetes pkg/apis/core/validation/validation.go
(ValidateEnv, validateVolumes, validateVolumeMounts, ValidateTolerations, ValidateAffinity)
and pkg/apis/networking/validation/validation.go (ValidateNetworkPolicyPeer/Port).

Beyond the API server, the program refuses what would break its own wiring or Pod Security
"restricted" (components/config/podsecurity.py): env names the program sets (its Spring Session
settings win by refusal: docs/decisions.md, "Real apps"), volume types restricted forbids,
mounts over the program's own, labels that would move the selector, literal credentials.
Each refusal is a FieldError naming the field it blames (components/config/config.py joins the path:
`wasApps[0].env[2].valueFrom`).
"""
from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetCoreSchemaHandler, TypeAdapter, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import core_schema

from . import boot, validators
from .podsecurity import RESTRICTED_VOLUME_TYPES
from .validators import FieldError, Validator

# Paths and volumes the program mounts into every WAS container (components/was.py).
TMP_DIR = "/tmp"
SECRETS_DIR = "/var/run/secrets/redis"
TLS_DIR = "/var/run/secrets/redis-tls"
PROGRAM_VOLUMES = {"tmp": TMP_DIR, "redis-secret": SECRETS_DIR, "redis-tls": TLS_DIR}
"""Volume name -> mount path of the program's own volumes; users may use neither."""

# Env vars the program sets from the Redis component's outputs and its own settings
# (components/was.py spring_env); a user env var with one of these names is refused.
# tests/components/test_was_extras.py checks every name spring_env emits is covered.
# Every Boot line's Spring Data Redis and Spring Session prefixes (components/config/boot.py), those
# SPRING_SESSION_ (spring.session.timeout, store-type) already covers left out.
_SPRING = {boot.env_name(p) + "_" for r in boot.LINES for p in (r.redis_properties, r.session_properties)} | \
    {"SPRING_SESSION_"}
PROGRAM_ENV_PREFIXES = (*sorted(p for p in _SPRING if not any(p != q and p.startswith(q) for q in _SPRING)),
                        "SPRING_SSL_BUNDLE_PEM_REDIS_", "MANAGEMENT_SERVER_", "MANAGEMENT_ENDPOINT_HEALTH_",
                        "MANAGEMENT_ENDPOINTS_WEB_EXPOSURE_")
PROGRAM_ENV_NAMES = ("SERVER_PORT", "SERVER_SHUTDOWN", "SERVER_SERVLET_SESSION_TIMEOUT", "SPRING_CONFIG_IMPORT",
                     "SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE", "MANAGEMENT_METRICS_TAGS_APPLICATION",
                     "JAVA_TOOL_OPTIONS")
_CREDENTIAL_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|API_?KEY|PRIVATE_?KEY", re.I)

# Pod Security "restricted" (https://kubernetes.io/docs/concepts/security/pod-security-standards/,
# "Volume Types"): only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim,
# projected and secret. The program takes four of them; any other volume type is refused here.
K8S_VOLUME_TYPES = ("hostPath", "nfs", "iscsi", "glusterfs", "rbd", "cephfs", "cinder", "fc", "flocker", "flexVolume",
                    "azureFile", "azureDisk", "vsphereVolume", "quobyte", "portworxVolume", "scaleIO", "storageos",
                    "photonPersistentDisk", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "image",
                    "csi", "downwardAPI", "ephemeral", "projected")


OFFERED_VOLUME_TYPES = ("secret", "configMap", "emptyDir", "persistentVolumeClaim")
assert set(OFFERED_VOLUME_TYPES) <= set(RESTRICTED_VOLUME_TYPES)


def program_env(name: str) -> bool:
    """Whether the program sets (or reserves) env var `name` in a WAS container."""
    return name in PROGRAM_ENV_NAMES or name.startswith(PROGRAM_ENV_PREFIXES)


# ------------------------------------------------------------------- value validators
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def env_name(text: str) -> str:
    """validation.IsEnvVarName (C identifier plus '-' and '.')."""
    if not _ENV_NAME.match(text):
        raise ValueError("an env var name: A-Z, a-z, 0-9, '_', '-', '.', not starting with a digit")
    return text


def config_key(text: str) -> str:
    """validation.IsConfigMapKey: a Secret or ConfigMap key."""
    if not (0 < len(text) <= validators.SUBDOMAIN_MAX and _CONFIG_KEY.match(text)) or text in (".", ".."):
        raise ValueError("a Secret/ConfigMap key: 1-253 characters of A-Z, a-z, 0-9, '-', '_', '.'")
    return text


def qualified_name(text: str) -> str:
    """validation.IsQualifiedName: a label or annotation key, `[prefix/]name`."""
    prefix, slash, name = text.rpartition("/")
    ok = 0 < len(name) <= validators.LABEL_MAX and _QUALIFIED_NAME.match(name)
    if slash:
        try:
            validators.dns1123_subdomain(prefix)
        except ValueError:
            ok = False
    if not ok:
        raise ValueError("a label/annotation key: [DNS-subdomain prefix/]name, name 1-63 characters of A-Z, a-z, "
                         "0-9, '-', '_', '.', starting and ending with a letter or digit")
    return text


def absolute_path(text: str) -> str:
    if not text.startswith("/") or ":" in text or "\0" in text or ".." in text.split("/"):
        raise ValueError("an absolute path without ':' or '..', e.g. /etc/app")
    return text


def relative_path(text: str) -> str:
    """validateLocalDescendingPath: relative, no '..' element."""
    if not text or text.startswith("/") or ".." in text.split("/") or "\0" in text:
        raise ValueError("a relative path without '..', e.g. config/app.yaml")
    return text


def http_path(text: str) -> str:
    if not re.fullmatch(r"/[A-Za-z0-9\-._~/%!$&'()*+,;=:@]*", text):
        raise ValueError("an absolute HTTP path such as /livez (RFC 3986 path characters)")
    if text == "/actuator" or text.startswith("/actuator/"):
        raise ValueError("a path on the app port, not under /actuator: actuator is served on managementPort, "
                         "which the kubelet is not admitted to; Spring Boot serves /livez and /readyz on the app port")
    return text


def cidr(text: str) -> str:
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise ValueError("a network in CIDR notation with no host bits set, e.g. 10.20.0.0/16 or 203.0.113.7/32") \
            from None
    if "/" not in text:
        raise ValueError("a network in CIDR notation with no host bits set, e.g. 10.20.0.0/16 or 203.0.113.7/32")
    return text


def ip_address(text: str) -> str:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("an IPv4 or IPv6 address, e.g. 169.254.20.10") from None
    return text


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        try:
            qualified_name(key)
        except ValueError as exc:
            raise FieldError(key, key, str(exc)) from None
        try:
            validators.label_value(text) if text != "" else text
        except ValueError as exc:
            raise FieldError(key, text, str(exc)) from None
    return value


def _annotation_keys(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        try:
            qualified_name(key)
        except ValueError as exc:
            raise FieldError(key, key, str(exc)) from None
    return value


EnvName = Annotated[str, Validator(env_name)]
ConfigKey = Annotated[str, Validator(config_key)]
ObjectName = Annotated[str, Validator(validators.dns1123_subdomain)]
VolumeName = Annotated[str, Validator(validators.dns1123_label)]
AbsolutePath = Annotated[str, Validator(absolute_path)]
RelativePath = Annotated[str, Validator(relative_path)]
HttpPath = Annotated[str, Validator(http_path)]
Cidr = Annotated[str, Validator(cidr)]
IpAddress = Annotated[str, Validator(ip_address)]
QualifiedName = Annotated[str, Validator(qualified_name)]
LABELS = AfterValidator(_labels)
"""Kubernetes label keys and values (a `dict[str, str]` field's rule)."""
ANNOTATION_KEYS = AfterValidator(_annotation_keys)
"""Kubernetes annotation keys (a `dict[str, str]` field's rule)."""
Labels = Annotated[dict[str, str], LABELS]
Annotations = Annotated[dict[str, str], ANNOTATION_KEYS]
FileMode = Annotated[int, Field(ge=0, le=0o777)]
Port = Annotated[int, Field(ge=1, le=65535)]
Weight = Annotated[int, Field(ge=1, le=100)]


class Shaped:
    """Field metadata (validators.ruled) for a value in a Kubernetes API shape, kept as the API
    takes it (annotated `Sequence[Mapping[str, Any]]` or `Mapping[str, Any]`, which Pulumi's
    component analyzer takes): validated as `model` (each item, with `many`) and stored as
    `model.k8s()` dicts. Errors keep their path into the item (`env[2].valueFrom`);
    components/config/config.py reads `model` to say what the field allows."""

    def __init__(self, model: type[K8sModel], many: bool = True):
        self.model, self.many = model, many
        self._adapter: TypeAdapter[Any] = TypeAdapter(tuple[model, ...] if many else model)  # type: ignore[valid-type]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> Any:
            if value is None:
                return None
            if self.many:
                return tuple(m.k8s() for m in self._adapter.validate_python(tuple(value)))
            return self._adapter.validate_python(dict(value)).k8s()
        return core_schema.no_info_after_validator_function(validate, handler(source))

    def __repr__(self) -> str:
        return f"Shaped({self.model.__name__})"


LIST = Field(strict=False)
"""A list field: a tuple once parsed (the config is frozen), from a JSON/YAML list."""
NONEMPTY = Field(strict=False, min_length=1)
"""A list field of at least one item."""


class K8sModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, alias_generator=to_camel,
                              validate_by_name=False, validate_by_alias=True, allow_inf_nan=False,
                              use_attribute_docstrings=True)

    def k8s(self) -> dict:
        """The object as the Kubernetes API takes it."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def _exactly_one(model: BaseModel, fields: tuple[str, ...], what: str) -> None:
    given = [f for f in fields if getattr(model, f) is not None]
    if len(given) != 1:
        names = [type(model).model_fields[f].alias or f for f in fields]
        raise ValueError(f"{what}: exactly one of {', '.join(names)}" + (f" (got {len(given)})" if given else ""))


# ---------------------------------------------------------------------------- env
class KeySelector(K8sModel):
    name: ObjectName
    """Name of the Secret or ConfigMap (in the app's namespace)."""
    key: ConfigKey
    """Key in it."""
    optional: bool | None = None


class EnvVarSource(K8sModel):
    secret_key_ref: KeySelector | None = None
    config_map_key_ref: KeySelector | None = None

    @model_validator(mode="after")
    def _one(self) -> EnvVarSource:
        _exactly_one(self, ("secret_key_ref", "config_map_key_ref"), "a value source")
        return self


class EnvVar(K8sModel):
    name: EnvName
    value: str | None = None
    value_from: EnvVarSource | None = None

    @model_validator(mode="after")
    def _check(self) -> EnvVar:
        if (self.value is None) == (self.value_from is None):
            raise FieldError("valueFrom" if self.value_from is not None else "value", None,
                             "exactly one of value (a literal string) or valueFrom (secretKeyRef or configMapKeyRef)")
        if program_env(self.name):
            raise FieldError("name", self.name,
                             "a name the program does not set: the Spring Session and management settings are wired "
                             "from the Redis component and win (reserved: " + ", ".join(PROGRAM_ENV_NAMES) + ", "
                             + ", ".join(p + "*" for p in PROGRAM_ENV_PREFIXES) + "; JVM flags: JDK_JAVA_OPTIONS)")
        if self.value and _CREDENTIAL_NAME.search(self.name):
            raise FieldError("value", "<literal>", f"{self.name} looks like a credential: read it from a Secret "
                             "with valueFrom.secretKeyRef, never a literal in the stack file")
        return self


class LocalRef(K8sModel):
    name: ObjectName
    optional: bool | None = None


class EnvFromSource(K8sModel):
    prefix: Annotated[str, Validator(lambda t: env_name(t) if t else t, "empty or an env var name prefix")] | None = None
    secret_ref: LocalRef | None = None
    config_map_ref: LocalRef | None = None

    @model_validator(mode="after")
    def _one(self) -> EnvFromSource:
        _exactly_one(self, ("secret_ref", "config_map_ref"), "an envFrom source")
        return self


# ------------------------------------------------------------------------ volumes
class KeyToPath(K8sModel):
    key: ConfigKey
    path: RelativePath
    mode: FileMode | None = None


class SecretVolume(K8sModel):
    secret_name: ObjectName
    items: Annotated[tuple[KeyToPath, ...], LIST] | None = None
    default_mode: FileMode | None = None
    optional: bool | None = None


class ConfigMapVolume(K8sModel):
    name: ObjectName
    items: Annotated[tuple[KeyToPath, ...], LIST] | None = None
    default_mode: FileMode | None = None
    optional: bool | None = None


class EmptyDirVolume(K8sModel):
    medium: Literal["", "Memory"] | None = None
    size_limit: Annotated[str, Validator(validators.storage_bytes)] | None = None


class PvcVolume(K8sModel):
    claim_name: ObjectName
    read_only: bool | None = None


class Volume(K8sModel):
    name: VolumeName
    secret: SecretVolume | None = None
    config_map: ConfigMapVolume | None = None
    empty_dir: EmptyDirVolume | None = None
    persistent_volume_claim: PvcVolume | None = None

    @model_validator(mode="before")
    @classmethod
    def _restricted(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for kind in K8S_VOLUME_TYPES:
                if kind in data:
                    raise FieldError(kind, "...", "volume types allowed: secret, configMap, emptyDir, "
                                     "persistentVolumeClaim (Pod Security restricted forbids hostPath and the "
                                     "in-tree network volumes; csi/projected/ephemeral are not offered)")
        return data

    @model_validator(mode="after")
    def _one(self) -> Volume:
        if self.name in PROGRAM_VOLUMES:
            raise FieldError("name", self.name, "a name other than " + ", ".join(PROGRAM_VOLUMES) + " (the program's)")
        _exactly_one(self, ("secret", "config_map", "empty_dir", "persistent_volume_claim"), "a volume type")
        return self


class VolumeMount(K8sModel):
    name: VolumeName
    mount_path: AbsolutePath
    read_only: bool | None = None
    sub_path: RelativePath | None = None

    @model_validator(mode="after")
    def _not_over_ours(self) -> VolumeMount:
        path = self.mount_path.rstrip("/") or "/"
        for ours in PROGRAM_VOLUMES.values():
            if path == ours or path.startswith(ours + "/") or ours.startswith(path + "/") or path == "/":
                raise FieldError("mountPath", self.mount_path, "a path neither at, under nor above the program's "
                                 "mounts " + ", ".join(PROGRAM_VOLUMES.values()))
        return self


# --------------------------------------------------------------------- scheduling
class Toleration(K8sModel):
    key: QualifiedName | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None

    @model_validator(mode="after")
    def _check(self) -> Toleration:
        # ValidateTolerations: Exists takes no value; an empty key needs Exists;
        # tolerationSeconds only with NoExecute.
        if self.operator == "Exists" and self.value:
            raise FieldError("value", self.value, "empty when operator is Exists")
        if self.key is None and self.operator != "Exists":
            raise FieldError("operator", self.operator, "Exists when key is empty (tolerate every taint)")
        if self.value:
            try:
                validators.label_value(self.value)
            except ValueError as exc:
                raise FieldError("value", self.value, str(exc)) from None
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise FieldError("tolerationSeconds", self.toleration_seconds, "only with effect NoExecute")
        return self


class LabelSelectorRequirement(K8sModel):
    key: QualifiedName
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: Annotated[tuple[str, ...], LIST] | None = None

    @model_validator(mode="after")
    def _values(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise FieldError("values", self.values, f"a non-empty list with operator {self.operator}")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise FieldError("values", self.values, f"empty with operator {self.operator}")
        return self


class LabelSelector(K8sModel):
    match_labels: Labels | None = None
    match_expressions: Annotated[tuple[LabelSelectorRequirement, ...], LIST] | None = None


class NodeSelectorRequirement(K8sModel):
    key: QualifiedName
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: Annotated[tuple[str, ...], LIST] | None = None

    @model_validator(mode="after")
    def _values(self) -> NodeSelectorRequirement:
        want = {"In": None, "NotIn": None, "Exists": 0, "DoesNotExist": 0, "Gt": 1, "Lt": 1}[self.operator]
        n = len(self.values or ())
        if (want is None and n == 0) or (want is not None and n != want):
            allowed = {None: "a non-empty list", 0: "empty", 1: "exactly one integer"}[want]
            raise FieldError("values", self.values, f"{allowed} with operator {self.operator}")
        return self


class NodeSelectorTerm(K8sModel):
    match_expressions: Annotated[tuple[NodeSelectorRequirement, ...], LIST] | None = None
    match_fields: Annotated[tuple[NodeSelectorRequirement, ...], LIST] | None = None


class NodeSelector(K8sModel):
    node_selector_terms: Annotated[tuple[NodeSelectorTerm, ...], NONEMPTY]


class PreferredSchedulingTerm(K8sModel):
    weight: Weight
    preference: NodeSelectorTerm


class NodeAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: Annotated[tuple[PreferredSchedulingTerm, ...], LIST] | None = None


class PodAffinityTerm(K8sModel):
    label_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    namespaces: Annotated[tuple[Annotated[str, Validator(validators.dns1123_label)], ...], LIST] | None = None
    topology_key: QualifiedName
    match_label_keys: Annotated[tuple[QualifiedName, ...], LIST] | None = None
    mismatch_label_keys: Annotated[tuple[QualifiedName, ...], LIST] | None = None


class WeightedPodAffinityTerm(K8sModel):
    weight: Weight
    pod_affinity_term: PodAffinityTerm


class PodAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: Annotated[tuple[PodAffinityTerm, ...], LIST] | None = None
    preferred_during_scheduling_ignored_during_execution: Annotated[tuple[WeightedPodAffinityTerm, ...], LIST] | None = None


class Affinity(K8sModel):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


class LocalObjectReference(K8sModel):
    name: ObjectName


# ------------------------------------------------------------------ NetworkPolicy
class IpBlock(K8sModel):
    cidr: Cidr
    except_: Annotated[tuple[Cidr, ...], LIST] | None = Field(None, alias="except")

    @model_validator(mode="after")
    def _inside(self) -> IpBlock:
        net = ipaddress.ip_network(self.cidr)
        for i, text in enumerate(self.except_ or ()):
            sub = ipaddress.ip_network(text)
            if sub.version != net.version or not sub.subnet_of(net) or sub == net:  # type: ignore[arg-type]
                raise FieldError(f"except[{i}]", text, f"a network strictly inside cidr {self.cidr}")
        return self


class NetworkPolicyPeer(K8sModel):
    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None
    ip_block: IpBlock | None = None

    @model_validator(mode="after")
    def _kind(self) -> NetworkPolicyPeer:
        # ValidateNetworkPolicyPeer: ipBlock alone, or namespace/pod selectors (one or both).
        if self.ip_block is not None and (self.namespace_selector or self.pod_selector):
            raise FieldError("ipBlock", "...", "alone: a peer is an ipBlock or namespaceSelector/podSelector, not both")
        if self.ip_block is None and self.namespace_selector is None and self.pod_selector is None:
            raise ValueError("a peer: namespaceSelector and/or podSelector, or ipBlock")
        return self


class NetworkPolicyPort(K8sModel):
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    port: int | str
    end_port: Port | None = None

    @model_validator(mode="after")
    def _range(self) -> NetworkPolicyPort:
        if isinstance(self.port, int) and not 1 <= self.port <= 65535 or isinstance(self.port, str) \
                and not _port_name(self.port):
            raise FieldError("port", self.port, "a port number 1..65535 or an IANA service name "
                             "(1-15 of a-z, 0-9, '-', at least one letter)")
        if self.end_port is not None and (not isinstance(self.port, int) or self.end_port < self.port):
            raise FieldError("endPort", self.end_port, "a number port and endPort >= port")
        return self


def _port_name(text: str) -> bool:
    """validation.IsValidPortName (IANA_SVC_NAME)."""
    return len(text) <= 15 and bool(_PORT_NAME.match(text)) and bool(re.search(r"[a-z]", text)) and "--" not in text


class EgressRule(K8sModel):
    to: Annotated[tuple[NetworkPolicyPeer, ...], NONEMPTY]
    """Destinations (required: an empty list would open every destination)."""
    ports: Annotated[tuple[NetworkPolicyPort, ...], NONEMPTY]
    """Ports (required: least privilege)."""


class IngressRule(K8sModel):
    from_: Annotated[tuple[NetworkPolicyPeer, ...], NONEMPTY] = Field(alias="from")
    """Sources (required)."""
    ports: Annotated[tuple[NetworkPolicyPort, ...], NONEMPTY]
    """Ports on the app's pods (required)."""


# ----------------------------------------------------------------------- DNS egress
class DnsEgress(K8sModel):
    """Where the WAS apps and the exporter may send DNS queries (UDP and TCP 53)."""

    namespace: Annotated[str, Validator(validators.dns1123_label)] = "kube-system"
    """Namespace of the cluster DNS pods."""
    pod_labels: Labels = Field(default_factory=lambda: {"k8s-app": "kube-dns"})
    """Labels of the cluster DNS pods: kube-dns, and CoreDNS as kubeadm, EKS, GKE, AKS and k3s deploy it,
    keep `k8s-app: kube-dns`. Empty: no pod rule (addresses only)."""
    addresses: Annotated[tuple[IpAddress, ...], LIST] = ("169.254.20.10",)
    """DNS server addresses allowed as /32 (/128) ipBlocks: NodeLocal DNSCache's link-local
    169.254.20.10 by default; add the kube-dns ClusterIP when NodeLocal DNSCache runs beside
    kube-proxy in iptables mode (it answers on that IP from the node). Empty: pods only."""

    @model_validator(mode="after")
    def _some(self) -> DnsEgress:
        if not self.pod_labels and not self.addresses:
            raise FieldError("podLabels", {}, "non-empty when addresses is empty: pods need some DNS server")
        return self

    def egress_rules(self) -> list[dict]:
        ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
        rules_: list[dict] = []
        if self.pod_labels:
            rules_.append({"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.namespace}},
                                   "podSelector": {"matchLabels": dict(self.pod_labels)}}], "ports": ports})
        if self.addresses:
            blocks = [str(ipaddress.ip_network(a)) for a in self.addresses]
            rules_.append({"to": [{"ipBlock": {"cidr": b}} for b in blocks], "ports": ports})
        return rules_
