"""RedisExporter: oliver006/redis_exporter + Service :9121 + ServiceMonitor + NetworkPolicy.

One exporter pod in multi-target mode scrapes every Redis node and every Sentinel: the
ServiceMonitor has one endpoint per target (`/scrape?target=redis://<pod>:<port>`), and
relabels `instance` to that target, so each node keeps a stable instance across
failovers and its role shows in `redis_instance_info{role}` (docs/decisions.md,
"Exporter: every node and every Sentinel"). Sentinel topology runs a second exporter
container for the Sentinels, without `--check-single-keys` (a Sentinel has no keys).
The Redis-node exporter reads the sorted-set keys on every scrape (`--check-single-keys`:
TYPE + ZCARD, no Lua), the sorted-set store's count and every store's check.

Sessions counted by SCAN (default repository, indexed with minute sets) are counted on a
second ServiceMonitor endpoint per Redis node: the same exporter with `count-keys` as a
/scrape parameter, every COUNT_INTERVAL, its own `job` label, only `redis_keys_count` kept
(components/monitoring/session_count.py). The SCAN holds the matched key names in the exporter's memory,
so the container's memory grows with the declared peak (`exporter_resources`).

The web endpoint (/metrics, /scrape, every port) is HTTPS and requires a client
certificate signed by the exporter's own CA (`--tls-server-*`; redis_exporter
exporter/tls.go GetConfigForClientFunc: tls.RequireAndVerifyClientCert, in 1.45 and 1.74):
the ServiceMonitor's tlsConfig gives Prometheus that certificate from a Secret. Nobody
else, whatever the NetworkPolicy admits, can make the exporter scrape, walk keys or count.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from .config import names
from .config.model import Resources
from .config.podsecurity import EXPORTER_UID, restricted_container
from .config.sessions import SessionStore
from .config.tls import CA_VALIDITY_HOURS, CERT_EARLY_RENEWAL_HOURS, CERT_VALIDITY_HOURS
from .monitoring.session_count import (
    CHECK_SINGLE_KEYS_FLAG,
    COUNT_INTERVAL,
    COUNT_KEYS_METRIC,
    COUNT_KEYS_PARAM,
    COUNT_TIMEOUT,
    check_single_keys,
    count_job,
    count_keys,
)
from .redis import TLS_FINGERPRINT_ANNOTATION, RedisConnection, client_egress

COMPONENT = "metrics"
AUTH_DIR = "/secrets"
AUTH_FILE = "passwords.json"
TLS_DIR = "/tls"
WEB_TLS_DIR = "/web-tls"  # the web endpoint's server certificate and the CA of its clients
SCRAPE_INTERVAL = "30s"
METRICS_PORT = "metrics"  # Redis nodes (with check-single-keys)
SENTINEL_METRICS_PORT = "sentinel-metrics"  # Sentinels (no keys to read)
SENTINEL_EXPORTER_PORT = names.EXPORTER_PORT + 1  # 9122
RESOURCES = Resources("20m", "200m", "48Mi", "96Mi")
# The counting scrape (SCAN via count-keys) keeps every matched key name in the exporter
# until the count is done. Measured (docs/benchmarks.md, 1M sessions): 225 B per session for
# 70-byte keys, 272 B for 78-byte keys; modelled as 150 + 1.5 x key length, plus 20 %.
COUNT_CPU_LIMIT = "1"
SESSION_ID_LENGTH = 36  # Spring's default id: a UUID


def count_bytes_per_session(stores: tuple[SessionStore, ...]) -> int:
    """Exporter memory one session costs while its store is counted by SCAN (the largest
    key of the SCAN-counted stores decides: they are counted one after the other)."""
    longest = max(len(s.scan_pattern) - 1 + SESSION_ID_LENGTH for s in stores if s.method == "scan")
    return int(1.2 * (150 + 1.5 * longest))


def exporter_resources(stores: tuple[SessionStore, ...], peak_sessions: int) -> Resources:
    """The Redis-node exporter's resources: RESOURCES, plus room for the counting scrape's
    key names (`peak_sessions` x count_bytes_per_session) and a core to SCAN with, when a
    store is counted by SCAN."""
    if count_keys(stores) is None:
        return RESOURCES
    extra_mib = -(-peak_sessions * count_bytes_per_session(stores) // 2**20)
    limit = int(RESOURCES.memory_limit.removesuffix("Mi")) + extra_mib
    return Resources(RESOURCES.cpu_request, COUNT_CPU_LIMIT, RESOURCES.memory_request, f"{limit}Mi")


@dataclass(frozen=True)
class ScrapeTarget:
    """One Redis or Sentinel process the exporter scrapes."""

    instance: str
    """Stable `host:port`, the `instance` label."""
    url: str
    """The `target` parameter of /scrape."""
    port: str = METRICS_PORT
    """Name of the exporter port (container and Service) that scrapes this target."""


@dataclass(frozen=True)
class RedisExporterArgs:
    """Inputs of RedisExporter."""

    connection: RedisConnection
    """Redis to scrape (names, Secret, client label)."""
    image: str
    """redis_exporter image reference (pinned)."""
    prometheus_release: str
    """`release` label the Prometheus operator selects ServiceMonitors by."""
    prometheus_namespace: str
    """Namespace of Prometheus: the only one the exporter's NetworkPolicy admits."""
    stores: tuple[SessionStore, ...]
    """Session stores: their sorted-set keys are read on every scrape, SCAN-counted ones on the counting endpoint."""
    password: pulumi.Output
    """The exporter user's current ACL password (secret Output); written to its password file."""
    peak_sessions: int = 0
    """Declared peak of live sessions (`expectedPeakSessions`): sizes the counting scrape's memory."""
    dns_egress: tuple[dict, ...] | None = None
    """Egress rules to the cluster DNS (the stack's dnsEgress); None: its default."""
    tls_fingerprint: pulumi.Input[str] | None = None
    """With TLS: digest of the exporter's client certificate and CA; a pod annotation, so a renewal rolls it."""


