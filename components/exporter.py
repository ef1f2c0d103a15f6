"""RedisExporter: oliver006/redis_exporter + Service :9121 + ServiceMonitor + NetworkPolicy.

One exporter pod in multi-target mode scrapes every Redis node and every Sentinel: the
ServiceMonitor has one endpoint per target (`/scrape?target=redis://<pod>:<port>`), and
relabels `instance` to that target, so each node keeps a stable instance across
failovers and its role shows in `redis_instance_info{role}` (docs/decisions.md,
"Exporter: every node and every Sentinel"). Sentinel topology runs a second exporter
container for the Sentinels, without `--check-single-keys` (a Sentinel has no keys).
The Redis-node exporter reads the sorted-set keys on every scrape (`--check-single-keys`:
TYPE + ZCARD, no Lua), the sorted-set store's count and every store's check.

Sessions counted by SCAN (default repository, indexed with minute sets) are counted by a
sidecar in the same pod, `session-counter` (COUNTER_SCRIPT: redis-cli from the Redis image,
ACL user `counter`), which listens on no port and so accepts no request from anyone: every
COUNT_INTERVAL it SCANs each such store on the master and SETs the number into the count
key (names.SESSION_COUNT_KEY), which the exporter reads like the sorted sets
(components/monitoring/session_count.py). The exporter's user may not SCAN: no /scrape request, whatever
its parameters, can make it list a key name (issue 20).

The web endpoint (/metrics, /scrape, every port) is HTTPS and requires a client
certificate signed by the exporter's own CA (`--tls-server-*`; redis_exporter
exporter/tls.go GetConfigForClientFunc: tls.RequireAndVerifyClientCert, in 1.45 and 1.74):
the ServiceMonitor's tlsConfig gives Prometheus that certificate from a Secret. Nobody
else, whatever the NetworkPolicy admits, can make the exporter scrape.
"""

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .config import names
from .config.app import WasAppSettings
from .config.model import Resources, settings_of
from .config.podsecurity import EXPORTER_UID, restricted_container
from .config.sessions import SessionStore, stores_for
from .config.tls import CA_VALIDITY_HOURS
from .monitoring.session_count import (
    CHECK_SINGLE_KEYS_FLAG,
    COUNT_INTERVAL_SECONDS,
    COUNT_TIMEOUT_SECONDS,
    COUNT_TTL_SECONDS,
    check_single_keys,
    counted_by_scan,
)
from .monitoring.targets import METRICS_PORT, SENTINEL_METRICS_PORT, scrape_targets
from .pki import PrivateCa
from .redis import (
    EXPORTER_PASSWORD_FILE,
    RedisConnection,
    client_egress,
    client_pod_annotations,
    connection_of,
    heartbeat_fresh,
    redis_cli_tls_args,
)

COMPONENT = "metrics"
AUTH_DIR = "/secrets"
TLS_DIR = "/tls"
WEB_TLS_DIR = "/web-tls"  # the web endpoint's server certificate and the CA of its clients
SCRAPE_INTERVAL = "30s"
SENTINEL_EXPORTER_PORT = names.EXPORTER_PORT + 1  # 9122
RESOURCES = Resources("20m", "200m", "48Mi", "96Mi")
COUNTER_DIR = "/counter"  # the counter's password file (CLIENT_PASSWORD_KEY); only in its container
COUNTER_TMP = "/tmp/session-counter"  # its heartbeat (read-only root filesystem: an emptyDir)
# redis-cli streams the names it gets from SCAN to `wc -l`: it holds one SCAN reply at a time.
COUNTER_RESOURCES = Resources("10m", "500m", "16Mi", "64Mi")
COUNTER_SCAN_COUNT = 1000
"""SCAN's COUNT per call, as the exporter's count-keys sent (--check-keys-batch-size default 1000);
redis-cli has `--count` from 7.2 (redis-cli.c sendScan), 7.0 sends no COUNT (Redis's default 10)."""

