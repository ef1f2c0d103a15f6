"""The real program against the real dev and prod stack files: the whole resource graph."""

from components.config import names
from tests.harness import FAKE_PASSWORD, FAKE_PRIVATE_KEY, is_secret, plain_occurrences, run_program, unwrap

RELEASE = "kubernetes:helm.sh/v3:Release"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NAMESPACE = {"dev": "petclinic-dev", "prod": "petclinic"}


def env_of(run, app="petclinic"):
    dep = run.one(DEPLOYMENT, f"{app}-deployment").plain
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_graph_has_every_expected_resource(program, stack):
    """The whole graph. Pulumi names are `<component instance>-<part>`; instances are named
    after what they make: the namespace, the Redis fullname, the app, the exporter (store
    fullname + -exporter), the rules and the dashboard."""
    graph = sorted((r.type, r.name) for r in program.resources)
    ns = NAMESPACE[stack]
    expected = {
        ("pulumi:pulumi:StackReference", "previous-deploy"),  # the stack's own last outputs (components/config/changes.py)
        ("redis-session-platform:index:AppNamespace", ns),
        ("kubernetes:core/v1:Namespace", f"{ns}-namespace"),
        ("redis-session-platform:index:RedisSessionStore", "redis"),
        ("random:index/randomPassword:RandomPassword", "redis-password"),
        ("kubernetes:core/v1:Secret", "redis-secret"),
        (RELEASE, "redis-chart"),
        ("redis-session-platform:index:WasApp", "petclinic"),
        (DEPLOYMENT, "petclinic-deployment"),
        ("kubernetes:core/v1:Service", "petclinic-service"),
        ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "petclinic-hpa"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "petclinic-pdb"),
        ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "petclinic-podmonitor"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "petclinic-netpol"),
        ("redis-session-platform:index:RedisExporter", "redis-exporter"),
        (DEPLOYMENT, "redis-exporter-deployment"),
        ("kubernetes:core/v1:Service", "redis-exporter-service"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "redis-exporter-netpol"),
        ("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "redis-exporter-servicemonitor"),
        ("redis-session-platform:index:AlertRules", "redis-session-platform"),
        ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "redis-session-platform-prometheusrule"),
        ("redis-session-platform:index:Dashboard007", "redis-sessions-007"),
        ("kubernetes:core/v1:ConfigMap", "redis-sessions-007-configmap"),
        # ACL users: one per app, the exporter, the runbooks' operator and the session counter, a password
        # each; the ACL Secret
        ("random:index/randomPassword:RandomPassword", "redis-was-petclinic-g1"),
        ("random:index/randomPassword:RandomPassword", "redis-exporter-g1"),
        ("random:index/randomPassword:RandomPassword", "redis-operator-g1"),
        ("random:index/randomPassword:RandomPassword", "redis-counter-g1"),
        ("kubernetes:core/v1:Secret", "redis-petclinic-auth"),
        ("kubernetes:core/v1:Secret", "redis-exporter-client-auth"),  # the exporter's password file, from the store
        ("kubernetes:core/v1:Secret", "redis-counter-client-auth"),  # mounted only into the session counter
        ("kubernetes:core/v1:Secret", "redis-operator-auth"),  # mounted only into the Redis pods
        ("kubernetes:core/v1:Secret", "redis-acl"),
        # the exporter's web endpoint (client certificates required): its CA, its server
        # certificate and Prometheus's client certificate, each in a Secret
        ("tls:index/privateKey:PrivateKey", "redis-exporter-web-ca-key"),
        ("tls:index/selfSignedCert:SelfSignedCert", "redis-exporter-web-ca"),
        ("kubernetes:core/v1:Secret", "redis-exporter-web-tls"),
        ("kubernetes:core/v1:Secret", "redis-exporter-scrape-tls"),
    }
    for part in ("web-tls", "scrape-tls"):
        expected |= {("tls:index/privateKey:PrivateKey", f"redis-exporter-{part}-key"),
                     ("tls:index/certRequest:CertRequest", f"redis-exporter-{part}-csr"),
                     ("tls:index/locallySignedCert:LocallySignedCert", f"redis-exporter-{part}-cert")}
    if stack == "prod":  # mutual TLS: CA, server certificate, a client certificate per client
        for part in ("ca", "server", "petclinic-client", "redis-exporter-client"):
            expected.add(("tls:index/privateKey:PrivateKey", f"redis-{part}-key"))
        expected.add(("tls:index/selfSignedCert:SelfSignedCert", "redis-ca"))
        for part in ("server", "petclinic-client", "redis-exporter-client"):
            expected |= {("tls:index/certRequest:CertRequest", f"redis-{part}-csr"),
                         ("tls:index/locallySignedCert:LocallySignedCert", f"redis-{part}-cert")}
        expected |= {("kubernetes:core/v1:Secret", n) for n in ("redis-tls", "redis-petclinic-tls",
                                                                 "redis-redis-exporter-tls")}
    # Nothing missing, nothing unexpected (Slack is opt-in and off in both stack files).
    assert set(graph) == expected, (expected - set(graph), set(graph) - expected)
    assert len(graph) == len(set(graph)), "duplicate resource names"