def scrape_targets(conn: RedisConnection) -> list[ScrapeTarget]:
    """Every Redis node, then (sentinel) every Sentinel."""
    scheme = conn.scheme
    targets = [ScrapeTarget(f"{h}:{conn.port}", f"{scheme}://{h}:{conn.port}") for h in conn.node_hosts]
    if conn.mode == "sentinel":
        targets += [ScrapeTarget(f"{h}:{conn.sentinel_port}", f"{scheme}://{h}:{conn.sentinel_port}",
                                 SENTINEL_METRICS_PORT) for h in conn.node_hosts]
    return targets


NO_CONFIG_COMMAND = "--config-command=-"
"""Never send CONFIG GET * (its user may not: it returns masterauth in clear). v1.74 skips the
config metrics on "-" (main.go flag config-command, exporter.go scrapeRedisHost); v1.45 sends
`- GET *`, an unknown command, refused before any ACL check: no ACL LOG entry either way."""


def _auth_args(conn: RedisConnection) -> list[str]:
    # The exporter's own ACL user (read-only); with TLS its client certificate and our CA.
    args = [f"--redis.user={names.EXPORTER_USER}", f"--redis.password-file={AUTH_DIR}/{AUTH_FILE}",
            NO_CONFIG_COMMAND]
    if conn.tls:
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