COUNTER_SCRIPT = r"""set -u -f -o pipefail
# session-counter (issue 20 item 2): every COUNT_INTERVAL, for each store counted by SCAN
# (`<db>=<pattern>[=<skip>]`), `redis-cli -n <db> --scan --pattern <pattern> | wc -l` leaving
# out the keys containing <skip>, then SET <count key> <n> EX <ttl> on
# the master. The master is the node where SET succeeds (a replica answers READONLY); the
# last one is tried first. Prints no key name: only node, database and Redis's error text.
# Words of COUNT_NODES / COUNT_STORES are split by the shell, never glob-expanded (set -f).
master=""
while true; do
  pass=""
  read -r pass < "$COUNTER_PASSWORD_FILE" || true
  export REDISCLI_AUTH="$pass"
  for node in $master $COUNT_NODES; do
    ok=1
    for store in $COUNT_STORES; do
      IFS="=" read -r db pattern skip <<< "$store"
      # keys containing $skip are not sessions (grep -v exits 1 when it selects no line)
      if ! n="$(timeout "$COUNT_TIMEOUT" redis-cli --user "$COUNTER_USER" -h "${node%:*}" -p "${node##*:}" \
                $COUNT_TLS_ARGS -n "$db" --scan --pattern "$pattern" $COUNT_SCAN_ARGS \
                | { if [ -n "$skip" ]; then grep -v -F -- "$skip" || [ $? = 1 ]; else cat; fi; } | wc -l)"; then
        ok=0; echo "session-counter: $node db$db: SCAN failed"; break
      fi
      out="$(timeout 10 redis-cli --user "$COUNTER_USER" -h "${node%:*}" -p "${node##*:}" $COUNT_TLS_ARGS \
             -n "$db" SET "$COUNT_KEY_NAME" "$n" EX "$COUNT_TTL" 2>&1)"
      if [ "$out" != "OK" ]; then ok=0; echo "session-counter: $node db$db: $out"; break; fi
      date +%s > "$COUNT_HEARTBEAT"
    done
    if [ "$ok" = 1 ]; then
      if [ "$node" != "$master" ]; then echo "session-counter: counting on $node"; fi
      master="$node"
      break
    fi
  done
  date +%s > "$COUNT_HEARTBEAT"
  sleep "$COUNT_INTERVAL"
done
"""


def counter_env(nodes: list[str], stores: Sequence[SessionStore], redis_version: tuple[int, ...], tls_on: bool, *,
                password_file: str = f"{COUNTER_DIR}/{names.CLIENT_PASSWORD_KEY}", tls_dir: str = "/tls",
                interval: float = COUNT_INTERVAL_SECONDS, ttl: int = COUNT_TTL_SECONDS,
                timeout: int = COUNT_TIMEOUT_SECONDS, heartbeat: str = f"{COUNTER_TMP}/alive") -> dict[str, str]:
    """COUNTER_SCRIPT's environment: `nodes` as `host:port` (the Redis nodes, in order), the
    stores counted by SCAN (`<db>=<pattern>[=<skip>]` each). The live tests run the script with loopback
    nodes and local paths."""
    tls_args = redis_cli_tls_args(tls_dir) if tls_on else ""
    return {"COUNT_NODES": " ".join(nodes),
            "COUNT_STORES": " ".join(f"{s.database}={s.scan_pattern}" + (f"={s.scan_skip}" if s.scan_skip else "")
                                     for s in counted_by_scan(stores)),
            "COUNT_KEY_NAME": names.SESSION_COUNT_KEY, "COUNTER_USER": names.COUNTER_USER,
            "COUNTER_PASSWORD_FILE": password_file, "COUNT_TLS_ARGS": tls_args,
            "COUNT_SCAN_ARGS": f"--count {COUNTER_SCAN_COUNT}" if redis_version >= (7, 2) else "",
            "COUNT_INTERVAL": str(interval), "COUNT_TTL": str(ttl), "COUNT_TIMEOUT": str(timeout),
            "COUNT_HEARTBEAT": heartbeat}


class RedisExporterArgs(TypedDict):
    """Inputs of RedisExporter."""

    connection: pulumi.Input[Mapping[str, Any]]
    ("The store to scrape (RedisSessionStore's `connection`): its targets, and the exporter's and the "
     "session counter's own credentials.")
    image: str
    """redis_exporter image reference (pinned)."""
    prometheus_release: str
    """`release` label the Prometheus operator selects ServiceMonitors by."""
    prometheus_namespace: str
    """Namespace of Prometheus: the only one the exporter's NetworkPolicy admits."""
    apps: Sequence[WasAppSettings]
    ("The WAS apps whose sessions it counts (the stack config's wasApps entries): each store's sorted-set keys "
     "are read on every scrape; SCAN-counted ones are counted by the session-counter sidecar, whose count key "
     "is read on every scrape.")
    dns_egress: NotRequired[Sequence[Mapping[str, Any]]]
    """Egress rules to the cluster DNS (the stack's dnsEgress); unset: its default."""


NO_CONFIG_COMMAND = "--config-command=-"
"""Never send CONFIG GET * (its user may not: it returns masterauth in clear). v1.74 skips the
config metrics on "-" (main.go flag config-command, exporter.go scrapeRedisHost); v1.45 sends
`- GET *`, an unknown command, refused before any ACL check: no ACL LOG entry either way."""


