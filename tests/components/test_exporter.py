"""RedisExporter on a store's connection: targets per topology, credentials from the store, scrape wiring."""
import json

import pytest

from components.config.sessions import stores_for, stores_in_order
from components.exporter import (
    COUNTER_SCRIPT,
    RESOURCES,
    RedisExporter,
    RedisExporterArgs,
    exporter_args,
)
from components.monitoring.session_count import check_single_keys
from components.monitoring.targets import password_file, scrape_targets, with_user
from components.redis import RedisSessionStore, RedisSessionStoreArgs, connection_for
from tests.harness import FAKE_PASSWORD, is_secret, load_settings, plain_occurrences, run_with_mocks

SM = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"


def build(topology, **overrides):
    s = load_settings("dev", {"redisTopology": topology, **overrides})
    conn = connection_for(s.redis.release_name, s.redis, s.namespace, stores_in_order(s.was_apps))

    def program():
        store = RedisSessionStore(s.redis.release_name, RedisSessionStoreArgs(settings=s.redis, namespace=s.namespace,
                                                                              apps=s.was_apps))
        RedisExporter("redis-exporter", RedisExporterArgs(
            connection=store.connection, image=s.exporter_image, prometheus_release=s.prometheus_release,
            prometheus_namespace=s.prometheus_namespace, apps=s.was_apps))

    run = run_with_mocks(program)
    assert run.error is None, run.error
    return s, conn, run


def test_standalone_scrapes_the_master_pod():
    s, conn, run = build("standalone")
    assert [t.instance for t in scrape_targets(conn)] == ["redis-master-0.redis-headless.petclinic-dev.svc.cluster.local:6379"]
    sm = run.one(SM).plain
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus"
    [endpoint] = sm["spec"]["endpoints"]  # one scrape path: no counting endpoint (issue 20)
    assert endpoint["path"] == "/scrape" and endpoint["port"] == "metrics"
    assert endpoint["params"] == {"target": ["redis://redis-master-0.redis-headless.petclinic-dev.svc.cluster.local:6379"]}
    assert endpoint["relabelings"][0]["targetLabel"] == "instance"


def test_sentinel_scrapes_every_node_and_every_sentinel_with_distinct_instances():
    s, conn, run = build("sentinel")
    endpoints = run.one(SM).plain["spec"]["endpoints"]
    assert all(list(e["params"]) == ["target"] for e in endpoints)
    instances = [e["relabelings"][0]["replacement"] for e in endpoints]
    assert len(instances) == len(set(instances)) == 6
    assert sorted(i.rsplit(":", 1)[1] for i in instances) == ["26379"] * 3 + ["6379"] * 3
    for i in range(3):
        assert f"redis-node-{i}.redis-headless.petclinic-dev.svc.cluster.local:6379" in instances


