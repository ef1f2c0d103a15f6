"""RedisSessionStore: Bitnami Redis (standalone | sentinel) for Spring Session.

Children: a RandomPassword, the Secret holding it, and a helm.v3.Release of the pinned
Bitnami chart (docs/decisions.md says why v3.Release). The chart never sees the
password: it reads the Secret through auth.existingSecret.

The component's instance name is the chart's fullname (release name and
fullnameOverride), so every object name derives from it and two stores in one stack do
not collide. Its `connection` is the one object every consumer (WAS, exporter) uses; the
names come from settings.names, the chart's naming rules for that fullname (checked
against `helm template` of the pinned chart by tests/render/test_chart.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from settings import names
from settings.model import RedisSettings, Resources
from settings.podsecurity import REDIS_UID, restricted_container


@dataclass(frozen=True)
class RedisConnection:
    """How clients reach Redis. Plain values: every name is deterministic."""

    mode: str
    """`standalone` or `sentinel`."""
    namespace: str
    """Namespace of the Redis objects (clients must run here: NetworkPolicy)."""
    port: int
    """Redis port."""
    host: str | None
    """standalone: the master Service DNS name; sentinel: None (ask Sentinel)."""
    sentinel_master_set: str | None
    """sentinel: master set name."""
    sentinel_nodes: tuple[str, ...]
    """sentinel: `host:26379` of every Sentinel."""
    node_hosts: tuple[str, ...]
    """Stable DNS name of every Redis pod (the exporter scrapes each)."""
    secret_name: str
    """Secret with the password."""
    secret_key: str
    """Key of the password in that Secret."""
    client_labels: dict = field(hash=False)
    """Labels a pod needs to pass the Redis NetworkPolicy."""

    @property
    def sentinel_port(self) -> int:
        """Sentinel port."""
        return names.SENTINEL_PORT


@dataclass(frozen=True)
class RedisSessionStoreArgs:
    """Inputs of RedisSessionStore."""

    settings: RedisSettings
    """Topology, images, memory, persistence, Sentinel settings."""
    namespace: str
    """Namespace to deploy into."""


def connection_for(fullname: str, settings: RedisSettings, namespace: str) -> RedisConnection:
    """The connection object for a topology, from the chart's naming rules."""
    label_key, label_value = names.redis_client_label(fullname)
    common: dict[str, Any] = dict(
        namespace=namespace,
        port=names.REDIS_PORT,
        secret_name=names.redis_password_secret(fullname),
        secret_key=names.PASSWORD_KEY,
        client_labels={label_key: label_value},
    )
    if settings.topology == "standalone":
        return RedisConnection(
            mode="standalone",
            host=names.service_host(names.redis_master_service(fullname), namespace),
            sentinel_master_set=None,
            sentinel_nodes=(),
            node_hosts=(names.redis_pod_host(fullname, "standalone", 0, namespace),),
            **common,
        )
    sentinel = settings.sentinel
    assert sentinel is not None, "sentinel topology without Sentinel settings"
    nodes = tuple(names.redis_pod_host(fullname, "sentinel", i, namespace) for i in range(sentinel.nodes))
    return RedisConnection(
        mode="sentinel",
        host=None,
        sentinel_master_set=sentinel.master_set,
        sentinel_nodes=tuple(f"{h}:{names.SENTINEL_PORT}" for h in nodes),
        node_hosts=nodes,
        **common,
    )


def _redis_conf(s: RedisSettings) -> str:
    # Replaces the chart's default commonConfiguration, so its defaults are restated.
    # AOF every second: at most ~1 s of session writes lost on a crash (live-tested).
    lines = [
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        f"maxmemory {s.maxmemory}",
        f"maxmemory-policy {s.maxmemory_policy}",
    ]
    if s.keyspace_notifications:
        # The indexed repository relies on expired/generic keyspace events; apps are
        # told configure-action=none, so Redis sets them here instead of via CONFIG.
        lines.append("notify-keyspace-events Egx")
    return "\n".join(lines) + "\n"


def _container_security() -> dict:
    # The chart's containerSecurityContext has no `privileged` key (23.1.1 values.yaml);
    # unset means false, which restricted Pod Security accepts.
    ctx = {k: v for k, v in restricted_container(REDIS_UID).items() if k != "privileged"}
    return {"enabled": True, **ctx}


def _pod_security() -> dict:
    # Incident 1 ("Can't open and lock config file: Permission denied" on the PV):
    # the kubelet gives the volume group REDIS_UID (fsGroup, also a supplementary group of
    # every container) when its root does not match (OnRootMismatch: no slow recursive
    # chown on every start), and no root init container (volumePermissions) is needed or
    # allowed.
    return {"enabled": True, "fsGroup": REDIS_UID, "fsGroupChangePolicy": "OnRootMismatch"}