def with_user(url: str, user: str = names.EXPORTER_USER) -> str:
    """`scheme://user@host:port`: the password-file key redis_exporter >= 1.69 looks up when
    --redis.user is set (exporter.go lookupPasswordInPasswordMap); 1.45 looks up the bare URI."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}@{rest}"


def password_file(conn: RedisConnection, password: str) -> str:
    """redis_exporter's password file: a JSON map of target URI -> password, each target
    under both keys (with and without the user) so 1.45 and 1.74 find it."""
    return json.dumps({k: password for t in scrape_targets(conn) for k in (t.url, with_user(t.url))}, sort_keys=True)


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
                             METRICS_PORT, names.EXPORTER_PORT, conn.tls, resources)]
    if conn.mode == "sentinel":
        containers.append(_container("sentinel-exporter", image, sentinel_exporter_args(conn),
                                     SENTINEL_METRICS_PORT, SENTINEL_EXPORTER_PORT, conn.tls))
    return containers


def exporter_ports(conn: RedisConnection) -> list[tuple[str, int]]:
    """(name, port) of every exporter port: Service ports and NetworkPolicy ports."""
    return [(p["name"], p["containerPort"]) for c in exporter_containers(conn, "") for p in c["ports"]]


def pod_spec(name: str, conn: RedisConnection, image: str, single_keys: str | None = None,
             resources: Resources = RESOURCES) -> dict:
    """The exporter's pod spec (plain dict); `name` is the component's (its objects') name."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        # fsGroup: the kubelet gives the Secret files to this group, so the non-root
        # exporter can read them (a Secret volume's files are otherwise root's).
        "securityContext": {"runAsNonRoot": True, "runAsUser": EXPORTER_UID, "fsGroup": EXPORTER_UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": exporter_containers(conn, image, single_keys, resources),
        "volumes": [{"name": "auth", "secret": {"secretName": f"{name}-auth", "defaultMode": 0o440}},
                    {"name": "web-tls", "secret": {"secretName": names.exporter_web_tls_secret(name),
                                                   "defaultMode": 0o440}}],
    }
    if conn.tls:
        spec["volumes"].append({"name": "tls", "secret": {"secretName": names.client_tls_secret(name),
                                                          "defaultMode": 0o440}})
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


def count_endpoint(name: str, target: ScrapeTarget, keys: str) -> dict:
    """The counting endpoint of one Redis node: /scrape with `count-keys`, job
    `<name>-session-count`, only redis_keys_count kept."""
    return {
        "port": target.port,
        "path": "/scrape",
        "interval": COUNT_INTERVAL,
        "scrapeTimeout": COUNT_TIMEOUT,
        "params": {"target": [target.url], COUNT_KEYS_PARAM: [keys]},
        "relabelings": [{"action": "replace", "targetLabel": "instance", "replacement": target.instance},
                        {"action": "replace", "targetLabel": "job", "replacement": count_job(name)}],
        "metricRelabelings": [{"action": "keep", "sourceLabels": ["__name__"], "regex": COUNT_KEYS_METRIC}],
    }


def count_endpoints(name: str, conn: RedisConnection, stores: tuple[SessionStore, ...]) -> list[dict]:
    """A counting endpoint per Redis node; none when no store is counted by SCAN."""
    keys = count_keys(stores)
    if keys is None:
        return []
    return [{**count_endpoint(name, t, keys), **scrape_tls(name, conn.namespace)}
            for t in scrape_targets(conn) if t.port == METRICS_PORT]


def service_monitor_spec(name: str, conn: RedisConnection, stores: tuple[SessionStore, ...] = ()) -> dict:
    """One endpoint per scrape target, `instance` relabelled to the target; then the
    counting endpoints."""
    return {
        "selector": {"matchLabels": names.selector_labels(name, COMPONENT)},
        "namespaceSelector": {"matchNames": [conn.namespace]},
        "endpoints": [{
            "port": t.port,
            "path": "/scrape",
            "interval": SCRAPE_INTERVAL,
            "params": {"target": [t.url]},
            **scrape_tls(name, conn.namespace),
            "relabelings": [{"action": "replace", "targetLabel": "instance", "replacement": t.instance}],
        } for t in scrape_targets(conn)] + count_endpoints(name, conn, stores),
    }


class RedisExporter(pulumi.ComponentResource):
    certificate_not_after: pulumi.Output
    """Web endpoint certificate (`<name>-web-ca`, `-web-tls`, `-scrape-tls`) -> validityEndTime
    (components/monitoring/certificates.py records them for the expiry alert)."""

    """redis_exporter for one Redis deployment, scraped by kube-prometheus. Its objects
    are named after the instance (config.names.exporter(<store fullname>) in
    __main__.py); the Service name is the `job` label of every series it yields."""

    def __init__(self, name: str, args: RedisExporterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:RedisExporter", name, None, opts)
        conn = args.connection
        child = pulumi.ResourceOptions(parent=self)
        selector = names.selector_labels(name, COMPONENT)
        labels = names.labels(name, COMPONENT, names.image_version(args.image))

        def meta(extra: dict | None = None, name_: str = name) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=name_, namespace=conn.namespace, labels={**labels, **(extra or {})})

        auth = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=meta(name_=f"{name}-auth"),
            type="Opaque",
            string_data={AUTH_FILE: pulumi.Output.secret(args.password).apply(lambda p: password_file(conn, str(p)))},
            opts=child,
        )
        web_tls = self._issue_web_certificates(name, conn.namespace, meta)
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(),
            spec={
                "replicas": 1,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": {**labels, **conn.client_labels},
                                          "annotations": {names.CREDENTIAL_ANNOTATION: str(conn.password_generation),
                                                          **({TLS_FINGERPRINT_ANNOTATION: args.tls_fingerprint}
                                                             if args.tls_fingerprint is not None else {})}},
                             "spec": pod_spec(name, conn, args.image, check_single_keys(args.stores),
                                              exporter_resources(args.stores, args.peak_sessions))},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[auth, web_tls]),
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(),
            spec={"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
                            for port_name, port in exporter_ports(conn)]},
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=meta(),
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args.prometheus_namespace}}}],
                    "ports": [{"protocol": "TCP", "port": port} for _, port in exporter_ports(conn)],
                }],
                "egress": client_egress(conn, args.dns_egress),
            },
            opts=child,
        )
        # Without the release label Prometheus never selects this: the seed's empty dashboard.
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=meta({"release": args.prometheus_release}),
            spec=service_monitor_spec(name, conn, args.stores),
            opts=child,
        )
        self.register_outputs({"targets": [t.instance for t in scrape_targets(conn)]})

    def _issue_web_certificates(self, name: str, namespace: str, meta) -> k8s.core.v1.Secret:
        """The web endpoint's own CA (ECDSA P-256), the exporter's server certificate for its
        Service names and Prometheus's client certificate; each with the CA in a Secret, keys
        only in secret outputs. Returns the exporter's Secret. The exporter reads the files
        on every handshake (exporter/tls.go GetServerCertificateFunc): renewals need no restart."""
        child = pulumi.ResourceOptions(parent=self)
        not_after: dict[str, pulumi.Output] = {}

        def key(resource: str) -> tls.PrivateKey:
            return tls.PrivateKey(resource, algorithm="ECDSA", ecdsa_curve="P256", opts=child)

        ca_key = key(f"{name}-web-ca-key")
        ca = tls.SelfSignedCert(
            f"{name}-web-ca", private_key_pem=ca_key.private_key_pem, is_ca_certificate=True,
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"{name} web CA ({namespace})"),
            validity_period_hours=CA_VALIDITY_HOURS, allowed_uses=["cert_signing", "crl_signing"], opts=child)

        def issue(part: str, common_name: str, dns_names: list[str], use: str, secret_name: str) -> k8s.core.v1.Secret:
            private = key(f"{name}-{part}-key")
            request = tls.CertRequest(f"{name}-{part}-csr", private_key_pem=private.private_key_pem,
                                      subject=tls.CertRequestSubjectArgs(common_name=common_name),
                                      dns_names=dns_names, opts=child)
            cert = tls.LocallySignedCert(
                f"{name}-{part}-cert", cert_request_pem=request.cert_request_pem,
                ca_private_key_pem=ca_key.private_key_pem, ca_cert_pem=ca.cert_pem,
                validity_period_hours=CERT_VALIDITY_HOURS, early_renewal_hours=CERT_EARLY_RENEWAL_HOURS,
                allowed_uses=["digital_signature", "key_agreement", use], opts=child)
            not_after[f"{name}-{part}"] = cert.validity_end_time
            data = {"tls.crt": cert.cert_pem, "tls.key": private.private_key_pem_pkcs8,  # secret (pulumi-tls)
                    "ca.crt": ca.cert_pem}
            return k8s.core.v1.Secret(f"{name}-{part}", metadata=meta(name_=secret_name), type="Opaque",
                                      string_data=data, opts=child)

        server = issue("web-tls", names.exporter_dns_names(name, namespace)[0], names.exporter_dns_names(name, namespace),
                       "server_auth", names.exporter_web_tls_secret(name))
        issue("scrape-tls", "prometheus", [], "client_auth", names.exporter_scrape_tls_secret(name))
        not_after[f"{name}-web-ca"] = ca.validity_end_time
        self.certificate_not_after = pulumi.Output.all(**not_after)
        return server
