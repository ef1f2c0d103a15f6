"""The exporter's web endpoint requires a client certificate (issue 20), proven on the real
redis_exporter (Debian's 1.45 here; the same --tls-server-* flags and the same
RequireAndVerifyClientCert in 1.74's exporter/tls.go) started with exactly the args
`exporter_containers` generates (mount paths mapped to files issued like the program
issues them). Without the certificate, with one from another CA, or in plain HTTP, no
request gets an answer (the hostile /scrape parameters included) and Redis sees no
connection; a real Prometheus configured the way the ServiceMonitor says (scheme,
tlsConfig from the scrape Secret) scrapes it."""
from __future__ import annotations

import dataclasses
import http.client
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

from components.config import names
from components.config.sessions import stores_for, stores_in_order
from components.exporter import AUTH_DIR, WEB_TLS_DIR, exporter_containers, service_monitor_spec
from components.monitoring.session_count import check_single_keys
from components.redis import EXPORTER_PASSWORD_FILE, connection_for
from simulators import certs
from simulators.loopback import HOST, Prometheus, Redis, free_port, service_monitor_jobs, wait_until
from simulators.stack import redis_conf
from tools.stackfile import load_settings

PASSWORD = "exporter-auth-live-password-42"
HOSTILE = [{"check-keys": "db1=spring:session:*"}, {"check-single-keys": "db1=spring:session:sessions:x"},
           {"count-keys": "db1=spring:session:*"}]


def _context(ca: str, client=None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # the certificate names the Service; loopback here
    if client is not None:
        ctx.load_cert_chain(client.cert, client.key)
    return ctx


def _get(url: str, ctx: ssl.SSLContext | None) -> tuple[int | None, str]:
    """(HTTP status, body), or (None, the error) when the connection was refused a reply."""
    try:
        with urllib.request.urlopen(url, timeout=10, context=ctx) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (ssl.SSLError, urllib.error.URLError, ConnectionError, http.client.RemoteDisconnected) as e:
        return None, repr(e)


def test_exporter_endpoints_refuse_requests_without_the_client_certificate_and_prometheus_scrapes(procs):
    settings = load_settings("dev")
    conn = connection_for(settings.redis.release_name, dataclasses.replace(settings.redis, tls=False),
                          settings.namespace, stores_in_order(settings.was_apps))
    name = names.exporter(settings.redis.release_name)
    redis = Redis(procs, "redis", PASSWORD, redis_conf(settings)).start()
    work = procs.workdir
    server, clients = certs.issue(work / "web", names.exporter_dns_names(name, settings.namespace), ["prometheus"])
    _, strangers = certs.issue(work / "other-ca", [], ["prometheus"])
    (work / EXPORTER_PASSWORD_FILE).write_text(json.dumps({f"redis://{redis.addr}": PASSWORD}))
    web_files = {"tls.crt": server.cert, "tls.key": server.key, "ca.crt": server.ca}

    container = exporter_containers(conn, "unused", check_single_keys(stores_for(settings.was_apps)))[0]
    web_flags = [a for a in container["args"] if a.startswith("--tls-server-")]
    assert len(web_flags) == 3
    args = []
    for a in container["args"]:
        if a.startswith(("--redis.user=", "--tls-client-", "--tls-ca-cert-file=", "--web.listen-address=")):
            continue  # the default user over plaintext here: the ACL user is test_security_live.py's
        if a.startswith("--redis.addr="):
            a = f"--redis.addr=redis://{redis.addr}"
        for file_name, path in web_files.items():
            a = a.replace(f"{WEB_TLS_DIR}/{file_name}", path)
        args.append(a.replace(f"{AUTH_DIR}/", f"{work}/"))
    port = free_port()
    exporter = procs.start("exporter", ["prometheus-redis-exporter", *args, f"--web.listen-address={HOST}:{port}"])
    good = _context(server.ca, clients["prometheus"])
    base = f"https://{HOST}:{port}"
    wait_until(lambda: _get(f"{base}/health", good)[0] == 200, 20, what="exporter /health over mTLS",
               procs=(exporter,))

    target = f"redis://{redis.addr}"
    paths = ["/metrics", "/health", f"/scrape?target={urllib.parse.quote(target)}"] + [
        "/scrape?" + urllib.parse.urlencode({"target": target, **p}) for p in HOSTILE]
    connections = int(redis.client().info("stats")["total_connections_received"])
    refused = 0
    for path in paths:
        for ctx, who in ((_context(server.ca), "no certificate"), (_context(server.ca, strangers["prometheus"]),
                                                                   "another CA's certificate")):
            status, text = _get(base + path, ctx)
            assert status is None, (path, who, status, text[:200])
            refused += 1
        status, text = _get(f"http://{HOST}:{port}{path}", None)  # plain HTTP to the TLS port
        assert status == 400 and "redis_" not in text, (path, status, text[:200])
        refused += 1
    assert refused == 3 * len(paths) == 18
    # None of those reached Redis: no new connection (the exporter connects per scrape).
    assert int(redis.client().info("stats")["total_connections_received"]) == connections + 1  # this INFO's own

    status, text = _get(f"{base}/scrape?target={urllib.parse.quote(target)}", good)
    assert status == 200 and "redis_up 1" in text

    # Prometheus, configured the way the ServiceMonitor says (scheme https, tlsConfig from the
    # scrape Secret, whose files are the client certificate issued for it).
    scrape_secret = names.exporter_scrape_tls_secret(name)
    client = clients["prometheus"]
    secret_files = {(scrape_secret, "tls.crt"): client.cert, (scrape_secret, "tls.key"): client.key,
                    (scrape_secret, "ca.crt"): client.ca}
    endpoints = service_monitor_spec(name, conn)["endpoints"]
    assert endpoints and all(e["scheme"] == "https" for e in endpoints)
    jobs = service_monitor_jobs(endpoints, {"metrics": port}, {e["params"]["target"][0]: target for e in endpoints},
                                {"namespace": settings.namespace}, name, interval="1s", secret_files=secret_files)
    # loopback has no DNS name of the Service: Prometheus checks the certificate for the
    # ServiceMonitor's serverName, which the server certificate carries (issued for it).
    assert {j["tls_config"]["server_name"] for j in jobs} == {names.exporter_dns_names(name, settings.namespace)[0]}
    prometheus = Prometheus(procs, {"global": {"scrape_interval": "1s"}, "rule_files": [], "scrape_configs": jobs}, [])
    wait_until(lambda: prometheus.value("min(up)") == 1 and prometheus.value("count(up)") == len(jobs), 30,
               what="every ServiceMonitor endpoint up over mTLS", procs=(prometheus.proc, exporter))
    assert prometheus.value(f'redis_up{{job="{name}"}}') == 1
    targets = prometheus.api("targets")["activeTargets"]
    assert targets and all(t["scrapeUrl"].startswith("https://") and t["health"] == "up" for t in targets), targets