def test_every_monitoring_object_carries_the_prometheus_release_label(program):
    kinds = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "AlertmanagerConfig"}
    monitors = [r for r in program.k8s_objects() if r.kind in kinds]
    assert len(monitors) >= 3
    for r in monitors:
        assert r.plain["metadata"]["labels"]["release"] == "kube-prometheus", r.name


def test_everything_lands_in_the_stack_namespace(program, stack):
    for r in program.k8s_objects():
        meta = r.plain["metadata"]
        if r.kind == "Namespace":
            assert meta["name"] == NAMESPACE[stack]
        else:  # Grafana loads dashboards from its own namespace only
            allowed = ("monitoring",) if r.kind == "ConfigMap" and "grafana_dashboard" in meta.get("labels", {}) else ()
            assert meta.get("namespace") in (NAMESPACE[stack],) + allowed, (r.name, meta)
    assert program.one(RELEASE).inputs["namespace"] == NAMESPACE[stack]
    assert program.outputs["namespace"] == NAMESPACE[stack]


def test_dev_is_standalone_and_was_points_at_redis_master():
    run = run_program("dev")
    values = run.one(RELEASE).plain["values"]
    assert values["architecture"] == "standalone"
    assert values["master"]["persistence"]["size"] == "1Gi"
    env = env_of(run)
    # Incident 2: the Service the chart creates for standalone is <fullname>-master.
    assert env["SPRING_DATA_REDIS_HOST"] == "redis-master.petclinic-dev.svc.cluster.local"
    assert env["SPRING_DATA_REDIS_HOST"].split(".")[0] == names.redis_master_service(values["fullnameOverride"])
    assert run.outputs["redisHost"] == env["SPRING_DATA_REDIS_HOST"]
    hpa = run.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").plain["spec"]
    assert hpa["minReplicas"] == 1


def test_prod_is_sentinel_ha_and_was_asks_sentinel():
    run = run_program("prod")
    values = run.one(RELEASE).plain["values"]
    assert values["architecture"] == "replication" and values["sentinel"]["enabled"] is True
    assert values["replica"]["replicaCount"] == 3 and values["sentinel"]["quorum"] == 2
    assert values["replica"]["pdb"]["create"] is True
    assert values["replica"]["resources"]["limits"]["memory"] == "1Gi"
    assert "maxmemory 768mb" in values["commonConfiguration"]
    env = env_of(run)
    assert "SPRING_DATA_REDIS_HOST" not in env
    assert env["SPRING_DATA_REDIS_SENTINEL_MASTER"] == values["sentinel"]["masterSet"] == "mymaster"
    assert env["SPRING_DATA_REDIS_SENTINEL_NODES"] == ",".join(
        f"redis-node-{i}.redis-headless.petclinic.svc.cluster.local:26379" for i in range(3))
    assert run.outputs["redisSentinelNodes"] == env["SPRING_DATA_REDIS_SENTINEL_NODES"].split(",")
    hpa = run.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").plain["spec"]
    assert hpa["minReplicas"] >= 2
    assert run.one("kubernetes:policy/v1:PodDisruptionBudget").plain["spec"]["maxUnavailable"] == 1


def test_password_only_in_the_secret_and_only_as_secret(program):
    holders = sorted(r.name for r in program.resources if FAKE_PASSWORD in repr(r.inputs))
    # the chart's Secret (default user), the app's credentials, the exporter's password file, the operator's,
    # the session counter's
    assert holders == ["redis-counter-client-auth", "redis-exporter-client-auth", "redis-operator-auth",
                       "redis-petclinic-auth", "redis-secret"]
    for secret in (program.one("kubernetes:core/v1:Secret", name) for name in holders):
        assert is_secret(secret.inputs["stringData"])
    for r in program.resources:
        assert plain_occurrences(r.inputs, FAKE_PASSWORD) == [], r.name
        assert plain_occurrences(r.inputs, FAKE_PRIVATE_KEY) == [], r.name
    assert FAKE_PASSWORD not in repr(program.outputs)
    keys = sorted(r.name for r in program.resources if r.kind == "Secret"
                  and FAKE_PRIVATE_KEY in unwrap(r.inputs)["stringData"].values())
    web = ["redis-exporter-scrape-tls", "redis-exporter-web-tls"]  # always: the exporter's web endpoint
    if program.config.get("redis-session-platform:redisTls", "false") == "true":
        assert keys == sorted(web + ["redis-petclinic-tls", "redis-redis-exporter-tls", "redis-tls"])
    else:
        assert keys == web


def test_redis_network_policy_admits_only_labelled_clients(program):
    values = program.one(RELEASE).plain["values"]
    assert values["networkPolicy"] == {"enabled": True, "allowExternal": False}
    label = names.redis_client_label(values["fullnameOverride"])
    for dep in program.of_type(DEPLOYMENT):
        labels = dep.plain["spec"]["template"]["metadata"]["labels"]
        assert labels.get(label[0]) == label[1], dep.name


def test_outputs_name_what_a_user_needs(program):
    assert program.outputs["redisSecretName"] == "redis-password"
    assert program.outputs["wasServices"] == ["petclinic"]
    assert program.outputs["redisMode"] in ("standalone", "sentinel")


def test_existing_namespace_is_not_created():
    run = run_program("dev", {"createNamespace": False})
    assert run.error is None
    assert run.of_type("kubernetes:core/v1:Namespace") == []
