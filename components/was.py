"""WasApp: one Spring web application server sharing its HTTP sessions through Redis.

Deployment + Service + HPA + PDB + NetworkPolicy + PodMonitor. Spring Session settings
are env vars computed from the RedisConnection (never typed by hand), in the property
names of the app's Spring Boot line (its row in components/config/boot.py). The app logs in as its own ACL user
(`was-<app>`); its password arrives as a file from its credentials Secret, read by Spring's
configtree import (no secret in env vars); with TLS its certificate, key and the CA arrive
as files too (an SSL bundle). Actuator is served on a separate management port that only
Prometheus may reach; the kubelet probes /livez and /readyz on the app port.
"""

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .config import names
from .config.app import WasAppSettings
from .config.boot import env_name
from .config.model import settings_of
from .config.podsecurity import WAS_UID, restricted_container
from .config.workload import SECRETS_DIR, TLS_DIR, TMP_DIR
from .redis import ClientCredentials, RedisConnection, client_egress, client_pod_annotations, connection_of

COMPONENT = "was"
SSL_BUNDLE = "redis"
PRESTOP_SLEEP_SECONDS = 10
SHUTDOWN_PHASE_SECONDS = 20
# preStop sleep (endpoints drain) + Spring graceful shutdown + margin.
TERMINATION_GRACE_SECONDS = PRESTOP_SLEEP_SECONDS + SHUTDOWN_PHASE_SECONDS + 15


class WasAppArgs(TypedDict):
    """Inputs of WasApp."""

    app: WasAppSettings
    """The app's settings."""
    connection: pulumi.Input[Mapping[str, Any]]
    ("Where sessions live and the app's own credentials: RedisSessionStore's `connection` (the store must "
     "list the app in its `apps`).")
    prometheus_release: str
    """`release` label kube-prometheus selects PodMonitors by."""
    prometheus_namespace: NotRequired[str]
    """The only namespace admitted to the management (actuator) port (default `monitoring`)."""
    dns_egress: NotRequired[Sequence[Mapping[str, Any]]]
    """Egress rules to the cluster DNS (the stack's dnsEgress, StackSettings.dns_egress_rules); unset: its default."""


def credentials(app: WasAppSettings, conn: RedisConnection) -> ClientCredentials:
    """The app's own credentials, as the store hands them out."""
    if app.name not in conn["apps"]:
        raise ValueError(f"WAS app {app.name!r} has no Redis user: list it in the store's apps "
                         f"(it has {sorted(conn['apps'])})")
    return conn["apps"][app.name]


HEALTH_GROUP = "sessions"
"""Health group including the `redis` contributor, served at /actuator/health/sessions;
no probe uses it (readiness must not depend on Redis)."""


def fail_fast_env() -> list[dict]:
    """Make an image without Spring Data Redis stop at start. Boot 3.1+ validates health
    group membership at startup (HealthEndpointConfiguration.HealthEndpointGroupMembershipValidator,
    on unless management.endpoint.health.validate-group-membership=false; env wins over the
    app's own properties): a group including `redis`, a contributor that only exists with a
    RedisConnectionFactory, fails with "Included health contributor 'redis' in group
    'sessions' does not exist" (failure analysis from 3.1.6). Boot 2.7 and 3.0 ignore it
    (docs/decisions.md, "Fail fast at start"; BootLine.health_group_validation_since)."""
    return [
        {"name": f"MANAGEMENT_ENDPOINT_HEALTH_GROUP_{HEALTH_GROUP.upper()}_INCLUDE", "value": "redis"},
        {"name": "MANAGEMENT_ENDPOINT_HEALTH_VALIDATE_GROUP_MEMBERSHIP", "value": "true"},
    ]


