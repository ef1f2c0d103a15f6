"""Object names and labels, computed in one place.

The Bitnami chart's names are a function of its fullname (we always set
fullnameOverride = release name, so they are deterministic). Consumers (WAS, exporter,
tests) take names from here, never from string literals: incident 2 (`redis` instead of
`redis-master`) cannot be written.
"""
from __future__ import annotations

import hashlib
import re

from . import validators

PART_OF = "redis-session-platform"
MANAGED_BY = "pulumi"
REDIS_PORT = 6379
REDIS_TLS_PORT = 6380
"""standalone topology with TLS certificates: the master Service's TLS port, which TLS clients use (Azure Cache
for Redis' convention); during a TLS transition also Redis's second listening port (docs/decisions.md)."""
SENTINEL_PORT = 26379
EXPORTER_PORT = 9121
PASSWORD_KEY = "redis-password"
"""Key of the chart-internal password (user `default`: replication, Sentinel, the chart's scripts)."""
CLIENT_PASSWORD_KEY = "password"
"""Key of a client's ACL password in its credentials Secret."""
EXPORTER_USER = "exporter"
"""Redis ACL user of redis_exporter (read-only)."""
OPERATOR_USER = "operator"
"""Redis ACL user of the humans following docs/runbooks.md (redis-cli inside a Redis pod)."""
COUNTER_USER = "counter"
"""Redis ACL user of the session counter sidecar (SCAN of the session keys, SET of SESSION_COUNT_KEY only)."""
SESSION_COUNT_KEY = "_redis-session-platform:session-count"
"""The key the session counter writes each SCAN-counted store's count to, in that store's
database (one database per app). No app can write it: an app's keys are `<namespace>:*`
(components/config/acl.py) and a namespace starts with a letter or digit (components/config/schema.py), never
`_`, and holds no glob character. No ',', '=', '%' or '+': it goes into --check-single-keys."""
"""Redis ACL user of the humans following docs/runbooks.md (redis-cli inside a Redis pod)."""
OPERATOR_DIR = "/opt/bitnami/redis/operator"
"""Where the operator's password Secret is mounted in the Redis containers (file CLIENT_PASSWORD_KEY)."""
ACL_DIR = "/opt/bitnami/redis/acl"
"""Where the ACL Secret is mounted in the Redis and Sentinel containers."""
REDIS_ACL_FILE = "redis.acl"
SENTINEL_ACL_FILE = "sentinel.acl"
CLUSTER_DOMAIN = "cluster.local"
CREDENTIAL_ANNOTATION = "redis-session-platform/redis-password-generation"
"""Pod template annotation of every Redis client: a new password generation rolls its pods."""
DASHBOARD = "redis-sessions-007"
"""Prefix of the Grafana dashboard's uid and of its ConfigMap's name."""


def redis_master_service(fullname: str) -> str:
    """standalone: the Service in front of the master StatefulSet."""
    return f"{fullname}-master"


def redis_headless_service(fullname: str) -> str:
    """Headless Service giving each Redis pod a DNS name."""
    return f"{fullname}-headless"


def redis_sentinel_service(fullname: str) -> str:
    """sentinel: Service with 6379 and 26379 in front of all nodes."""
    return fullname


def redis_node_statefulset(fullname: str, topology: str) -> str:
    """The chart's StatefulSet for the master (standalone) or all nodes (sentinel)."""
    return f"{fullname}-master" if topology == "standalone" else f"{fullname}-node"


def redis_pod_host(fullname: str, topology: str, index: int, namespace: str) -> str:
    """Stable DNS name of Redis pod N."""
    pod = f"{redis_node_statefulset(fullname, topology)}-{index}"
    return f"{pod}.{redis_headless_service(fullname)}.{namespace}.svc.{CLUSTER_DOMAIN}"


def service_host(service: str, namespace: str) -> str:
    """Cluster DNS name of a Service."""
    return f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}"


def dashboard_uid(stack: str) -> str:
    """Grafana dashboard uid (<= 40 characters): prefix + stack, or + a hash of a long stack name."""
    uid = f"{DASHBOARD}-{stack}"
    return uid if len(uid) <= 40 and re.match(r"^[A-Za-z0-9_-]+$", uid) else \
        f"{DASHBOARD}-{hashlib.sha256(stack.encode()).hexdigest()[:12]}"


def exporter(fullname: str) -> str:
    """Name of the exporter's objects for the Redis of this fullname. The chart never makes a
    `<fullname>-exporter` (its own exporter is `<fullname>-metrics`, disabled here)."""
    return f"{fullname}-exporter"


def pod_monitor_job(namespace: str, pod_monitor: str) -> str:
    """The `job` label prometheus-operator gives a PodMonitor's targets (no jobLabel set):
    `<namespace>/<PodMonitor name>` (pkg/prometheus/promcfg.go, generatePodMonitorConfig).
    Each WAS app's PodMonitor is named after the app."""
    return f"{namespace}/{pod_monitor}"


def redis_password_secret(fullname: str) -> str:
    """Secret holding the generated Redis password under PASSWORD_KEY."""
    return f"{fullname}-password"


def acl_secret(fullname: str) -> str:
    """Secret holding the Redis and Sentinel ACL files (password hashes only)."""
    return f"{fullname}-acl"


def operator(fullname: str) -> str:
    """Client object name of the operator of the Redis of this fullname (its RandomPasswords
    are `<fullname>-operator-g<N>`, like every other ACL user's)."""
    return f"{fullname}-{OPERATOR_USER}"


