"""RedisSessionStore: Bitnami Redis (standalone | sentinel) for Spring Session.

Children: the chart-internal password (user `default`) and its Secret; one ACL user per
WAS app and one for the exporter, each with a RandomPassword per accepted generation; the
ACL Secret (`redis.acl`, `sentinel.acl`: hashes only) that every Redis and Sentinel loads
(`aclfile`) and an `acl-reload` sidecar applies live (`ACL LOAD`) when it changes; each
client's credentials Secret; with `redisTls`, a CA, the server certificate and one client
certificate per client (pulumi-tls); and a helm.v3.Release of the pinned Bitnami chart
(docs/decisions.md says why v3.Release, and why the ACL does not use the chart's
auth.acl.userSecret). The chart never sees a password: it reads Secrets by name.

The component's instance name is the chart's fullname (release name and
fullnameOverride), so every object name derives from it and two stores in one stack do
not collide. Its `connection` is the one object every consumer (WAS, exporter) uses; the
names come from config.names, the chart's naming rules for that fullname (checked
against `helm template` of the pinned chart by tests/render/test_chart.py).
"""
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi.provider.experimental.util import camel_case  # the schema's property names, as the analyzer makes them

from .config import acl, names
from .config.app import WasAppSettings
from .config.model import Resources, settings_of
from .config.podsecurity import REDIS_UID, restricted_container
from .config.sessions import SessionStore, stores_in_order
from .config.store import RedisSettings
from .config.tls import CA_EARLY_RENEWAL_HOURS, CA_VALIDITY_HOURS
from .config.workload import DnsEgress
from .monitoring.targets import password_file as exporter_password_file
from .pki import PrivateCa

CERTS_DIR = "/opt/bitnami/redis/certs"
"""Where the chart mounts tls.existingSecret in its containers."""
PASSWORD_FILE = "/opt/bitnami/redis/secrets/redis-password"
"""The chart's mount of the `default` password (auth.usePasswordFiles)."""
ACL_RELOAD_INTERVAL_SECONDS = 10
TLS_FINGERPRINT_ANNOTATION = "redis-session-platform/tls-cert-sha256"
EXPORTER_PASSWORD_FILE = "passwords.json"
"""Key of redis_exporter's password file in the exporter's credentials Secret."""
DEFAULT_PASSWORD_ANNOTATION = "redis-session-platform/default-password-generation"
"""Pod annotation carrying redisDefaultPasswordGeneration (from 2 on): raising it rolls the Redis
pods, which read the `default` password only at start (--requirepass/--masterauth, Sentinel's
auth-pass). The chart's checksum/secret hashes nothing with auth.existingSecret."""


class ClientCredentials(TypedDict):
    """One Redis client's own credentials, as the store hands them out (no client gets another's)."""

    user: str
    """Its ACL user."""
    secret_name: str
    """Secret with its current ACL password (key `password`)."""
    tls_secret_name: NotRequired[str]
    """With TLS: Secret with its client certificate and key (tls.crt, tls.key) and the CA (ca.crt)."""
    tls_fingerprint: NotRequired[str]
    """With TLS: digest of that certificate and the CA; a pod annotation, so a renewal rolls the client."""


class RedisConnection(TypedDict):
    """How clients reach one store, and each client's own credentials: RedisSessionStore's `connection`
    output, the one input WasApp and RedisExporter take from it."""

    mode: str
    """`standalone` or `sentinel`."""
    namespace: str
    """Namespace of the Redis objects (clients must run here: NetworkPolicy)."""
    port: int
    """The port clients connect to: the master Service's (standalone: 6380 with TLS) or the one Sentinel names."""
    node_port: int
    """Each Redis pod's port for the clients' protocol (the exporter and the session counter connect to the pods)."""
    redis_ports: Sequence[int]
    """Every port of the Redis pods a client may reach (its NetworkPolicy egress)."""
    scheme: str
    """URI scheme: `rediss` with TLS, else `redis`."""
    host: str | None
    """standalone: the master Service DNS name; sentinel: unset (ask Sentinel)."""
    sentinel_master_set: str | None
    """sentinel: master set name."""
    sentinel_port: int
    """Sentinel port."""
    sentinel_nodes: Sequence[str]
    """sentinel: `host:26379` of every Sentinel."""
    node_hosts: Sequence[str]
    """Stable DNS name of every Redis pod (the exporter scrapes each)."""
    client_labels: Mapping[str, str]
    """Labels a pod needs to pass the Redis NetworkPolicy."""
    pod_selector: Mapping[str, str]
    """Labels of every Redis pod (clients' egress policies allow exactly these)."""
    tls: bool
    """Mutual TLS on every Redis and Sentinel port: clients use `rediss` and their own certificate."""
    password_generation: int
    """Generation of the ACL password each client's credentials Secret holds."""
    redis_image: str
    """The store's Redis image (the session counter runs its redis-cli)."""
    redis_version: Sequence[int]
    """(major, minor) of that image (redis-cli's options follow it)."""
    apps: Mapping[str, ClientCredentials]
    """WAS app name -> that app's credentials."""
    exporter: ClientCredentials
    """The exporter's credentials; its Secret also holds `passwords.json`, redis_exporter's password file
    (a password for exactly the store's targets)."""
    counter: ClientCredentials
    """The session counter's credentials (it uses the exporter's client certificate)."""