def _node_values(s: RedisSettings, resources: Resources) -> dict[str, Any]:
    values: dict[str, Any] = {
        "resourcesPreset": "none",
        "resources": resources.to_k8s(),
        "podSecurityContext": _pod_security(),
        "containerSecurityContext": _container_security(),
        "automountServiceAccountToken": False,
        "persistence": {"enabled": True, "size": s.persistence_size},
    }
    if s.storage_class:
        values["persistence"]["storageClass"] = s.storage_class
    return values


def chart_values(fullname: str, s: RedisSettings) -> dict:
    """The values the Bitnami chart receives (no secret in here)."""
    image = {"registry": s.redis_image.registry, "repository": s.redis_image.repository, "tag": s.redis_image.tag}
    values: dict = {
        "fullnameOverride": fullname,
        # bitnamilegacy/* (or a mirror) is not the chart's default repository.
        "global": {"security": {"allowInsecureImages": True}},
        "image": image,
        "auth": {
            "enabled": True,
            "sentinel": True,
            "existingSecret": names.redis_password_secret(fullname),
            "existingSecretPasswordKey": names.PASSWORD_KEY,
        },
        "commonConfiguration": _redis_conf(s),
        "volumePermissions": {"enabled": False},
        "sysctl": {"enabled": False},
        "metrics": {"enabled": False},  # our own exporter (components/exporter.py)
        "serviceAccount": {"create": True, "automountServiceAccountToken": False},
        "networkPolicy": {"enabled": True, "allowExternal": False},
    }
    node = _node_values(s, s.resources)
    if s.topology == "standalone":
        values["architecture"] = "standalone"
        values["master"] = {**node, "count": 1, "pdb": {"create": False}}
        return values
    sentinel = s.sentinel
    assert sentinel is not None, "sentinel topology without Sentinel settings"
    spread_selector = {"matchLabels": {**names.redis_pod_selector(fullname), "app.kubernetes.io/component": "node"}}
    values["architecture"] = "replication"
    # In Sentinel mode every node (master included) takes replica.* values.
    values["replica"] = {
        **node,
        "replicaCount": sentinel.nodes,
        "pdb": {"create": True, "maxUnavailable": 1},
        "podAntiAffinityPreset": "",
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
             "whenUnsatisfiable": "DoNotSchedule", "labelSelector": spread_selector},
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
             "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": spread_selector},
        ],
    }
    values["sentinel"] = {
        "enabled": True,
        "image": {"registry": s.sentinel_image.registry, "repository": s.sentinel_image.repository,
                  "tag": s.sentinel_image.tag},
        "masterSet": sentinel.master_set,
        "quorum": sentinel.quorum,
        "downAfterMilliseconds": sentinel.down_after_ms,
        "failoverTimeout": sentinel.failover_timeout_ms,
        "resourcesPreset": "none",
        "resources": Resources("50m", "250m", "64Mi", "64Mi").to_k8s(),
        "containerSecurityContext": _container_security(),
    }
    return values


class RedisSessionStore(pulumi.ComponentResource):
    """Redis for Spring Session: password, Secret, Bitnami chart."""

    connection: RedisConnection
    release: k8s.helm.v3.Release
    password: pulumi.Output

    def __init__(self, name: str, args: RedisSessionStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:RedisSessionStore", name, None, opts)
        s = args.settings
        self.connection = connection_for(name, s, args.namespace)

        password = random.RandomPassword(
            f"{name}-password",
            length=32,
            special=False,  # safe in redis:// URIs and shell-free env vars
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.password = pulumi.Output.secret(password.result)
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self.connection.secret_name,
                namespace=args.namespace,
                labels=names.labels(name, "redis"),
            ),
            type="Opaque",
            string_data={self.connection.secret_key: self.password},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-chart",
            k8s.helm.v3.ReleaseArgs(
                name=name,
                chart=s.chart,
                version=s.chart_version,
                namespace=args.namespace,
                values=chart_values(name, s),
                atomic=True,
                timeout=600,
                max_history=10,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]),
        )
        self.register_outputs({
            "mode": self.connection.mode,
            "host": self.connection.host,
            "sentinelMasterSet": self.connection.sentinel_master_set,
            "sentinelNodes": list(self.connection.sentinel_nodes),
            "secretName": self.connection.secret_name,
            "releaseStatus": self.release.status,
        })