def spring_env(app: WasAppSettings, conn: RedisConnection) -> list[dict]:
    """Env vars (plain dicts) wiring Spring Session to Redis for this app."""
    redis = env_name(app.boot.redis_properties)
    session = env_name(app.boot.session_properties)
    env: list[dict] = [
        # The password arrives as files (see password_files), read by Spring's configtree.
        {"name": "SPRING_CONFIG_IMPORT", "value": f"optional:configtree:{SECRETS_DIR}/"},
    ]
    if app.boot.store_type_property:
        env.append({"name": env_name(app.boot.store_type_property), "value": "redis"})
    user = credentials(app, conn)["user"]
    env.append({"name": f"{redis}_USERNAME", "value": user})
    if conn["mode"] == "standalone":
        env += [
            {"name": f"{redis}_HOST", "value": conn["host"]},
            {"name": f"{redis}_PORT", "value": str(conn["port"])},
        ]
    else:
        # The same ACL user exists on every Sentinel, allowed only to ask for the master.
        env += [
            {"name": f"{redis}_SENTINEL_MASTER", "value": conn["sentinel_master_set"]},
            {"name": f"{redis}_SENTINEL_NODES", "value": ",".join(conn["sentinel_nodes"])},
            {"name": f"{redis}_SENTINEL_USERNAME", "value": user},
        ]
    if conn["tls"]:
        env += tls_env(app)
    env += [
        {"name": f"{redis}_DATABASE", "value": str(app.database)},
        {"name": f"{session}_NAMESPACE", "value": app.key_namespace},
        {"name": f"{session}_FLUSH_MODE", "value": app.flush_mode},
        # spring.session.timeout wins over server.servlet.session.timeout; set both.
        {"name": "SPRING_SESSION_TIMEOUT", "value": f"{app.session_timeout_seconds}s"},
        {"name": "SERVER_SERVLET_SESSION_TIMEOUT", "value": f"{app.session_timeout_seconds}s"},
    ]
    if app.boot.chooses_repository:
        env.append({"name": f"{session}_REPOSITORY_TYPE", "value": app.repository})
    if app.repository == "indexed":
        # Redis gets notify-keyspace-events from the chart config; apps need no CONFIG.
        env.append({"name": f"{session}_CONFIGURE_ACTION", "value": "none"})
    env += [
        {"name": "SERVER_SHUTDOWN", "value": "graceful"},
        {"name": "SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE", "value": f"{SHUTDOWN_PHASE_SECONDS}s"},
        {"name": "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED", "value": "true"},
        # Actuator off the app port; /livez and /readyz stay on it for the kubelet (Boot 2.7+,
        # AvailabilityProbesHealthEndpointGroupsPostProcessor).
        {"name": "MANAGEMENT_SERVER_PORT", "value": str(app.management_port)},
        {"name": "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ADD_ADDITIONAL_PATHS", "value": "true"},
        {"name": "MANAGEMENT_ENDPOINTS_WEB_EXPOSURE_INCLUDE", "value": "health,prometheus"},
        {"name": "MANAGEMENT_METRICS_TAGS_APPLICATION", "value": app.name},
        {"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=70.0 -Djava.io.tmpdir=/tmp"},
    ]
    env += fail_fast_env()
    return env


def tls_env(app: WasAppSettings) -> list[dict]:
    """TLS through an SSL bundle of PEM files (<redis properties>.ssl.enabled and .bundle,
    spring.ssl.bundle.pem.<name>.*). Lettuce applies it to the Sentinel connections too
    (Spring Data Redis LettuceConnectionFactory.getSentinelRedisURI) and verifies the host
    name. A Boot line without SSL bundles is refused by config (components/config/config.py _check_tls)."""
    assert app.boot.ssl_bundle_since, "config refuses redisTls on a Boot line without SSL bundles"
    redis = env_name(app.boot.redis_properties)
    bundle = f"SPRING_SSL_BUNDLE_PEM_{SSL_BUNDLE.upper()}"
    return [
        {"name": f"{redis}_SSL_ENABLED", "value": "true"},
        {"name": f"{redis}_SSL_BUNDLE", "value": SSL_BUNDLE},
        {"name": f"{bundle}_TRUSTSTORE_CERTIFICATE", "value": f"file:{TLS_DIR}/ca.crt"},
        {"name": f"{bundle}_KEYSTORE_CERTIFICATE", "value": f"file:{TLS_DIR}/tls.crt"},
        {"name": f"{bundle}_KEYSTORE_PRIVATE_KEY", "value": f"file:{TLS_DIR}/tls.key"},
    ]


def password_files(app: WasAppSettings, conn: RedisConnection) -> list[dict]:
    """Secret volume items: file name = Spring property (configtree), content = the app
    user's password (its credentials Secret)."""
    prop = app.boot.redis_properties
    paths = [f"{prop}.password"] + ([f"{prop}.sentinel.password"] if conn["mode"] == "sentinel" else [])
    return [{"key": names.CLIENT_PASSWORD_KEY, "path": p} for p in paths]


def _probe(path: str, period: int, failures: int) -> dict:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period,
            "timeoutSeconds": 3, "failureThreshold": failures}