def connection_of(value: Mapping[str, Any]) -> RedisConnection:
    """The store's `connection` as a consumer receives it: in-process as built, through the component
    provider with the schema's camelCase property names (map keys such as app names and labels kept)."""
    top = {camel_case(k): k for k in RedisConnection.__annotations__}
    cred = {camel_case(k): k for k in ClientCredentials.__annotations__}

    def credentials(c: Mapping[str, Any]) -> ClientCredentials:
        return cast(ClientCredentials, {cred.get(k, k): v for k, v in c.items()})

    conn = {top.get(k, k): v for k, v in value.items()}
    conn["apps"] = {app: credentials(c) for app, c in conn["apps"].items()}
    conn["exporter"], conn["counter"] = credentials(conn["exporter"]), credentials(conn["counter"])
    return cast(RedisConnection, conn)


def client_pod_annotations(conn: RedisConnection, client: ClientCredentials) -> dict[str, str]:
    """The annotations that roll a client's pods when what they hold changes: the password generation
    (a rotation) and, with TLS, the SHA-256 of its client certificate (a renewal)."""
    fingerprint = client.get("tls_fingerprint")
    return {names.CREDENTIAL_ANNOTATION: str(conn["password_generation"]),
            **({TLS_FINGERPRINT_ANNOTATION: fingerprint} if fingerprint else {})}


def client_egress(conn: RedisConnection, dns: Sequence[Mapping[str, Any]] | None = None) -> list[dict]:
    """Egress rules of a Redis client: the Redis pods (and Sentinels) of its namespace, and DNS
    (`dns`: the stack's dnsEgress rules; None: its default, kube-dns/CoreDNS pods and NodeLocal DNSCache)."""
    ports = [*conn["redis_ports"]] + ([conn["sentinel_port"]] if conn["mode"] == "sentinel" else [])
    return [
        {"to": [{"podSelector": {"matchLabels": dict(conn["pod_selector"])}}],
         "ports": [{"protocol": "TCP", "port": p} for p in ports]},
        *(DnsEgress().egress_rules() if dns is None else [dict(r) for r in dns]),
    ]


class RedisSessionStoreArgs(TypedDict):
    """Inputs of RedisSessionStore."""

    settings: RedisSettings
    """Topology, images, memory, persistence, Sentinel, TLS and password rotation settings."""
    namespace: pulumi.Input[str]
    ("Namespace to deploy into; given as another resource's output (AppNamespace's `name`), the store waits "
     "for it without `depends_on`.")
    apps: NotRequired[Sequence[WasAppSettings]]
    ("The WAS apps (the stack config's wasApps entries, as WasApp takes them), in the order the ACL file lists "
     "them: one ACL user each, confined to the app's database and key namespace, and one credentials Secret.")
    protect: NotRequired[bool]
    ("Pulumi protect + retainOnDelete on the Helm release (default false): a rename, a namespace change or "
     "`pulumi destroy` stops instead of uninstalling Redis (its volumes stay either way: the StatefulSets' "
     "PVC retention policy is Retain).")
    guard: NotRequired[pulumi.Input[Any]]
    ("Resolves once the change check passed (components/config/changes.py); every Secret and the release "
     "wait for it, so a refused change creates and changes nothing.")


class Clients(TypedDict):
    """Each client's credentials (a namespace changes none of them)."""

    apps: Mapping[str, ClientCredentials]
    """WAS app name -> that app's credentials."""
    exporter: ClientCredentials
    """The exporter's credentials."""
    counter: ClientCredentials
    """The session counter's credentials."""


