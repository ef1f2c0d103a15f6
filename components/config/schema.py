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

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, model_validator
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import is_pydantic_dataclass
from pydantic.fields import FieldInfo

from . import validators, workload
from .app import IMAGE, WasAppSettings
from .store import RedisSettings, SentinelSettings
from .validators import FieldError, Validator

__all__ = ["FieldError", "WasAppSettings"]


Namespace = Annotated[str, Validator(validators.namespace)]
Label = Annotated[str, Validator(validators.dns1123_label)]
Image = Annotated[str, IMAGE]
HttpUrl = Annotated[str, Validator(validators.url)]
SecretHttpsUrl = Annotated[SecretStr, Validator(validators.https_url, secret=True)]


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


ACKNOWLEDGEABLE = ("redisTopology", "redisReleaseName", "redisPersistenceSize", "redisStorageClass", "redisTls",
                   "redisPasswordGeneration", "redisDefaultPasswordGeneration", "redisTlsCa", "sentinelMasterSet")


def _acknowledged(text: str) -> str:
    for key in (k.strip() for k in text.split(",") if k.strip()):
        if key not in ACKNOWLEDGEABLE:
            raise ValueError("empty, or comma-separated keys among: " + ", ".join(ACKNOWLEDGEABLE))
    return text


SlackChannel = Annotated[str, Validator(_slack_channel)]
KubernetesVersion = Annotated[str, Validator(_kubernetes_version)]
Percent = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]



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

    redis: RedisSettings = Field(default_factory=RedisSettings)
    """The Redis and Sentinel keys (components/config/store.py), flat in the stack config."""
    acknowledge_change: Annotated[str, Validator(_acknowledged)] = ""
    """For one `pulumi up`: the config key(s) (comma-separated) of a change the program otherwise refuses on
    a running stack (redisTopology, redisReleaseName, redisPersistenceSize, redisStorageClass, redisTls, a
    password generation skipping the `next` phase); set it only after the runbook's steps (docs/runbooks.md,
    "Change a running stack"), remove it after that up."""
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

    @property
    def acknowledged(self) -> tuple[str, ...]:
        """The keys of acknowledgeChange (components/config/changes.py)."""
        return tuple(k.strip() for k in self.acknowledge_change.split(",") if k.strip())

    @property
    def dns_egress_rules(self) -> list[dict]:
        """NetworkPolicy egress rules to the cluster DNS, for every Redis client (dnsEgress)."""
        return self.dns_egress.egress_rules()

    @model_validator(mode="after")
    def _consistent(self) -> StackConfig:
        if self.slack_channel and self.slack_webhook_url is None:
            raise FieldError("slackWebhookUrl", None, "required when slackChannel is set: "
                             "pulumi config set --secret slackWebhookUrl https://hooks.slack.com/services/...")
        return self


GROUPS: dict[tuple[type, str], type] = {(StackConfig, "redis"): RedisSettings, (RedisSettings, "sentinel"): SentinelSettings}
"""(model, field) -> the model of the group of flat config keys that field holds."""


def _flat(model: type) -> dict[str, tuple[type, str]]:
    out: dict[str, tuple[type, str]] = {}
    for name, field in fields_of(model).items():
        group = GROUPS.get((model, name))
        out |= _flat(group) if group else {field.alias or name: (model, name)}
    return out



def pulumi_declared(key: str) -> bool:
    """Whether a config key is declared in Pulumi.yaml (optional secrets are not)."""
    model, name = FLAT[key]
    extra = fields_of(model)[name].json_schema_extra
    return not (isinstance(extra, dict) and extra.get("pulumi") == "secret-optional")


class StackSettings(StackConfig):
    """A validated stack config and where it is deployed: what the program reads
    (components/config/config.py to_settings, after the rules across apps)."""

    project: str
    """Pulumi project name."""
    stack: str
    """Pulumi stack name."""


def fields_of(model: type) -> dict[str, FieldInfo]:
    """A config model's fields: a BaseModel's, or a pydantic dataclass's (WasAppSettings)."""
    return model.model_fields if issubclass(model, BaseModel) else model.__pydantic_fields__  # type: ignore[attr-defined]


def is_model(annotation: Any) -> bool:
    """Whether a type is a config model (a BaseModel or a pydantic dataclass)."""
    return isinstance(annotation, type) and (issubclass(annotation, BaseModel) or is_pydantic_dataclass(annotation))


def alias(model: type, name: str) -> str:
    return fields_of(model)[name].alias or name


FLAT: dict[str, tuple[type, str]] = _flat(StackConfig)
"""Every config key, in declaration order -> (the model that declares it, its attribute)."""
GROUP_OF: dict[str, type] = {key: model for key, (model, _) in FLAT.items() if model is not StackConfig}



def grouped(values: Mapping[str, Any]) -> dict[str, Any]:
    """Flat config keys (`redisMaxmemory`, `sentinelNodes`) as StackConfig's fields: the `redis*` and
    `sentinel*` keys under `redis` (and its `sentinel`); the rest as they are."""
    out: dict[str, Any] = {}
    redis: dict[str, Any] = {}
    sentinel: dict[str, Any] = {}
    for key, value in values.items():
        group = GROUP_OF.get(key)
        (redis if group is RedisSettings else sentinel if group is SentinelSettings else out)[key] = value
    if sentinel:
        redis["sentinel"] = sentinel
    if redis:
        out["redis"] = redis
    return out


def stack_config(values: Mapping[str, Any]) -> StackConfig:
    """A StackConfig from config keys and their values (as `pulumi config` holds them, structured
    values as lists and maps), validated strictly: as JSON, where a map may become a WAS app and a
    list a tuple (pydantic's JSON mode) but "3" never an int. ValidationError when bad
    (components/config/config.py turns it into a one-line ConfigError)."""
    return StackConfig.model_validate_json(json.dumps(grouped(values)), strict=True)