def pod_spec(app: WasAppSettings, conn: RedisConnection) -> dict:
    """The Deployment's pod template spec (plain dict; also rendered for review). The app's own
    Kubernetes fields (env, volumes, scheduling...) are added where Kubernetes takes them; config refused every clash with the
    program's env names, volumes, mounts and labels, so the program's wiring is what runs."""
    selector = names.selector_labels(app.name, COMPONENT)
    extra = app
    creds = credentials(app, conn)
    scheduling: dict = {}
    if extra.service_account_name:
        scheduling["serviceAccountName"] = extra.service_account_name
    if extra.image_pull_secrets:
        scheduling["imagePullSecrets"] = list(extra.image_pull_secrets)
    if extra.node_selector:
        scheduling["nodeSelector"] = dict(extra.node_selector)
    if extra.tolerations:
        scheduling["tolerations"] = list(extra.tolerations)
    if extra.affinity:
        scheduling["affinity"] = extra.affinity
    container_extra: dict = {"envFrom": list(extra.env_from)} if extra.env_from else {}
    return {
        "automountServiceAccountToken": extra.automount_service_account_token,
        **scheduling,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": WAS_UID,
            "runAsGroup": WAS_UID,
            "fsGroup": WAS_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
             "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": selector}},
        ],
        "containers": [{
            "name": app.name,
            "image": app.image,
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": "http", "containerPort": app.port, "protocol": "TCP"},
                      {"name": "management", "containerPort": app.management_port, "protocol": "TCP"}],
            "env": [{"name": "SERVER_PORT", "value": str(app.port)}] + spring_env(app, conn) + list(extra.env),
            **container_extra,
            "resources": app.resources.to_k8s(),
            "startupProbe": _probe(extra.liveness_path, 5, 36),
            "livenessProbe": _probe(extra.liveness_path, 10, 3),
            "readinessProbe": _probe(extra.readiness_path, 5, 3),
            "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
            "securityContext": restricted_container(),
            "volumeMounts": [{"name": "tmp", "mountPath": TMP_DIR},
                             {"name": "redis-secret", "mountPath": SECRETS_DIR, "readOnly": True}]
            + ([{"name": "redis-tls", "mountPath": TLS_DIR, "readOnly": True}] if conn["tls"] else [])
            + list(extra.volume_mounts),
        }],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "redis-secret", "secret": {"secretName": creds["secret_name"], "defaultMode": 0o440,
                                                "items": password_files(app, conn)}},
        ] + ([{"name": "redis-tls", "secret": {"secretName": creds.get("tls_secret_name"),
                                                "defaultMode": 0o440}}] if conn["tls"] else []) + list(extra.volumes),
    }


def network_policy_spec(app: WasAppSettings, conn: RedisConnection, prometheus_namespace: str,
                        dns_egress: Sequence[Mapping[str, Any]] | None = None) -> dict:
    """Ingress: the app port from anywhere (the ingress path), the management port only from
    Prometheus's namespace, and the app's own ingress rules. Egress: Redis (and Sentinel) pods,
    the cluster DNS (dnsEgress) and the app's own egress rules, nothing else."""
    return {
        "podSelector": {"matchLabels": names.selector_labels(app.name, COMPONENT)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"ports": [{"protocol": "TCP", "port": app.port}]},
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": prometheus_namespace}}}],
             "ports": [{"protocol": "TCP", "port": app.management_port}]},
            *app.ingress,
        ],
        "egress": client_egress(conn, dns_egress) + list(app.egress),
    }


class WasApp(pulumi.ComponentResource):
    """A Spring WAS app with Redis-backed sessions. Its objects are named after the app
    (`args.app.name`), the Service name other workloads call."""

    service_name: pulumi.Output[str]
    """The app's Service (and Deployment) name: what other workloads call."""

    def __init__(self, name: str, args: WasAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:WasApp", name, None, opts)
        app = settings_of(WasAppSettings, args["app"])
        # A RedisConnection; typed as a map because a complex-typed input cannot take another resource's
        # output through the provider (docs/decisions.md, "Component API and provider").
        conn: pulumi.Output[RedisConnection] = pulumi.Output.from_input(args["connection"]).apply(connection_of)
        ns = conn.apply(lambda c: c["namespace"])  # the Redis NetworkPolicy admits clients of its own namespace
        selector = names.selector_labels(app.name, COMPONENT)

        def template(c: RedisConnection) -> dict:
            return {"metadata": {
                "labels": {**app.labels, **names.labels(app.name, COMPONENT, names.image_version(app.image)),
                           **c["client_labels"]},
                "annotations": {**app.annotations, **client_pod_annotations(c, credentials(app, c))}},
                "spec": pod_spec(app, c)}

        meta = lambda: k8s.meta.v1.ObjectMetaArgs(
            name=app.name, namespace=ns, labels=names.labels(app.name, COMPONENT, names.image_version(app.image)))
        child = pulumi.ResourceOptions(parent=self)

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(),
            spec=conn.apply(lambda c: {
                "replicas": app.min_replicas,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": template(c),
            }),
            # The HPA owns the replica count after creation.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"]),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(),
            spec={"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": app.port, "targetPort": "http", "protocol": "TCP"}]},
            opts=child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=meta(),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app.name},
                "minReplicas": app.min_replicas,
                "maxReplicas": app.max_replicas,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": app.target_cpu_percent}}}],
            },
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=meta(),
            spec=conn.apply(lambda c: network_policy_spec(app, c, args.get("prometheus_namespace", "monitoring"),
                                                          args.get("dns_egress"))),
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector}},
            opts=child,
        )
        # JVM heap and HTTP metrics from /actuator/prometheus (needs the release label).
        k8s.apiextensions.CustomResource(
            f"{name}-podmonitor",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=app.name, namespace=ns,
                labels={**names.labels(app.name, COMPONENT), "release": args["prometheus_release"]}),
            spec={
                "selector": {"matchLabels": selector},
                "namespaceSelector": {"matchNames": [ns]},
                "podMetricsEndpoints": [{"port": "management", "path": "/actuator/prometheus", "interval": "30s"}],
            },
            opts=child,
        )
        self.service_name = pulumi.Output.all(service.urn, app.name).apply(lambda both: both[1])
        self.register_outputs({"serviceName": self.service_name, "deploymentName": self.deployment.metadata.name})