def clients_for(fullname: str, settings: RedisSettings, apps: Sequence[SessionStore] = ()) -> Clients:
    """The ACL user and Secret names of every client of the store (in the order of `apps`)."""
    def credentials(client: str, user: str, tls_client: str | None = None) -> ClientCredentials:
        creds = ClientCredentials(user=user, secret_name=names.client_auth_secret(client))
        if settings.tls:
            creds["tls_secret_name"] = names.client_tls_secret(tls_client or client)
        return creds

    exporter = names.exporter(fullname)
    return Clients(apps={a.app: credentials(a.app, a.user) for a in apps},
                   exporter=credentials(exporter, names.EXPORTER_USER),
                   counter=credentials(names.counter(fullname), names.COUNTER_USER, tls_client=exporter))


def connection_for(fullname: str, settings: RedisSettings, namespace: str,
                   apps: Sequence[SessionStore] = ()) -> RedisConnection:
    """The connection for a topology, from the chart's naming rules (TLS fingerprints aside:
    the store adds them once the certificates exist)."""
    label_key, label_value = names.redis_client_label(fullname)
    sentinel = settings.sentinel if settings.sentinel_topology else None
    nodes = [names.redis_pod_host(fullname, "standalone", 0, namespace)] if sentinel is None else \
        [names.redis_pod_host(fullname, "sentinel", i, namespace) for i in range(sentinel.nodes)]
    # Standalone with TLS: clients use the Service's TLS port, which leads to the TLS-only Redis port, or
    # during a transition to Redis's second port beside the plaintext one (docs/runbooks.md, "Switch TLS on
    # or off"); the clients' port is the same in both, so ending a transition restarts Redis only.
    tls_service = sentinel is None and settings.certificates  # the master Service has the TLS port
    return RedisConnection(
        mode=settings.topology,
        namespace=namespace,
        port=names.REDIS_TLS_PORT if tls_service and settings.tls else names.REDIS_PORT,
        node_port=names.REDIS_TLS_PORT if settings.tls and settings.tls_transition else names.REDIS_PORT,
        redis_ports=[names.REDIS_PORT, names.REDIS_TLS_PORT] if tls_service else [names.REDIS_PORT],
        scheme="rediss" if settings.tls else "redis",
        host=names.service_host(names.redis_master_service(fullname), namespace) if sentinel is None else None,
        sentinel_master_set=None if sentinel is None else sentinel.master_set,
        sentinel_port=names.SENTINEL_PORT,
        sentinel_nodes=[] if sentinel is None else [f"{h}:{names.SENTINEL_PORT}" for h in nodes],
        node_hosts=nodes,
        client_labels={label_key: label_value},
        pod_selector=names.redis_pod_selector(fullname),
        tls=settings.tls,
        password_generation=settings.password_generation,
        redis_image=settings.redis_image.ref,
        redis_version=list(settings.redis_version),
        **clients_for(fullname, settings, apps),
    )


def _redis_conf(s: RedisSettings, keyspace_notifications: bool) -> str:
    # Replaces the chart's default commonConfiguration, so its defaults are restated.
    # AOF every second: at most ~1 s of session writes lost on a crash (live-tested).
    lines = [
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        f"maxmemory {s.maxmemory}",
        f"maxmemory-policy {s.maxmemory_policy}",
        # No slow log: it keeps the arguments of slow commands (session ids, attribute
        # values); no user may read it, and the exporter's unconditional SLOWLOG GET then
        # returns nothing (components/config/acl.py EXPORTER_COMMANDS, docs/security.md).
        "slowlog-log-slower-than -1",
        # Users and passwords (hashes) from the ACL Secret, not the chart's users.acl.
        f"aclfile {names.ACL_DIR}/{names.REDIS_ACL_FILE}",
    ]
    if keyspace_notifications:
        # The indexed repository relies on expired/generic keyspace events; apps are
        # told configure-action=none, so Redis sets them here instead of via CONFIG.
        lines.append("notify-keyspace-events Egx")
    if s.sentinel_topology and s.sentinel.min_replicas_to_write > 0:
        # Any node may become master: every node refuses writes without enough fresh
        # replicas, so a master cut off from them stops acknowledging writes it would lose.
        lines += [f"min-replicas-to-write {s.sentinel.min_replicas_to_write}",
                  f"min-replicas-max-lag {s.sentinel.min_replicas_max_lag}"]
    return "\n".join(lines) + "\n"


