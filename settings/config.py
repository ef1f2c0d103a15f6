"""Parse stack config once, at the edge, into frozen settings objects.

Every bad value raises ConfigError: one line naming the key, the bad value and what is
allowed. ConfigError is a pulumi.RunError, which the Pulumi CLI prints without a stack
trace. Defaults live in Pulumi.yaml only (the CLI applies them); a key missing here
means Pulumi.yaml lost its declaration, which is also reported by key.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Optional

import pulumi

from settings import sizing
from settings.model import (
    Image,
    MonitoringSettings,
    RedisSettings,
    Resources,
    SentinelSettings,
    Sizing,
    SlackSettings,
    StackSettings,
    Thresholds,
    WasAppSettings,
)

TOPOLOGIES = ("standalone", "sentinel")
MAXMEMORY_POLICIES = (
    "noeviction", "volatile-ttl", "volatile-lru", "volatile-lfu", "volatile-random",
    "allkeys-lru", "allkeys-lfu", "allkeys-random",
)
BOOT_MAJORS = (2, 3, 4)
REPOSITORY_TYPES = ("default", "indexed")
FLUSH_MODES = ("on_save", "immediate")
REDIS_DATABASES = range(0, 16)

WAS_DEFAULTS: dict[str, Any] = {
    "springBootMajor": 3, "minReplicas": 2, "maxReplicas": 4, "sessionTimeout": "30m",
    "repositoryType": None, "flushMode": "on_save", "sessionNamespace": None,
    "sessionDatabase": None, "port": 8080, "cpuRequest": "250m", "cpuLimit": "1",
    "memoryRequest": "512Mi", "memoryLimit": "768Mi", "targetCpuPercent": 70,
}
WAS_REQUIRED = ("name", "image")

THRESHOLD_DEFAULTS: dict[str, float] = {
    "sessionsHigh": 100, "memoryUsedPercentWarning": 80, "memoryUsedPercentCritical": 90,
    "containerMemoryPercentWarning": 90, "fragmentationWarning": 1.5,
    "fragmentationCritical": 2.0, "connectedClientsHigh": 500, "jvmHeapPercentWarning": 85,
}

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")
_QUANTITY_FACTORS = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
                     "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "m": 10**-3}
_REDIS_MEM = re.compile(r"^(\d+)(kb|mb|gb)$")
_REDIS_MEM_FACTORS = {"kb": 2**10, "mb": 2**20, "gb": 2**30}
_DURATION = re.compile(r"^(\d+)(s|m|h)$")
_DURATION_FACTORS = {"s": 1, "m": 60, "h": 3600}


class ConfigError(pulumi.RunError):
    """A bad stack config value; the message is one line naming the key."""

    def __init__(self, key: str, value: Any, allowed: str):
        shown = json.dumps(value) if not isinstance(value, str) else repr(value)
        super().__init__(f"stack config {key}={shown} is invalid: {allowed}")
        self.key = key


# --------------------------------------------------------------------------- parsers
def parse_quantity_bytes(key: str, text: str) -> int:
    """Kubernetes memory quantity -> bytes."""
    m = _QUANTITY.match(str(text))
    if not m or m.group(2) == "m":
        raise ConfigError(key, text, "expected a Kubernetes memory quantity such as 256Mi or 1Gi")
    return int(float(m.group(1)) * _QUANTITY_FACTORS[m.group(2)])


def _cpu(key: str, text: str) -> str:
    m = _QUANTITY.match(str(text))
    if not m or m.group(2) not in (None, "m") or float(m.group(1)) <= 0:
        raise ConfigError(key, text, "expected a CPU quantity such as 250m or 1")
    return str(text)


def parse_redis_memory(key: str, text: str) -> int:
    """Redis memory size `<n>kb|mb|gb` -> bytes."""
    m = _REDIS_MEM.match(str(text).strip().lower())
    if not m or int(m.group(1)) == 0:
        raise ConfigError(key, text, "expected a positive Redis size <n>kb|mb|gb, e.g. 192mb")
    return int(m.group(1)) * _REDIS_MEM_FACTORS[m.group(2)]


def parse_duration_seconds(key: str, text: Any) -> int:
    """`<n>s|m|h` -> seconds (> 0)."""
    m = _DURATION.match(str(text).strip())
    if not m or int(m.group(1)) == 0:
        raise ConfigError(key, text, "expected a positive duration <n>s|m|h, e.g. 30m")
    return int(m.group(1)) * _DURATION_FACTORS[m.group(2)]


def parse_image(key: str, ref: str) -> tuple[str, str]:
    """Split `repo:tag`; refuse missing tags, `latest` and digests-without-tag."""
    ref = str(ref)
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag or not tag:
        raise ConfigError(key, ref, "image needs a pinned tag, e.g. repo/app:1.2.3")
    if tag == "latest":
        raise ConfigError(key, ref, "image tag `latest` is not allowed: pin a version")
    return name, tag


def _pinned_tag(key: str, tag: str) -> str:
    if not tag or tag == "latest":
        raise ConfigError(key, tag, "a pinned image tag is required (not empty, not `latest`)")
    return tag


def _choice(key: str, value: Any, allowed: tuple) -> Any:
    if value not in allowed:
        raise ConfigError(key, value, "allowed values: " + ", ".join(str(a) for a in allowed))
    return value


def _int(key: str, value: Any, minimum: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise ConfigError(key, value, "expected an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(key, value, f"must be >= {minimum}")
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(key, value, "expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, "expected a number") from None
    if number <= 0:
        raise ConfigError(key, value, "must be > 0")
    return number


# --------------------------------------------------------------------------- reader
class _Reader:
    """Typed access to raw config strings, failing by key."""

    def __init__(self, get: Callable[[str], Optional[str]]):
        self._get = get

    def raw(self, key: str) -> str:
        value = self._get(key)
        if value is None:
            raise ConfigError(key, None, "missing: declare it in Pulumi.yaml or set it in the stack")
        return value

    def str(self, key: str) -> str:
        return self.raw(key)

    def int(self, key: str, minimum: Optional[int] = None) -> int:
        return _int(key, self.raw(key), minimum)

    def bool(self, key: str) -> bool:
        value = self.raw(key).strip().lower()
        return _choice(key, value, ("true", "false")) == "true"

    def json(self, key: str) -> Any:
        text = self.raw(key)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(key, text, "expected structured YAML (a list or map)") from None


# --------------------------------------------------------------------------- sections
def _sentinel(r: _Reader) -> SentinelSettings:
    nodes = r.int("sentinelNodes")
    if nodes < 3 or nodes % 2 == 0:
        raise ConfigError("sentinelNodes", nodes, "must be odd and >= 3 (3, 5, 7) so a majority exists")
    quorum = r.int("sentinelQuorum")
    if not nodes // 2 + 1 <= quorum <= nodes:
        raise ConfigError("sentinelQuorum", quorum,
                          f"must be a majority of sentinelNodes={nodes}: {nodes // 2 + 1}..{nodes}")
    down_after = r.int("sentinelDownAfterMs", minimum=1000)
    failover = r.int("sentinelFailoverTimeoutMs", minimum=1000)
    if failover <= down_after:
        raise ConfigError("sentinelFailoverTimeoutMs", failover,
                          f"must be greater than sentinelDownAfterMs={down_after}")
    master_set = r.str("sentinelMasterSet")
    if not re.match(r"^[A-Za-z0-9_-]+$", master_set):
        raise ConfigError("sentinelMasterSet", master_set, "letters, digits, - and _ only")
    return SentinelSettings(nodes, quorum, down_after, failover, master_set)


def _thresholds(r: _Reader) -> Thresholds:
    given = r.json("thresholds") or {}
    if not isinstance(given, dict):
        raise ConfigError("thresholds", given, "expected a map of threshold name to number")
    unknown = sorted(set(given) - set(THRESHOLD_DEFAULTS))
    if unknown:
        raise ConfigError(f"thresholds.{unknown[0]}", given[unknown[0]],
                          "unknown threshold; allowed: " + ", ".join(THRESHOLD_DEFAULTS))
    merged = {k: _number(f"thresholds.{k}", given.get(k, d)) for k, d in THRESHOLD_DEFAULTS.items()}
    for low, high in (("memoryUsedPercentWarning", "memoryUsedPercentCritical"),
                      ("fragmentationWarning", "fragmentationCritical")):
        if merged[low] >= merged[high]:
            raise ConfigError(f"thresholds.{high}", merged[high], f"must be greater than thresholds.{low}={merged[low]}")
    return Thresholds(
        sessions_high=int(merged["sessionsHigh"]),
        memory_used_percent_warning=merged["memoryUsedPercentWarning"],
        memory_used_percent_critical=merged["memoryUsedPercentCritical"],
        container_memory_percent_warning=merged["containerMemoryPercentWarning"],
        fragmentation_warning=merged["fragmentationWarning"],
        fragmentation_critical=merged["fragmentationCritical"],
        connected_clients_high=int(merged["connectedClientsHigh"]),
        jvm_heap_percent_warning=merged["jvmHeapPercentWarning"],
    )


def _was_app(index: int, raw: Any, used_databases: dict[int, str]) -> WasAppSettings:
    at = f"wasApps[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(at, raw, "each WAS app is a map with at least name and image")
    unknown = sorted(set(raw) - set(WAS_DEFAULTS) - set(WAS_REQUIRED))
    if unknown:
        raise ConfigError(f"{at}.{unknown[0]}", raw[unknown[0]],
                          "unknown field; allowed: " + ", ".join(WAS_REQUIRED + tuple(WAS_DEFAULTS)))
    for field in WAS_REQUIRED:
        if not raw.get(field):
            raise ConfigError(f"{at}.{field}", raw.get(field), "required")
    v = {**WAS_DEFAULTS, **raw}
    name = str(v["name"])
    if not _DNS1035.match(name):
        raise ConfigError(f"{at}.name", name, "lower-case DNS-1035 label: a-z, 0-9, '-', starts with a letter, <= 40 chars")
    parse_image(f"{at}.image", v["image"])
    boot = _choice(f"{at}.springBootMajor", _int(f"{at}.springBootMajor", v["springBootMajor"]), BOOT_MAJORS)
    repo_type = v["repositoryType"] or ("indexed" if boot == 2 else "default")
    _choice(f"{at}.repositoryType", repo_type, REPOSITORY_TYPES)
    if boot == 2 and repo_type != "indexed":
        raise ConfigError(f"{at}.repositoryType", repo_type,
                          "Spring Boot 2 auto-configures only the indexed repository; allowed: indexed")
    min_r = _int(f"{at}.minReplicas", v["minReplicas"], minimum=1)
    max_r = _int(f"{at}.maxReplicas", v["maxReplicas"], minimum=1)
    if max_r < min_r:
        raise ConfigError(f"{at}.maxReplicas", max_r, f"must be >= minReplicas={min_r}")
    database = v["sessionDatabase"]
    database = index + 1 if database is None else _int(f"{at}.sessionDatabase", database)
    _choice(f"{at}.sessionDatabase", database, tuple(REDIS_DATABASES))
    if database in used_databases:
        raise ConfigError(f"{at}.sessionDatabase", database,
                          f"already used by app {used_databases[database]!r}: one database per app keeps the session count exact")
    used_databases[database] = name
    memory_request = str(v["memoryRequest"])
    memory_limit = str(v["memoryLimit"])
    if parse_quantity_bytes(f"{at}.memoryLimit", memory_limit) < parse_quantity_bytes(f"{at}.memoryRequest", memory_request):
        raise ConfigError(f"{at}.memoryLimit", memory_limit, f"must be >= memoryRequest={memory_request}")
    target = _int(f"{at}.targetCpuPercent", v["targetCpuPercent"], minimum=1)
    if target > 100:
        raise ConfigError(f"{at}.targetCpuPercent", target, "must be 1..100")
    port = _int(f"{at}.port", v["port"], minimum=1024)
    if port > 65535:
        raise ConfigError(f"{at}.port", port, "must be 1024..65535")
    return WasAppSettings(
        name=name,
        image=str(v["image"]),
        boot_major=boot,
        min_replicas=min_r,
        max_replicas=max_r,
        session_timeout_seconds=parse_duration_seconds(f"{at}.sessionTimeout", v["sessionTimeout"]),
        repository_type=repo_type,
        flush_mode=_choice(f"{at}.flushMode", v["flushMode"], FLUSH_MODES),
        session_namespace=str(v["sessionNamespace"] or f"spring:session:{name}"),
        session_database=database,
        port=port,
        resources=Resources(_cpu(f"{at}.cpuRequest", v["cpuRequest"]), _cpu(f"{at}.cpuLimit", v["cpuLimit"]),
                            memory_request, memory_limit),
        target_cpu_percent=target,
    )


def _was_apps(r: _Reader) -> tuple[WasAppSettings, ...]:
    raw = r.json("wasApps")
    if not isinstance(raw, list) or not raw:
        raise ConfigError("wasApps", raw, "at least one WAS app (a list of maps with name and image) is required")
    used: dict[int, str] = {}
    apps = tuple(_was_app(i, item, used) for i, item in enumerate(raw))
    names = [a.name for a in apps]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError("wasApps", names, f"app names must be unique; {duplicate!r} repeats")
    return apps


def _redis(r: _Reader, apps: tuple[WasAppSettings, ...]) -> RedisSettings:
    topology = r.str("redisTopology")
    if topology == "cluster":
        raise ConfigError("redisTopology", topology,
                          "Redis Cluster is not built yet (Spring Session works with standalone or sentinel); allowed: standalone, sentinel")
    _choice("redisTopology", topology, TOPOLOGIES)
    release = r.str("redisReleaseName")
    if not _DNS1035.match(release):
        raise ConfigError("redisReleaseName", release, "lower-case DNS-1035 label, <= 40 chars")
    registry = r.str("imageRegistry")
    memory = r.str("redisMemory")
    memory_bytes = parse_quantity_bytes("redisMemory", memory)
    maxmemory = r.str("redisMaxmemory").strip().lower()
    maxmemory_bytes = parse_redis_memory("redisMaxmemory", maxmemory)
    ceiling = int(memory_bytes * sizing.MAXMEMORY_MAX_FRACTION_OF_LIMIT)
    if maxmemory_bytes > ceiling:
        raise ConfigError("redisMaxmemory", maxmemory,
                          f"must be <= {int(sizing.MAXMEMORY_MAX_FRACTION_OF_LIMIT * 100)}% of redisMemory={memory} "
                          f"({ceiling // 2**20}mb) to leave room for the AOF-rewrite fork")
    return RedisSettings(
        topology=topology,
        release_name=release,
        chart=r.str("redisChart"),
        chart_version=r.str("redisChartVersion"),
        redis_image=Image(registry, r.str("redisImageRepository"),
                          _pinned_tag("redisImageTag", r.str("redisImageTag"))),
        sentinel_image=Image(registry, r.str("sentinelImageRepository"),
                             _pinned_tag("sentinelImageTag", r.str("sentinelImageTag"))),
        maxmemory=maxmemory,
        maxmemory_bytes=maxmemory_bytes,
        maxmemory_policy=_choice("redisMaxmemoryPolicy", r.str("redisMaxmemoryPolicy"), MAXMEMORY_POLICIES),
        resources=Resources(_cpu("redisCpuRequest", r.str("redisCpuRequest")),
                            _cpu("redisCpuLimit", r.str("redisCpuLimit")), memory, memory),
        persistence_size=_size("redisPersistenceSize", r.str("redisPersistenceSize")),
        storage_class=r.str("redisStorageClass"),
        sentinel=_sentinel(r) if topology == "sentinel" else None,
        keyspace_notifications=any(a.repository_type == "indexed" for a in apps),
    )


def _url(key: str, text: str) -> str:
    if not re.match(r"^https?://[^\s#]+$", text):
        raise ConfigError(key, text, "an http(s) URL without a #fragment")
    return text


def _size(key: str, text: str) -> str:
    parse_quantity_bytes(key, text)
    return text


def _sizing(r: _Reader, redis: RedisSettings, apps: tuple[WasAppSettings, ...]) -> Sizing:
    peak = r.int("expectedPeakSessions", minimum=1)
    payload = r.int("sessionPayloadBytes", minimum=0)
    worst = "indexed" if any(a.repository_type == "indexed" for a in apps) else "default"
    need = sizing.required_maxmemory(peak, payload, worst)
    if redis.maxmemory_bytes < need:
        raise ConfigError("redisMaxmemory", redis.maxmemory,
                          f"cannot hold expectedPeakSessions={peak} of sessionPayloadBytes={payload} "
                          f"({worst} repository) with {int((sizing.SESSION_HEADROOM - 1) * 100)}% headroom: "
                          f"needs >= {-(-need // 2**20)}mb")
    return Sizing(peak, payload)


def _slack(r: _Reader, get_secret: Callable[[str], Optional[pulumi.Output]]) -> Optional[SlackSettings]:
    channel = r.str("slackChannel")
    if not channel:
        return None
    if not re.match(r"^[#@]?[a-z0-9._-]{1,80}$", channel):
        raise ConfigError("slackChannel", channel, "a Slack channel name such as #alerts")
    webhook = get_secret("slackWebhookUrl")
    if webhook is None:
        raise ConfigError("slackWebhookUrl", None,
                          "required when slackChannel is set: pulumi config set --secret slackWebhookUrl https://hooks.slack.com/...")
    return SlackSettings(channel, webhook, r.bool("slackSendResolved"))


def load_from(get: Callable[[str], Optional[str]],
              get_secret: Callable[[str], Optional[pulumi.Output]],
              project: str, stack: str) -> StackSettings:
    """Parse all settings from raw getters (testable without a Pulumi runtime)."""
    r = _Reader(get)
    namespace = r.str("namespace")
    if not _DNS1035.match(namespace) and not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", namespace):
        raise ConfigError("namespace", namespace, "a DNS-1123 label: a-z, 0-9, '-'")
    kube_version = r.str("kubernetesVersion")
    if not re.match(r"^1\.\d{2}$", kube_version):
        raise ConfigError("kubernetesVersion", kube_version, "a minor version such as 1.33")
    apps = _was_apps(r)
    redis = _redis(r, apps)
    prometheus_release = r.str("prometheusRelease")
    if not prometheus_release:
        raise ConfigError("prometheusRelease", prometheus_release,
                          "required: Prometheus selects ServiceMonitors by this release label (empty dashboards otherwise)")
    exporter_image = r.str("exporterImage")
    parse_image("exporterImage", exporter_image)
    monitoring = MonitoringSettings(
        prometheus_release=prometheus_release,
        prometheus_namespace=r.str("prometheusNamespace"),
        grafana_namespace=r.str("grafanaNamespace"),
        exporter_image=exporter_image,
        thresholds=_thresholds(r),
        runbook_base_url=_url("runbookBaseUrl", r.str("runbookBaseUrl")),
        slack=_slack(r, get_secret),
    )
    return StackSettings(
        project=project,
        stack=stack,
        namespace=namespace,
        create_namespace=r.bool("createNamespace"),
        kubernetes_version=kube_version,
        redis=redis,
        was_apps=apps,
        monitoring=monitoring,
        sizing=_sizing(r, redis, apps),
    )


def load() -> StackSettings:
    """Parse the current stack's config (called once, by __main__.py)."""
    cfg = pulumi.Config()

    def secret(key: str) -> Optional[pulumi.Output]:
        return cfg.get_secret(key) if cfg.get(key) else None

    return load_from(cfg.get, secret, pulumi.get_project(), pulumi.get_stack())