@pytest.mark.parametrize("topology", ["standalone", "sentinel"])
def test_the_store_hands_the_exporter_its_own_password_file_and_the_counter_its_own_password(topology):
    s, conn, run = build(topology)
    dep = run.one("kubernetes:apps/v1:Deployment").plain
    pod = dep["spec"]["template"]
    assert pod["metadata"]["labels"]["redis-client"] == "true"
    container = pod["spec"]["containers"][0]
    assert "env" not in container
    assert "--redis.password-file=/secrets/passwords.json" in container["args"]
    assert {"name": "auth", "mountPath": "/secrets", "readOnly": True} in container["volumeMounts"]
    secret = run.one("kubernetes:core/v1:Secret", "redis-exporter-client-auth")
    assert is_secret(secret.inputs["stringData"])
    auth = next(v for v in pod["spec"]["volumes"] if v["name"] == "auth")["secret"]
    assert auth["secretName"] == secret.plain["metadata"]["name"] == conn["exporter"]["secret_name"]
    assert auth["items"] == [{"key": "passwords.json", "path": "passwords.json"}]  # not its bare password
    file_map = json.loads(secret.plain["stringData"]["passwords.json"])
    assert file_map == json.loads(password_file(conn, FAKE_PASSWORD))
    # every target under both keys: bare (redis_exporter 1.45) and with the user (>= 1.69)
    assert sorted(file_map) == sorted(k for t in scrape_targets(conn) for k in (t.url, with_user(t.url)))
    assert set(file_map.values()) == {FAKE_PASSWORD}
    assert "--redis.user=exporter" in container["args"]
    for r in run.resources:
        assert plain_occurrences(r.inputs, FAKE_PASSWORD) == [], r.name
    # the counter's password: its own Secret, mounted only in its own container
    counter = run.one("kubernetes:core/v1:Secret", "redis-counter-client-auth")
    assert is_secret(counter.inputs["stringData"]) and counter.plain["stringData"] == {"password": FAKE_PASSWORD}
    counter_auth = next(v for v in pod["spec"]["volumes"] if v["name"] == "counter-auth")["secret"]
    assert counter_auth["secretName"] == counter.plain["metadata"]["name"] == conn["counter"]["secret_name"]
    mounted = {c["name"]: [m["name"] for m in c["volumeMounts"]] for c in pod["spec"]["containers"]}
    assert [c for c, m in mounted.items() if "counter-auth" in m] == ["session-counter"]
    assert not any("auth" in m for m in mounted["session-counter"] if m != "counter-auth")
    assert container["ports"][0] == {"name": "metrics", "containerPort": 9121, "protocol": "TCP"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["tcpSocket"] == {"port": "metrics"}
    assert run.one("kubernetes:core/v1:Service").plain["spec"]["ports"][0]["name"] == "metrics"


def test_release_label_follows_config():
    _, _, run = build("standalone", prometheusRelease="monitoring-stack")
    assert run.one(SM).plain["metadata"]["labels"]["release"] == "monitoring-stack"


def test_only_prometheus_namespace_may_scrape():
    _, _, run = build("standalone", prometheusNamespace="observability")
    np = run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy").plain["spec"]
    assert np["policyTypes"] == ["Ingress", "Egress"]
    redis, dns_pods, node_local = np["egress"]  # only Redis and the cluster DNS (dnsEgress default)
    assert redis["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis",
                                                            "app.kubernetes.io/instance": "redis"}}}]
    assert redis["ports"] == [{"protocol": "TCP", "port": 6379}]
    assert {p["port"] for p in dns_pods["ports"]} == {p["port"] for p in node_local["ports"]} == {53}
    assert node_local["to"] == [{"ipBlock": {"cidr": "169.254.20.10/32"}}]
    [rule] = np["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9121}]


@pytest.mark.parametrize("store,pattern", [({"repositoryType": "default"}, "spring:session:petclinic:sessions:*"
                                            "=spring:session:petclinic:sessions:expires:"),  # shadow keys left out
                                           ({"repositoryType": "indexed"}, "spring:session:petclinic:sessions:expires:*"),
                                           ({"repositoryType": "indexed", "sessionExpirationStore": "sorted-set"}, None)])
def test_every_store_gets_its_sorted_sets_read_and_scan_counted_stores_a_counter(store, pattern):
    apps = [{"name": "petclinic", "image": "r/p:1.0", "minReplicas": 1, **store}]
    s, conn, run = build("standalone", wasApps=apps)
    assert run.of_type("kubernetes:core/v1:ConfigMap") == []  # no Lua script any more (issue 20)
    pod = run.one("kubernetes:apps/v1:Deployment").plain["spec"]["template"]["spec"]
    container = pod["containers"][0]
    single = ("--check-single-keys=db1=_redis-session-platform:session-count,"
              "db1=spring:session:petclinic:sessions:expirations,db1=spring:session:sessions:expirations")
    assert not any(a.startswith("--script") for a in container["args"])
    assert container["args"] == exporter_args(conn, check_single_keys(stores_for(s.was_apps)))
    assert not any(a.startswith(("--count-keys", "--check-keys", "--disable-exporting-key-values"))
                   for a in container["args"])
    [endpoint] = run.one(SM).plain["spec"]["endpoints"]
    assert list(endpoint["params"]) == ["target"]
    assert container["resources"] == RESOURCES.to_k8s()  # the exporter holds no key name any more
    if pattern is None:  # the sorted set is counted by ZCARD on every scrape: no SCAN, no counter
        assert single.replace("db1=_redis-session-platform:session-count,", "") in container["args"]
        assert [c["name"] for c in pod["containers"]] == ["redis-exporter"]
        assert "counter-auth" not in [v["name"] for v in pod["volumes"]]
        return
    assert single in container["args"]
    [counter] = [c for c in pod["containers"] if c["name"] == "session-counter"]
    assert counter["image"] == s.redis.redis_image.ref  # the Redis image the stack deploys (digest pin included)
    assert counter["command"] == ["/bin/bash", "-c", COUNTER_SCRIPT]
    env = {e["name"]: e["value"] for e in counter["env"]}
    assert env["COUNT_STORES"] == f"1={pattern}"
    assert env["COUNT_NODES"] == "redis-master-0.redis-headless.petclinic-dev.svc.cluster.local:6379"
    assert (env["COUNT_KEY_NAME"], env["COUNTER_USER"]) == ("_redis-session-platform:session-count", "counter")
    assert (env["COUNT_INTERVAL"], env["COUNT_TTL"], env["COUNT_TIMEOUT"]) == ("60", "180", "55")
    assert env["COUNTER_PASSWORD_FILE"] == "/counter/password" and env["COUNT_TLS_ARGS"] == ""
    assert env["COUNT_SCAN_ARGS"] == ("--count 1000" if s.redis.redis_version >= (7, 2) else "")
    assert "ports" not in counter  # it accepts no request from anyone
    assert counter["securityContext"]["readOnlyRootFilesystem"] is True
    assert counter["resources"]["limits"] and counter["resources"]["requests"]
    assert {"name": "counter-tmp", "emptyDir": {"sizeLimit": "1Mi"}} in pod["volumes"]


def test_the_counter_uses_the_exporters_client_certificate_and_every_node_with_tls():
    apps = [{"name": "petclinic", "image": "r/p:1.0", "minReplicas": 1}]
    s, conn, run = build("sentinel", wasApps=apps, redisTls=True)
    pod = run.one("kubernetes:apps/v1:Deployment").plain["spec"]["template"]["spec"]
    [counter] = [c for c in pod["containers"] if c["name"] == "session-counter"]
    env = {e["name"]: e["value"] for e in counter["env"]}
    assert env["COUNT_TLS_ARGS"] == "--tls --cacert /tls/ca.crt --cert /tls/tls.crt --key /tls/tls.key"
    assert env["COUNT_NODES"].split() == [f"redis-node-{i}.redis-headless.petclinic-dev.svc.cluster.local:6379"
                                          for i in range(3)]
    assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in counter["volumeMounts"]
    assert "$(" not in json.dumps(counter["env"])  # nothing for Kubernetes to expand


def test_sentinels_have_their_own_exporter_container_without_key_checks():
    # A Sentinel holds no keys: its exporter reads none.
    apps = [{"name": "petclinic", "image": "r/p:1.0", "minReplicas": 1, "repositoryType": "indexed"}]
    s, conn, run = build("sentinel", wasApps=apps)
    pod = run.one("kubernetes:apps/v1:Deployment").plain["spec"]["template"]["spec"]
    nodes, sentinels, counter = pod["containers"]
    assert (nodes["name"], sentinels["name"], counter["name"]) == ("redis-exporter", "sentinel-exporter",
                                                                   "session-counter")
    assert any(a.startswith("--check-single-keys=") for a in nodes["args"])
    assert not any(a.startswith(("--script", "--check-single-keys")) for a in sentinels["args"])
    assert "--redis.password-file=/secrets/passwords.json" in sentinels["args"]
    assert [m["name"] for m in sentinels["volumeMounts"]] == ["auth", "web-tls"]
    assert sentinels["ports"] == [{"name": "sentinel-metrics", "containerPort": 9122, "protocol": "TCP"}]
    assert sentinels["livenessProbe"]["tcpSocket"] == {"port": "sentinel-metrics"}
    assert sentinels["securityContext"] == nodes["securityContext"]
    endpoints = run.one(SM).plain["spec"]["endpoints"]
    by_port = {e["relabelings"][0]["replacement"].rsplit(":", 1)[1]: set() for e in endpoints}
    for e in endpoints:
        by_port[e["relabelings"][0]["replacement"].rsplit(":", 1)[1]].add(e["port"])
    assert by_port == {"6379": {"metrics"}, "26379": {"sentinel-metrics"}}
    # the counter tries the Redis nodes, never a Sentinel
    assert all(n.endswith(":6379") for n in next(e["value"] for e in counter["env"] if e["name"] == "COUNT_NODES").split())
    service_ports = run.one("kubernetes:core/v1:Service").plain["spec"]["ports"]
    assert [(p["name"], p["port"]) for p in service_ports] == [("metrics", 9121), ("sentinel-metrics", 9122)]
    ingress_ports = run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy").plain["spec"]["ingress"][0]["ports"]
    assert sorted(p["port"] for p in ingress_ports) == [9121, 9122]


def test_standalone_has_one_exporter_container_and_the_counter():
    _, _, run = build("standalone")
    pod = run.one("kubernetes:apps/v1:Deployment").plain["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["redis-exporter", "session-counter"]
    assert {e["port"] for e in run.one(SM).plain["spec"]["endpoints"]} == {"metrics"}


# --- the web endpoint requires a client certificate (issue 20) ------------------------------

@pytest.mark.parametrize("topology", ["standalone", "sentinel"])
def test_every_exporter_port_requires_a_client_certificate_and_prometheus_presents_one(topology):
    """HTTPS with a required client certificate on every exporter container (flags of
    redis_exporter 1.45 and 1.74: --tls-server-cert-file/-key-file/-ca-cert-file), the
    certificates from Secrets the component issues, and every ServiceMonitor endpoint (the
    counting ones too) scraping over HTTPS with the client certificate."""
    s, conn, run = build(topology)
    pod = run.one("kubernetes:apps/v1:Deployment").plain["spec"]["template"]["spec"]
    assert {"name": "web-tls", "secret": {"secretName": "redis-exporter-web-tls", "defaultMode": 0o440}} in pod["volumes"]
    for c in pod["containers"]:
        if c["name"] == "session-counter":  # no port
            continue
        for flag in ("--tls-server-cert-file=/web-tls/tls.crt", "--tls-server-key-file=/web-tls/tls.key",
                     "--tls-server-ca-cert-file=/web-tls/ca.crt"):
            assert flag in c["args"], (c["name"], flag)
        assert {"name": "web-tls", "mountPath": "/web-tls", "readOnly": True} in c["volumeMounts"]
        assert "httpGet" not in json.dumps(c), "the kubelet has no client certificate"
    endpoints = run.one(SM).plain["spec"]["endpoints"]
    assert len(endpoints) == (1 if topology == "standalone" else 6)
    for e in endpoints:
        assert e["scheme"] == "https"
        assert e["tlsConfig"] == {
            "ca": {"secret": {"name": "redis-exporter-scrape-tls", "key": "ca.crt"}},
            "cert": {"secret": {"name": "redis-exporter-scrape-tls", "key": "tls.crt"}},
            "keySecret": {"name": "redis-exporter-scrape-tls", "key": "tls.key"},
            "serverName": "redis-exporter.petclinic-dev.svc",
        }
        assert "insecureSkipVerify" not in json.dumps(e)
    for secret_name in ("redis-exporter-web-tls", "redis-exporter-scrape-tls"):
        secret = run.one("kubernetes:core/v1:Secret", secret_name)
        assert secret.plain["metadata"]["namespace"] == "petclinic-dev"  # the ServiceMonitor's namespace
        assert sorted(secret.plain["stringData"]) == ["ca.crt", "tls.crt", "tls.key"]
    certs = {r.name: r.inputs for r in run.of_type("tls:index/locallySignedCert:LocallySignedCert")}
    assert "server_auth" in certs["redis-exporter-web-tls-cert"]["allowedUses"]
    assert "client_auth" in certs["redis-exporter-scrape-tls-cert"]["allowedUses"]
    assert "server_auth" not in certs["redis-exporter-scrape-tls-cert"]["allowedUses"]
    requests = {r.name: r.inputs for r in run.of_type("tls:index/certRequest:CertRequest")}
    assert "redis-exporter.petclinic-dev.svc" in requests["redis-exporter-web-tls-csr"]["dnsNames"]