ACL_RELOAD_SCRIPT = r"""set -u
# Applies the mounted ACL files to the local Redis (and Sentinel) whenever they change:
# the kubelet refreshes a Secret volume in place; Redis reads its aclfile only at start.
last=""
while true; do
  digest="$(cat "$ACL_DIR"/*.acl | sha256sum | cut -d' ' -f1)"
  if [ "$digest" != "$last" ]; then
    ok=1
    for port in $ACL_RELOAD_PORTS; do
      out="$(REDISCLI_AUTH="$(cat "$REDIS_PASSWORD_FILE")" timeout 10 redis-cli -h 127.0.0.1 -p "$port" \
             $ACL_RELOAD_TLS_ARGS ACL LOAD 2>&1)"
      if [ "$out" != "OK" ]; then ok=0; echo "acl-reload: port $port: $out"; fi
    done
    if [ "$ok" = 1 ]; then last="$digest"; echo "acl-reload: loaded digest=$digest"; fi
  fi
  date +%s > "$ACL_RELOAD_HEARTBEAT"
  sleep "$ACL_RELOAD_INTERVAL"
done
"""
ACL_RELOAD_TMP = "/tmp/acl-reload"


def redis_cli_tls_args(certs_dir: str) -> str:
    """redis-cli's flags for mutual TLS with the files of a TLS Secret mounted at `certs_dir`."""
    return f"--tls --cacert {certs_dir}/ca.crt --cert {certs_dir}/tls.crt --key {certs_dir}/tls.key"


def heartbeat_fresh(heartbeat: str, max_age_seconds: int) -> list[str]:
    """An exec probe: the sidecar's loop wrote `heartbeat` (Unix seconds) less than
    `max_age_seconds` ago."""
    return ["/bin/bash", "-c", f"test $(( $(date +%s) - $(cat {heartbeat}) )) -lt {max_age_seconds}"]


def acl_reload_env(ports: list[int], tls_on: bool, acl_dir: str = names.ACL_DIR,
                   password_file: str = PASSWORD_FILE, certs_dir: str = CERTS_DIR,
                   interval: int = ACL_RELOAD_INTERVAL_SECONDS, heartbeat: str = f"{ACL_RELOAD_TMP}/alive") -> dict:
    """The sidecar's environment (the live tests run ACL_RELOAD_SCRIPT with local paths)."""
    tls_args = redis_cli_tls_args(certs_dir) if tls_on else ""
    return {"ACL_DIR": acl_dir, "ACL_RELOAD_PORTS": " ".join(str(p) for p in ports),
            "REDIS_PASSWORD_FILE": password_file, "ACL_RELOAD_TLS_ARGS": tls_args,
            "ACL_RELOAD_INTERVAL": str(interval), "ACL_RELOAD_HEARTBEAT": heartbeat}


def _acl_reload_sidecar(s: RedisSettings) -> dict:
    ports = [names.REDIS_PORT] + ([names.SENTINEL_PORT] if s.sentinel_topology else [])
    fresh = heartbeat_fresh(f"{ACL_RELOAD_TMP}/alive", 6 * ACL_RELOAD_INTERVAL_SECONDS)
    mounts = [{"name": "acl", "mountPath": names.ACL_DIR, "readOnly": True},
              {"name": "redis-password", "mountPath": PASSWORD_FILE.rsplit("/", 1)[0], "readOnly": True},
              {"name": "acl-reload-tmp", "mountPath": ACL_RELOAD_TMP}]
    if s.server_tls:
        mounts.append({"name": "redis-certificates", "mountPath": CERTS_DIR, "readOnly": True})
    return {
        "name": "acl-reload",
        "image": s.redis_image.ref,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/bash", "-c", ACL_RELOAD_SCRIPT],
        "env": [{"name": k, "value": v} for k, v in acl_reload_env(ports, s.server_tls).items()],
        "resources": Resources("10m", "100m", "16Mi", "32Mi").to_k8s(),
        "securityContext": restricted_container(REDIS_UID),
        "livenessProbe": {"exec": {"command": fresh}, "initialDelaySeconds": 30, "periodSeconds": 30},
        "readinessProbe": {"exec": {"command": fresh}, "periodSeconds": 30},
        "volumeMounts": mounts,
    }


def _acl_volumes(fullname: str) -> list[dict]:
    return [{"name": "acl", "secret": {"secretName": names.acl_secret(fullname), "defaultMode": 0o440}},
            {"name": "acl-reload-tmp", "emptyDir": {"sizeLimit": "1Mi"}},
            {"name": "operator-auth", "secret": {"secretName": names.operator_secret(fullname), "defaultMode": 0o440}}]


def _redis_mounts() -> list[dict]:
    """The Redis container's extra mounts: the ACL files, and the operator's password, which the
    runbooks' redis-cli reads inside the pod (no subPath: a rotation reaches it without a restart)."""
    return [{"name": "acl", "mountPath": names.ACL_DIR, "readOnly": True},
            {"name": "operator-auth", "mountPath": names.OPERATOR_DIR, "readOnly": True}]