def _auth_args(conn: RedisConnection) -> list[str]:
    # The exporter's own ACL user (read-only); with TLS its client certificate and our CA.
    args = [f"--redis.user={conn['exporter']['user']}", f"--redis.password-file={AUTH_DIR}/{EXPORTER_PASSWORD_FILE}",
            NO_CONFIG_COMMAND]
    if conn["tls"]:
        args += [f"--tls-client-cert-file={TLS_DIR}/tls.crt", f"--tls-client-key-file={TLS_DIR}/tls.key",
                 f"--tls-ca-cert-file={TLS_DIR}/ca.crt"]
    return args


def web_tls_args() -> list[str]:
    """HTTPS on the web endpoint, a client certificate signed by our CA required."""
    return [f"--tls-server-cert-file={WEB_TLS_DIR}/tls.crt", f"--tls-server-key-file={WEB_TLS_DIR}/tls.key",
            f"--tls-server-ca-cert-file={WEB_TLS_DIR}/ca.crt"]


def exporter_args(conn: RedisConnection, single_keys: str | None = None) -> list[str]:
    """Command-line flags of the Redis-node exporter (the live tests run the binary with
    these); `single_keys` is session_count.check_single_keys of the stores."""
    args = [f"--web.listen-address=:{names.EXPORTER_PORT}",
            f"--redis.addr={scrape_targets(conn)[0].url}", *_auth_args(conn), *web_tls_args()]
    if single_keys:
        args.append(f"{CHECK_SINGLE_KEYS_FLAG}={single_keys}")
    return args


def sentinel_exporter_args(conn: RedisConnection) -> list[str]:
    """Flags of the Sentinel exporter (sentinel topology): same user and password file, no keys."""
    first = next(t for t in scrape_targets(conn) if t.port == SENTINEL_METRICS_PORT)
    return [f"--web.listen-address=:{SENTINEL_EXPORTER_PORT}", f"--redis.addr={first.url}", *_auth_args(conn),
            *web_tls_args()]


def counter_container(conn: RedisConnection, stores: Sequence[SessionStore]) -> dict:
    """The session-counter sidecar: COUNTER_SCRIPT in the Redis image, no port, its own
    password file, with TLS the exporter's client certificate."""
    fresh = heartbeat_fresh(f"{COUNTER_TMP}/alive", COUNT_TTL_SECONDS)
    mounts = [{"name": "counter-auth", "mountPath": COUNTER_DIR, "readOnly": True},
              {"name": "counter-tmp", "mountPath": COUNTER_TMP}]
    if conn["tls"]:
        mounts.append({"name": "tls", "mountPath": TLS_DIR, "readOnly": True})
    nodes = [f"{h}:{conn['node_port']}" for h in conn["node_hosts"]]
    return {
        "name": "session-counter",
        "image": conn["redis_image"],
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/bash", "-c", COUNTER_SCRIPT],
        "env": [{"name": k, "value": v} for k, v in counter_env(nodes, stores, tuple(conn["redis_version"]),
                                                                 conn["tls"], tls_dir=TLS_DIR).items()],
        "resources": COUNTER_RESOURCES.to_k8s(),
        "securityContext": restricted_container(EXPORTER_UID),
        # the first count may take a COUNT_TIMEOUT per store before the heartbeat exists
        "livenessProbe": {"exec": {"command": fresh}, "initialDelaySeconds": COUNT_TTL_SECONDS, "periodSeconds": 30},
        "readinessProbe": {"exec": {"command": fresh}, "periodSeconds": 30},
        "volumeMounts": mounts,
    }


def _container(name: str, image: str, args: list[str], port_name: str, port: int,
               tls_on: bool, resources: Resources = RESOURCES) -> dict:
    # The kubelet cannot present a client certificate, so an HTTPS probe would fail the
    # handshake: the probes check the listening port. Never Redis: a Redis outage is an
    # alert (RedisDown), not a restart loop of the exporter.
    http = {"tcpSocket": {"port": port_name}, "periodSeconds": 10, "timeoutSeconds": 3}
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
        "resources": resources.to_k8s(),
        "livenessProbe": {**http, "failureThreshold": 3},
        "readinessProbe": {**http, "failureThreshold": 2},
        "securityContext": restricted_container(EXPORTER_UID),
        "volumeMounts": [{"name": "auth", "mountPath": AUTH_DIR, "readOnly": True},
                         {"name": "web-tls", "mountPath": WEB_TLS_DIR, "readOnly": True}],
    }
    if tls_on:
        container["volumeMounts"].append({"name": "tls", "mountPath": TLS_DIR, "readOnly": True})
    return container