def counter(fullname: str) -> str:
    """Client object name of the session counter of the Redis of this fullname (its RandomPasswords
    are `<fullname>-counter-g<N>`, like every other ACL user's)."""
    return f"{fullname}-{COUNTER_USER}"


def operator_secret(fullname: str) -> str:
    """Secret with the operator's current ACL password (key CLIENT_PASSWORD_KEY), mounted at OPERATOR_DIR."""
    return f"{fullname}-operator-auth"


def tls_secret(fullname: str) -> str:
    """Secret with the Redis server certificate, its key and the CA (chart tls.existingSecret)."""
    return f"{fullname}-tls"


def app_user(app: str) -> str:
    """Redis ACL user of a WAS app (the `was-` prefix keeps it apart from default and exporter)."""
    return f"was-{app}"


def client_auth_secret(client: str) -> str:
    """Secret with a client's current ACL password (key CLIENT_PASSWORD_KEY)."""
    return f"{client}-redis-auth"


def client_tls_secret(client: str) -> str:
    """Secret with a client's certificate, key and the CA (tls.crt, tls.key, ca.crt)."""
    return f"{client}-redis-tls"


def exporter_web_tls_secret(exporter: str) -> str:
    """Secret with the exporter's web (HTTPS) server certificate, key and the CA its clients
    must be signed by (tls.crt, tls.key, ca.crt)."""
    return f"{exporter}-web-tls"


def exporter_scrape_tls_secret(exporter: str) -> str:
    """Secret with Prometheus's client certificate for the exporter's web endpoint, its key and
    the CA (tls.crt, tls.key, ca.crt); the ServiceMonitor's tlsConfig reads it."""
    return f"{exporter}-scrape-tls"


def exporter_dns_names(exporter: str, namespace: str) -> list[str]:
    """Names of the exporter's Service; the first full one is the ServiceMonitor's serverName."""
    return [f"{exporter}.{namespace}.svc", exporter, f"{exporter}.{namespace}",
            f"{exporter}.{namespace}.svc.cluster.local"]


def tls_dns_names(fullname: str, namespace: str) -> list[str]:
    """Every name a client may use for a Redis or Sentinel process: the Services and each
    pod of the headless Service (Sentinel announces those), plus loopback for the chart's
    own probes."""
    domain = f"{namespace}.svc.{CLUSTER_DOMAIN}"
    return [f"{redis_master_service(fullname)}.{domain}", f"{redis_sentinel_service(fullname)}.{domain}",
            f"{redis_headless_service(fullname)}.{domain}", f"*.{redis_headless_service(fullname)}.{domain}",
            "localhost"]


def redis_client_label(fullname: str) -> tuple[str, str]:
    """The label the chart's NetworkPolicy (allowExternal=false) admits to Redis."""
    return f"{fullname}-client", "true"


def redis_pod_selector(fullname: str) -> dict[str, str]:
    """Labels the chart puts on every Redis pod (app.kubernetes.io/*)."""
    return {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": fullname}


def selector_labels(name: str, component: str) -> dict[str, str]:
    """Immutable selector labels: never a version."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def labels(name: str, component: str, version: str | None = None) -> dict[str, str]:
    """Full object labels: selector labels plus managed-by and (optionally) version."""
    out = {**selector_labels(name, component), "app.kubernetes.io/managed-by": MANAGED_BY}
    if version:
        out["app.kubernetes.io/version"] = validators.label_value(version)
    return out


def image_version(image: str) -> str | None:
    """The tag of an image reference when it is a valid label value (an image tag may be
    128 characters and start with '_'; a label value may not): else None, no label."""
    tag = image.partition("@")[0].rpartition("/")[2].partition(":")[2]
    return tag if tag and validators.is_label_value(tag) else None


# Kinds each WasApp creates, all named after the app.
WAS_KINDS = ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "PodMonitor")
EXPORTER_KINDS = ("Deployment", "Service", "NetworkPolicy", "ServiceMonitor")


def chart_objects(fullname: str, topology: str) -> dict[tuple[str, str], str]:
    """(kind, name) of every object the Bitnami chart 23.1.1 creates with our values; the
    chart-backed tests compare this with `helm template` of the pinned chart."""
    common = ["ConfigMap/{f}-configuration", "ConfigMap/{f}-health", "ConfigMap/{f}-scripts",
              "Service/{f}-headless", "NetworkPolicy/{f}"]
    if topology == "standalone":
        own = ["Service/{f}-master", "StatefulSet/{f}-master", "ServiceAccount/{f}-master"]
    else:
        own = ["Service/{f}", "StatefulSet/{f}-node", "ServiceAccount/{f}", "PodDisruptionBudget/{f}-node"]
    return {tuple(o.format(f=fullname).split("/", 1)): "Redis chart" for o in common + own}  # type: ignore[misc]


def planned_objects(fullname: str, topology: str) -> dict[tuple[str, str], str]:
    """(kind, name) -> owner of every namespaced object the Redis store and its exporter create."""
    planned = chart_objects(fullname, topology)
    planned[("Secret", redis_password_secret(fullname))] = "Redis store"
    planned[("Secret", acl_secret(fullname))] = "Redis store"
    planned[("Secret", tls_secret(fullname))] = "Redis store"
    for kind in EXPORTER_KINDS:
        planned[(kind, exporter(fullname))] = "Redis exporter"
    return planned