def _tls_values(fullname: str) -> dict:
    # Both ports TLS-only (the chart sets --port 0), clients must present a certificate
    # of our CA (authClients), replication and Sentinel links over TLS (--tls-replication).
    return {"enabled": True, "authClients": True, "autoGenerated": False,
            "existingSecret": names.tls_secret(fullname),
            "certFilename": "tls.crt", "certKeyFilename": "tls.key", "certCAFilename": "ca.crt"}


def _tls_service_port(s: RedisSettings) -> dict:
    # The port TLS clients use (RedisConnection.port): Redis's second port during a transition, its
    # TLS-only port after; the clients keep it, so ending a transition restarts Redis only.
    target = names.REDIS_TLS_PORT if s.tls_transition else names.REDIS_PORT
    return {"name": "tcp-redis-tls", "port": names.REDIS_TLS_PORT, "targetPort": target, "protocol": "TCP"}


def _transition_values(fullname: str, values: dict) -> None:
    """A TLS transition (standalone): the chart runs plaintext Redis on 6379 (its TLS is off, so its
    probes and scripts are unchanged) and Redis also listens with mutual TLS on REDIS_TLS_PORT, the
    server certificate mounted where the chart mounts it (master.extraFlags come last on the command
    line, scripts-configmap start-master.sh); the NetworkPolicy admits clients on that port too."""
    master = values["master"]
    master["extraFlags"] = [
        "--tls-port", str(names.REDIS_TLS_PORT), "--tls-cert-file", f"{CERTS_DIR}/tls.crt",
        "--tls-key-file", f"{CERTS_DIR}/tls.key", "--tls-ca-cert-file", f"{CERTS_DIR}/ca.crt",
        "--tls-auth-clients", "yes"]
    master["extraVolumes"] = [*master["extraVolumes"], {
        "name": "redis-certificates", "secret": {"secretName": names.tls_secret(fullname), "defaultMode": 0o440}}]
    master["extraVolumeMounts"] = [*master["extraVolumeMounts"],
                                   {"name": "redis-certificates", "mountPath": CERTS_DIR, "readOnly": True}]
    label_key, label_value = names.redis_client_label(fullname)
    values["networkPolicy"]["extraIngress"] = [{
        "ports": [{"port": names.REDIS_TLS_PORT, "protocol": "TCP"}],
        "from": [{"podSelector": {"matchLabels": {label_key: label_value}}}]}]


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


def _node_values(fullname: str, s: RedisSettings, resources: Resources) -> dict[str, Any]:
    values: dict[str, Any] = {
        "resourcesPreset": "none",
        "resources": resources.to_k8s(),
        "podSecurityContext": _pod_security(),
        "containerSecurityContext": _container_security(),
        "automountServiceAccountToken": False,
        "persistence": {"enabled": True, "size": s.persistence_size},
        # Kubernetes' default, stated so that no chart default can change it: removing the
        # StatefulSet (helm uninstall, a topology swap) or scaling it down keeps the volumes.
        "persistentVolumeClaimRetentionPolicy": {"enabled": True, "whenScaled": "Retain", "whenDeleted": "Retain"},
        "extraVolumes": _acl_volumes(fullname),
        "extraVolumeMounts": _redis_mounts(),
        "sidecars": [_acl_reload_sidecar(s)],
    }
    if s.storage_class:
        values["persistence"]["storageClass"] = s.storage_class
    return values


def chart_values(fullname: str, s: RedisSettings, apps: Sequence[SessionStore] = ()) -> dict:
    """The values the Bitnami chart receives (no secret in here); `apps`: where the sessions live."""
    image = s.redis_image.chart_values()
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
        # The indexed repository needs keyspace events (notify-keyspace-events).
        "commonConfiguration": _redis_conf(s, any(a.repository_type == "indexed" for a in apps)),
        "volumePermissions": {"enabled": False},
        "sysctl": {"enabled": False},
        "metrics": {"enabled": False},  # our own exporter (components/exporter.py)
        "serviceAccount": {"create": True, "automountServiceAccountToken": False},
        "networkPolicy": {"enabled": True, "allowExternal": False},
    }
    if s.server_tls:
        values["tls"] = _tls_values(fullname)
    node = _node_values(fullname, s, s.resources)
    if s.default_password_generation > 1:
        node["podAnnotations"] = {DEFAULT_PASSWORD_ANNOTATION: str(s.default_password_generation)}
    if s.topology == "standalone":
        values["architecture"] = "standalone"
        values["master"] = {**node, "count": 1, "pdb": {"create": False}}
        if s.certificates:
            values["master"]["service"] = {"extraPorts": [_tls_service_port(s)]}
        if s.tls_transition:
            _transition_values(fullname, values)
        return values
    sentinel = s.sentinel
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
        "image": s.sentinel_image.chart_values(),
        "masterSet": sentinel.master_set,
        "quorum": sentinel.quorum,
        "downAfterMilliseconds": sentinel.down_after_ms,
        "failoverTimeout": sentinel.failover_timeout_ms,
        "resourcesPreset": "none",
        "resources": Resources("50m", "250m", "64Mi", "64Mi").to_k8s(),
        "containerSecurityContext": _container_security(),
        "configuration": f"aclfile {names.ACL_DIR}/{names.SENTINEL_ACL_FILE}\n",
        "extraVolumeMounts": [{"name": "acl", "mountPath": names.ACL_DIR, "readOnly": True}],
    }
    return values