def exporter_containers(conn: RedisConnection, image: str, single_keys: str | None = None,
                        resources: Resources = RESOURCES) -> list[dict]:
    """The exporter pod's containers (plain dicts): `redis-exporter` for the Redis nodes,
    plus `sentinel-exporter` for the Sentinels in sentinel topology."""
    containers = [_container("redis-exporter", image, exporter_args(conn, single_keys),
                             METRICS_PORT, names.EXPORTER_PORT, conn["tls"], resources)]
    if conn["mode"] == "sentinel":
        containers.append(_container("sentinel-exporter", image, sentinel_exporter_args(conn),
                                     SENTINEL_METRICS_PORT, SENTINEL_EXPORTER_PORT, conn["tls"]))
    return containers


def exporter_ports(conn: RedisConnection) -> list[tuple[str, int]]:
    """(name, port) of every exporter port: Service ports and NetworkPolicy ports."""
    return [(p["name"], p["containerPort"]) for c in exporter_containers(conn, "") for p in c["ports"]]


def pod_spec(name: str, conn: RedisConnection, image: str, single_keys: str | None = None,
             resources: Resources = RESOURCES, counter: dict | None = None) -> dict:
    """The exporter's pod spec (plain dict); `name` is the component's (its objects') name;
    `counter` the session-counter container (counter_container) when a store is counted by SCAN."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        # fsGroup: the kubelet gives the Secret files to this group, so the non-root
        # exporter can read them (a Secret volume's files are otherwise root's).
        "securityContext": {"runAsNonRoot": True, "runAsUser": EXPORTER_UID, "fsGroup": EXPORTER_UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": exporter_containers(conn, image, single_keys, resources),
        "volumes": [{"name": "auth", "secret": {"secretName": conn["exporter"]["secret_name"], "defaultMode": 0o440,
                                                "items": [{"key": EXPORTER_PASSWORD_FILE, "path": EXPORTER_PASSWORD_FILE}]}},
                    {"name": "web-tls", "secret": {"secretName": names.exporter_web_tls_secret(name),
                                                   "defaultMode": 0o440}}],
    }
    if conn["tls"]:
        spec["volumes"].append({"name": "tls", "secret": {"secretName": conn["exporter"]["tls_secret_name"],
                                                          "defaultMode": 0o440}})
    if counter is not None:
        spec["containers"].append(counter)
        spec["volumes"] += [{"name": "counter-auth", "secret": {"secretName": conn["counter"]["secret_name"],
                                                                 "defaultMode": 0o440}},
                            {"name": "counter-tmp", "emptyDir": {"sizeLimit": "1Mi"}}]
    return spec


def scrape_tls(name: str, namespace: str) -> dict:
    """How Prometheus authenticates to the exporter (ServiceMonitor endpoint fields): HTTPS,
    the exporter's certificate checked against our CA for the Service's name, and the client
    certificate and key from the scrape Secret (in the ServiceMonitor's namespace, where the
    Prometheus operator reads tlsConfig Secrets from)."""
    secret = names.exporter_scrape_tls_secret(name)
    return {"scheme": "https", "tlsConfig": {
        "ca": {"secret": {"name": secret, "key": "ca.crt"}},
        "cert": {"secret": {"name": secret, "key": "tls.crt"}},
        "keySecret": {"name": secret, "key": "tls.key"},
        "serverName": names.exporter_dns_names(name, namespace)[0],
    }}


def service_monitor_spec(name: str, conn: RedisConnection) -> dict:
    """One endpoint per scrape target, `instance` relabelled to the target (one scrape path:
    the session count is a key the regular scrape reads)."""
    return {
        "selector": {"matchLabels": names.selector_labels(name, COMPONENT)},
        "namespaceSelector": {"matchNames": [conn["namespace"]]},
        "endpoints": [{
            "port": t.port,
            "path": "/scrape",
            "interval": SCRAPE_INTERVAL,
            "params": {"target": [t.url]},
            **scrape_tls(name, conn["namespace"]),
            "relabelings": [{"action": "replace", "targetLabel": "instance", "replacement": t.instance}],
        } for t in scrape_targets(conn)],
    }


class RedisExporter(pulumi.ComponentResource):
    """redis_exporter for one Redis deployment, scraped by kube-prometheus. Its objects
    are named after the instance (config.names.exporter(<store fullname>) in
    __main__.py); the Service name is the `job` label of every series it yields."""

    job: pulumi.Output[str]
    """The exporter's Service name: the `job` label of every series it yields (alerts and dashboard select it)."""
    certificate_not_after: pulumi.Output[dict[str, str]]
    ("Web endpoint certificate (`<name>-web-ca`, `-web-tls`, `-scrape-tls`) -> validityEndTime "
     "(components/monitoring/certificates.py records them for the expiry alert).")

    targets: pulumi.Output[list[str]]
    """`host:port` of every Redis node and Sentinel it scrapes (the `instance` label of their series)."""

    def __init__(self, name: str, args: RedisExporterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:RedisExporter", name, None, opts)
        # A RedisConnection; typed as a map because a complex-typed input cannot take another resource's
        # output through the provider (docs/decisions.md, "Component API and provider").
        conn: pulumi.Output[RedisConnection] = pulumi.Output.from_input(args["connection"]).apply(connection_of)
        namespace = conn.apply(lambda c: c["namespace"])
        stores = stores_for(settings_of(WasAppSettings, a) for a in args["apps"])  # by name: order changes nothing
        image, dns_egress = args["image"], args.get("dns_egress")
        child = pulumi.ResourceOptions(parent=self)
        selector = names.selector_labels(name, COMPONENT)
        labels = names.labels(name, COMPONENT, names.image_version(image))

        def meta(extra: dict | None = None, name_: str = name) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=name_, namespace=namespace, labels={**labels, **(extra or {})})

        def template(c: RedisConnection) -> dict:
            # The store wrote the password file and the counter's password into their Secrets.
            return {"metadata": {"labels": {**labels, **c["client_labels"]},
                                 "annotations": client_pod_annotations(c, c["exporter"])},
                    "spec": pod_spec(name, c, image, check_single_keys(stores),
                                     counter=counter_container(c, stores) if counted_by_scan(stores) else None)}

        web_tls = self._issue_web_certificates(name, namespace, meta)
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(),
            spec=conn.apply(lambda c: {"replicas": 1, "revisionHistoryLimit": 5, "selector": {"matchLabels": selector},
                                       "template": template(c)}),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[web_tls]),
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(),
            spec=conn.apply(lambda c: {
                "type": "ClusterIP", "selector": selector,
                "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
                          for port_name, port in exporter_ports(c)]}),
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=meta(),
            spec=conn.apply(lambda c: {
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {
                        "kubernetes.io/metadata.name": args["prometheus_namespace"]}}}],
                    "ports": [{"protocol": "TCP", "port": port} for _, port in exporter_ports(c)],
                }],
                "egress": client_egress(c, dns_egress),
            }),
            opts=child,
        )
        # Without the release label Prometheus never selects this: the seed's empty dashboard.
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=meta({"release": args["prometheus_release"]}),
            spec=conn.apply(lambda c: service_monitor_spec(name, c)),
            opts=child,
        )
        self.job = pulumi.Output.from_input(name)
        self.targets = conn.apply(lambda c: [t.instance for t in scrape_targets(c)])
        self.register_outputs({"job": self.job, "certificateNotAfter": self.certificate_not_after,
                               "targets": self.targets})

    def _issue_web_certificates(self, name: str, namespace: pulumi.Output[str], meta) -> k8s.core.v1.Secret:
        """The web endpoint's own CA (ECDSA P-256), the exporter's server certificate for its
        Service names and Prometheus's client certificate; each with the CA in a Secret, keys
        only in secret outputs. Returns the exporter's Secret. The exporter reads the files
        on every handshake (exporter/tls.go GetServerCertificateFunc): renewals need no restart."""
        ca = PrivateCa(f"{name}-web-ca", namespace.apply(lambda ns: f"{name} web CA ({ns})"), self, CA_VALIDITY_HOURS)
        dns_names = namespace.apply(lambda ns: names.exporter_dns_names(name, ns))

        def issue(part: str, common_name: pulumi.Input[str], dns_names: pulumi.Input[Sequence[str]], use: str,
                  secret_name: str) -> k8s.core.v1.Secret:
            data = ca.issue(f"{name}-{part}", common_name, dns_names, [use], record_as=f"{name}-{part}")
            return k8s.core.v1.Secret(f"{name}-{part}", metadata=meta(name_=secret_name), type="Opaque",
                                      string_data=data, opts=pulumi.ResourceOptions(parent=self))

        server = issue("web-tls", dns_names.apply(lambda d: d[0]), dns_names, "server_auth",
                       names.exporter_web_tls_secret(name))
        issue("scrape-tls", "prometheus", [], "client_auth", names.exporter_scrape_tls_secret(name))
        self.certificate_not_after = pulumi.Output.all(**ca.not_after, **{f"{name}-web-ca": ca.cert.validity_end_time})
        return server