def with_fingerprints(conn: RedisConnection, prints: Mapping[str, str], exporter: str) -> RedisConnection:
    """`conn` with each client's TLS fingerprint (`prints`: client name -> digest; the counter
    uses the exporter's certificate)."""
    apps = {app: ClientCredentials(**creds, tls_fingerprint=prints[app]) for app, creds in conn["apps"].items()}
    return RedisConnection(**{**conn, "apps": apps,
                              "exporter": ClientCredentials(**conn["exporter"], tls_fingerprint=prints[exporter]),
                              "counter": ClientCredentials(**conn["counter"], tls_fingerprint=prints[exporter])})


def tls_fingerprint(cert_pem: str) -> str:
    """Short digest of the server certificate: a pod annotation, so a renewed certificate
    rolls the Redis pods (Redis reads its certificate files only at start)."""
    return hashlib.sha256(cert_pem.encode()).hexdigest()[:16]


class RedisSessionStore(pulumi.ComponentResource):
    """Redis for Spring Session: passwords and ACL users, certificates, Secrets, Bitnami chart.
    Its registered outputs are how clients reach it; each client gets its own credentials."""

    mode: pulumi.Output[str]
    """`standalone` or `sentinel`."""
    host: pulumi.Output[str | None]
    """standalone: the master Service's DNS name; sentinel: unset (clients ask Sentinel)."""
    port: pulumi.Output[int]
    """The port clients connect to (standalone with TLS: the master Service's TLS port, 6380)."""
    tls: pulumi.Output[bool]
    """Mutual TLS on every Redis and Sentinel port: clients use `rediss` and their own certificate."""
    sentinel_master_set: pulumi.Output[str | None]
    """sentinel: the master set name; standalone: unset."""
    sentinel_nodes: pulumi.Output[list[str]]
    """sentinel: `host:26379` of every Sentinel; standalone: empty."""
    node_hosts: pulumi.Output[list[str]]
    """Stable DNS name of every Redis pod (the exporter scrapes each)."""
    secret_name: pulumi.Output[str]
    """Secret of the chart-internal `default` password (Redis and Sentinel only: no client uses it)."""
    client_secret_names: pulumi.Output[dict[str, str]]
    """WAS app name (and the operator) -> the Secret holding that client's own ACL password (key `password`)."""
    client_tls_secret_names: pulumi.Output[dict[str, str]]
    """With TLS: client (WAS app, exporter) -> the Secret with its client certificate, key and the CA; else empty."""
    connection: pulumi.Output[RedisConnection]
    ("How clients reach the store and each client's own credentials (Secret names): what WasApp and "
     "RedisExporter take.")
    ca_certificate: pulumi.Output[str | None]
    """With TLS: the private CA's certificate (PEM) clients verify Redis with; else unset."""
    acl_digest: pulumi.Output[str]
    """SHA-256 of the ACL files: what the acl-reload sidecars log once applied."""
    certificate_not_after: pulumi.Output[dict[str, str]]
    ("With TLS: certificate name (ca, server, each client) -> its validityEndTime (RFC 3339); without: an "
     "empty map (components/monitoring/certificates.py records them for the expiry alert).")

    def __init__(self, name: str, args: RedisSessionStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:RedisSessionStore", name, None, opts)
        s = settings_of(RedisSettings, args["settings"])
        namespace, protect = pulumi.Output.from_input(args["namespace"]), args.get("protect", False)
        apps = stores_in_order(settings_of(WasAppSettings, a) for a in args.get("apps", ()))
        conn = namespace.apply(lambda ns: connection_for(name, s, ns, apps))
        clients = clients_for(name, s, apps)
        guard = args.get("guard")
        child = pulumi.ResourceOptions(parent=self)
        labels = names.labels(name, "redis")

        def gated(value: Any) -> Any:
            return value if guard is None else pulumi.Output.all(guard, value).apply(lambda a: a[1])

        def secret(resource: str, secret_name: str, data: Any) -> k8s.core.v1.Secret:
            return k8s.core.v1.Secret(
                resource, metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=namespace, labels=labels),
                type="Opaque", string_data=gated(data), opts=child)

        def new_password(resource: str) -> pulumi.Output:
            # special=False: safe in URIs and files; 32 alphanumerics ~ 190 bits.
            return pulumi.Output.secret(random.RandomPassword(resource, length=32, special=False, opts=child).result)

        # The `default` password, one per accepted generation (generation 1 keeps its first name).
        defaults = {g: new_password(f"{name}-password" if g == 1 else f"{name}-password-g{g}")
                    for g in s.accepted_default_generations}
        depends = [secret(f"{name}-secret", names.redis_password_secret(name),
                          {names.PASSWORD_KEY: defaults[s.default_password_generation]})]

        # One ACL user per client, one password per accepted generation (a rotation keeps two).
        exporter_client = names.exporter(name)
        users = {app: c["user"] for app, c in clients["apps"].items()} | {exporter_client: clients["exporter"]["user"]}
        # The operator (docs/runbooks.md) is rotated like the clients; it uses redis-cli inside
        # a Redis pod, so it needs no client certificate of its own (it is not in `users`).
        operator = names.operator(name)
        # The session counter (a sidecar of the exporter, which delivers its password like its own)
        # uses the exporter's client certificate: it is not in `users` either.
        counter = names.counter(name)
        generations = s.accepted_generations
        passwords = {client: {g: new_password(f"{name}-{user}-g{g}") for g in generations}
                     for client, user in (users | {operator: names.OPERATOR_USER,
                                                   counter: names.COUNTER_USER}).items()}
        current = {client: p[s.password_generation] for client, p in passwords.items()}
        client_secrets = {app: creds["secret_name"] for app, creds in clients["apps"].items()}
        for app in clients["apps"]:
            depends.append(secret(f"{name}-{app}-auth", client_secrets[app], {names.CLIENT_PASSWORD_KEY: current[app]}))
        client_secrets[operator] = names.operator_secret(name)
        depends.append(secret(f"{name}-operator-auth", client_secrets[operator],
                              {names.CLIENT_PASSWORD_KEY: current[operator]}))

        # The exporter's Secret also holds redis_exporter's password file: its password for exactly
        # this store's targets (a /scrape of any other target gets none).
        depends.append(secret(f"{name}-exporter-client-auth", clients["exporter"]["secret_name"], {
            names.CLIENT_PASSWORD_KEY: current[exporter_client],
            EXPORTER_PASSWORD_FILE: pulumi.Output.all(conn, current[exporter_client]).apply(
                lambda both: exporter_password_file(both[0], both[1]))}))
        depends.append(secret(f"{name}-counter-client-auth", clients["counter"]["secret_name"],
                              {names.CLIENT_PASSWORD_KEY: current[counter]}))

        def files(args_: list) -> dict:
            n = len(defaults)
            default, plain = [acl.password_hash(p) for p in args_[:n]], args_[n:]
            hashes: dict[str, list[str]] = {}
            flat = iter(plain)
            for client in passwords:
                hashes[client] = [acl.password_hash(next(flat)) for _ in generations]
            return acl.acl_files(default, {a.app: hashes[a.app] for a in apps},
                                 hashes[exporter_client], apps, tuple(s.redis_version), tuple(s.sentinel_version),
                                 operator_hashes=hashes[operator], counter_hashes=hashes[counter])

        acl_files: pulumi.Output[dict] = pulumi.Output.all(
            *defaults.values(), *[p[g] for p in passwords.values() for g in generations]).apply(files)
        depends.append(secret(f"{name}-acl", names.acl_secret(name), pulumi.Output.secret(acl_files)))
        # A digest of hashes of random passwords reveals nothing: exported for the rotation runbook.
        self.acl_digest = pulumi.Output.unsecret(acl_files.apply(
            lambda f: hashlib.sha256("".join(f[k] for k in sorted(f)).encode()).hexdigest()))

        base = chart_values(name, s, apps)
        values: Any = base
        self.certificate_not_after = pulumi.Output.from_input({})
        self.ca_certificate = pulumi.Output.from_input(None)
        self.client_tls_secret_names = pulumi.Output.from_input({})
        fingerprints: dict[str, pulumi.Output[str]] = {}
        if s.certificates:
            cert_pem = self._issue_certificates(name, namespace, [*users], secret, depends, fingerprints)
            pod = "replica" if s.topology == "sentinel" else "master"
            values = cert_pem.apply(lambda pem: {**base, pod: {**base[pod], "podAnnotations": {
                **base[pod].get("podAnnotations", {}), TLS_FINGERPRINT_ANNOTATION: tls_fingerprint(pem)}}})

        self.release = k8s.helm.v3.Release(
            f"{name}-chart",
            k8s.helm.v3.ReleaseArgs(
                name=name,
                chart=s.chart,
                version=s.chart_version,
                namespace=namespace,
                values=gated(values),
                atomic=True,
                timeout=600,
                max_history=10,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends, protect=protect,
                                        retain_on_delete=protect),
        )
        self.mode = conn.apply(lambda c: c["mode"])
        self.host = conn.apply(lambda c: c["host"])
        self.port = conn.apply(lambda c: c["port"])
        self.tls = conn.apply(lambda c: c["tls"])
        self.sentinel_master_set = conn.apply(lambda c: c["sentinel_master_set"])
        self.sentinel_nodes = conn.apply(lambda c: list(c["sentinel_nodes"]))
        self.node_hosts = conn.apply(lambda c: list(c["node_hosts"]))
        self.secret_name = pulumi.Output.from_input(names.redis_password_secret(name))
        self.client_secret_names = pulumi.Output.from_input(client_secrets)
        # Each client its own credentials (Secret names; with TLS the fingerprint that rolls it on renewal:
        # not during a transition back to plaintext, where the clients hold no certificate).
        # Known once the release is declared (after every Secret it depends on): a consumer waits for its credentials.
        self.connection = pulumi.Output.all(self.release.urn, conn, pulumi.Output.all(**fingerprints)).apply(
            lambda all_: with_fingerprints(all_[1], all_[2], exporter_client) if s.tls else all_[1])
        self.register_outputs({
            "mode": self.mode,
            "host": self.host,
            "port": self.port,
            "tls": self.tls,
            "sentinelMasterSet": self.sentinel_master_set,
            "sentinelNodes": self.sentinel_nodes,
            "nodeHosts": self.node_hosts,
            "secretName": self.secret_name,
            "clientSecretNames": self.client_secret_names,
            "clientTlsSecretNames": self.client_tls_secret_names,
            "connection": self.connection,
            "caCertificate": self.ca_certificate,
            "aclDigest": self.acl_digest,
            "certificateNotAfter": self.certificate_not_after,
            "releaseStatus": self.release.status,
        })

    def _issue_certificates(self, name: str, namespace: pulumi.Output[str], clients: list[str], secret, depends: list,
                            fingerprints: dict[str, pulumi.Output[str]]):
        """A private CA (ECDSA P-256), the server certificate for every name clients use and
        one client certificate per client; private keys only in secret outputs and Secrets.
        Returns the server certificate (PEM)."""
        ca = PrivateCa(f"{name}-ca", namespace.apply(lambda ns: f"{name} Redis CA ({ns})"), self, CA_VALIDITY_HOURS,
                       early_renewal_hours=CA_EARLY_RENEWAL_HOURS)

        def issue(resource: str, common_name: str, dns_names: pulumi.Input[Sequence[str]], uses: list[str], ips: list[str]):
            return ca.issue(resource, common_name, dns_names, uses, record_as=common_name, ip_addresses=ips)

        # The server certificate also authenticates Redis to Redis (replication) and
        # Sentinel to both, and the chart's scripts to Redis: server and client use.
        # 127.0.0.1: the chart's preStop script and our sidecar talk to their own pod's Redis by IP.
        server = issue(f"{name}-server", name, namespace.apply(lambda ns: names.tls_dns_names(name, ns)),
                       ["server_auth", "client_auth"], ["127.0.0.1"])
        depends.append(secret(f"{name}-tls", names.tls_secret(name), server))
        self.ca_certificate = ca.cert.cert_pem
        self.client_tls_secret_names = pulumi.Output.from_input({c: names.client_tls_secret(c) for c in clients})
        for client in clients:
            data = issue(f"{name}-{client}-client", client, [], ["client_auth"], [])
            fingerprints[client] = pulumi.Output.all(data["tls.crt"], data["ca.crt"]).apply(
                lambda pems: tls_fingerprint("".join(pems)))
            depends.append(secret(f"{name}-{client}-tls", names.client_tls_secret(client), data))
        self.certificate_not_after = pulumi.Output.all(**ca.not_after, ca=ca.cert.validity_end_time)
        return server["tls.crt"]
