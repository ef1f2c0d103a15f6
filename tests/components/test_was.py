"""WasApp in isolation: Spring Session wiring per Boot major and topology, pod hardening."""
import pytest

from components.config.sessions import stores_in_order
from components.redis import connection_for
from components.was import SECRETS_DIR, TLS_DIR, WasApp, WasAppArgs, password_files, pod_spec, spring_env
from tests.harness import load_settings, run_with_mocks

APP = {"name": "shop", "image": "registry.example/shop:2.1.0"}


def settings_for(topology, **app):
    s = load_settings("dev", {"redisTopology": topology, "wasApps": [{**APP, **app}]})
    return s.was_apps[0], connection_for(s.redis.release_name, s.redis, "shop-ns", stores_in_order(s.was_apps))


def env_map(env):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in env}


@pytest.mark.parametrize("boot,redis_prefix,session_prefix", [
    (2, "SPRING_REDIS", "SPRING_SESSION_REDIS"),
    (3, "SPRING_DATA_REDIS", "SPRING_SESSION_REDIS"),
    (4, "SPRING_DATA_REDIS", "SPRING_SESSION_DATA_REDIS"),
])
def test_standalone_env_uses_master_service_and_secret_ref(boot, redis_prefix, session_prefix):
    app, conn = settings_for("standalone", springBootMajor=boot, sessionTimeout="15m")
    env = env_map(spring_env(app, conn))
    assert env[f"{redis_prefix}_HOST"] == "redis-master.shop-ns.svc.cluster.local"
    assert env[f"{redis_prefix}_PORT"] == "6379"
    assert f"{redis_prefix}_PASSWORD" not in env  # a file, not an env var
    assert env["SPRING_CONFIG_IMPORT"] == f"optional:configtree:{SECRETS_DIR}/"
    prop = "spring.redis" if boot == 2 else "spring.data.redis"
    assert password_files(app, conn) == [{"key": "password", "path": f"{prop}.password"}]
    assert env[f"{redis_prefix}_USERNAME"] == "was-shop"  # its own ACL user
    assert env[f"{redis_prefix}_DATABASE"] == "1"
    assert env[f"{session_prefix}_NAMESPACE"] == "spring:session:shop"
    assert env[f"{session_prefix}_FLUSH_MODE"] == "on_save"
    assert env["SPRING_SESSION_TIMEOUT"] == "900s"
    assert not any("SENTINEL" in name for name in env)
    assert ("SPRING_SESSION_STORE_TYPE" in env) == (boot == 2)
    if boot == 2:
        assert env[f"{session_prefix}_CONFIGURE_ACTION"] == "none"  # indexed: Redis config does it
        assert f"{session_prefix}_REPOSITORY_TYPE" not in env
    else:
        assert env[f"{session_prefix}_REPOSITORY_TYPE"] == "default"
        assert f"{session_prefix}_CONFIGURE_ACTION" not in env


@pytest.mark.parametrize("boot", [2, 3, 4])
def test_sentinel_env_asks_sentinel_for_the_master(boot):
    app, conn = settings_for("sentinel", springBootMajor=boot)
    env = env_map(spring_env(app, conn))
    prefix = "SPRING_REDIS" if boot == 2 else "SPRING_DATA_REDIS"
    assert f"{prefix}_HOST" not in env
    assert env[f"{prefix}_SENTINEL_MASTER"] == "mymaster"
    assert env[f"{prefix}_SENTINEL_NODES"].split(",") == [
        f"redis-node-{i}.redis-headless.shop-ns.svc.cluster.local:26379" for i in range(3)]
    prop = "spring.redis" if boot == 2 else "spring.data.redis"
    assert [i["path"] for i in password_files(app, conn)] == [f"{prop}.password", f"{prop}.sentinel.password"]
    assert env[f"{prefix}_SENTINEL_USERNAME"] == env[f"{prefix}_USERNAME"] == "was-shop"
    volume = {v["name"]: v for v in pod_spec(app, conn)["volumes"]}["redis-secret"]["secret"]
    assert volume["secretName"] == "shop-redis-auth" and volume["items"] == password_files(app, conn)


def test_indexed_on_boot3_sets_repository_type_and_configure_action():
    app, conn = settings_for("standalone", repositoryType="indexed", flushMode="immediate")
    env = env_map(spring_env(app, conn))
    assert env["SPRING_SESSION_REDIS_REPOSITORY_TYPE"] == "indexed"
    assert env["SPRING_SESSION_REDIS_CONFIGURE_ACTION"] == "none"
    assert env["SPRING_SESSION_REDIS_FLUSH_MODE"] == "immediate"


def test_component_declares_deployment_service_hpa_pdb():
    app, conn = settings_for("standalone", minReplicas=2, maxReplicas=6, targetCpuPercent=60)
    run = run_with_mocks(lambda: WasApp("was-shop", WasAppArgs(app=app, connection=conn, prometheus_release="kp")))
    assert run.error is None, run.error
    kinds = sorted(r.kind for r in run.resources if r.custom)
    assert kinds == ["Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget", "PodMonitor", "Service"]
    netpol = run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy").plain["spec"]
    assert netpol["policyTypes"] == ["Ingress", "Egress"]
    assert netpol["ingress"] == [  # the app port for the ingress path, actuator only for Prometheus
        {"ports": [{"protocol": "TCP", "port": 8080}]},
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
         "ports": [{"protocol": "TCP", "port": 8081}]}]
    # Redis, the DNS pods, NodeLocal DNSCache (dnsEgress default) only
    assert [r["ports"][0]["port"] for r in netpol["egress"]] == [6379, 53, 53]
    monitor = run.one("kubernetes:monitoring.coreos.com/v1:PodMonitor").plain
    assert monitor["metadata"]["labels"]["release"] == "kp"
    assert monitor["spec"]["podMetricsEndpoints"] == [
        {"port": "management", "path": "/actuator/prometheus", "interval": "30s"}]
    dep = run.one("kubernetes:apps/v1:Deployment").plain
    selector = dep["spec"]["selector"]["matchLabels"]
    assert "app.kubernetes.io/version" not in selector
    template_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert template_labels["redis-client"] == "true"  # passes the Redis NetworkPolicy
    assert selector.items() <= template_labels.items()
    assert dep["metadata"]["namespace"] == "shop-ns"
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["image"] == "registry.example/shop:2.1.0"
    # probes on the app port (add-additional-paths); actuator on its own port
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert [(p["name"], p["containerPort"]) for p in c["ports"]] == [("http", 8080), ("management", 8081)]
    env = env_map(c["env"])
    assert env["MANAGEMENT_SERVER_PORT"] == "8081"
    assert env["MANAGEMENT_ENDPOINT_HEALTH_PROBES_ADD_ADDITIONAL_PATHS"] == "true"
    assert c["lifecycle"]["preStop"] == {"sleep": {"seconds": 10}}
    assert pod["terminationGracePeriodSeconds"] > 10 + 20
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 10000
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["redis-secret"] == {"name": "redis-secret", "mountPath": SECRETS_DIR, "readOnly": True}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["limits"]["memory"] == "768Mi"
    assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == selector
    hpa = run.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").plain["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert hpa["scaleTargetRef"]["name"] == "shop"
    pdb = run.one("kubernetes:policy/v1:PodDisruptionBudget").plain["spec"]
    assert pdb["selector"]["matchLabels"] == selector and pdb["maxUnavailable"] == 1
    svc = run.one("kubernetes:core/v1:Service").plain["spec"]
    assert svc["selector"] == selector and svc["ports"][0]["port"] == 8080


@pytest.mark.parametrize("boot", [2, 3, 4])
def test_health_group_with_redis_fails_fast_without_tying_readiness_to_redis(boot):
    """Boot 3.1+ refuses to start when a health group includes a contributor that does not
    exist: the `sessions` group including `redis` stops an image without Spring Data Redis.
    No probe uses that group, and readiness/liveness keep their default members."""
    app, conn = settings_for("standalone", springBootMajor=boot)
    env = env_map(spring_env(app, conn))
    assert env["MANAGEMENT_ENDPOINT_HEALTH_GROUP_SESSIONS_INCLUDE"] == "redis"
    assert env["MANAGEMENT_ENDPOINT_HEALTH_VALIDATE_GROUP_MEMBERSHIP"] == "true"
    assert not [n for n in env if n.startswith(("MANAGEMENT_ENDPOINT_HEALTH_GROUP_READINESS",
                                                "MANAGEMENT_ENDPOINT_HEALTH_GROUP_LIVENESS"))]
    probes = [c[p]["httpGet"]["path"] for c in pod_spec(app, conn)["containers"]
              for p in ("startupProbe", "livenessProbe", "readinessProbe")]
    assert not [path for path in probes if "sessions" in path or "redis" in path]


@pytest.mark.parametrize("boot", [3, 4])
def test_tls_uses_an_ssl_bundle_of_the_apps_own_certificate(boot):
    s = load_settings("dev", {"redisTopology": "sentinel", "redisTls": True,
                              "wasApps": [{**APP, "springBootMajor": boot}]})
    app, conn = s.was_apps[0], connection_for(s.redis.release_name, s.redis, "shop-ns", stores_in_order(s.was_apps))
    env = env_map(spring_env(app, conn))
    assert env["SPRING_DATA_REDIS_SSL_ENABLED"] == "true" and env["SPRING_DATA_REDIS_SSL_BUNDLE"] == "redis"
    assert env["SPRING_SSL_BUNDLE_PEM_REDIS_TRUSTSTORE_CERTIFICATE"] == f"file:{TLS_DIR}/ca.crt"
    assert env["SPRING_SSL_BUNDLE_PEM_REDIS_KEYSTORE_PRIVATE_KEY"] == f"file:{TLS_DIR}/tls.key"
    pod = pod_spec(app, conn)
    volume = {v["name"]: v for v in pod["volumes"]}["redis-tls"]["secret"]
    assert volume["secretName"] == "shop-redis-tls"
    assert not any("BEGIN" in str(e.get("value")) for e in pod["containers"][0]["env"])


def test_spring_boot_2_with_tls_is_refused_in_one_line():
    from components.config.config import ConfigError
    with pytest.raises(ConfigError, match=r"^stack config wasApps\[0\]\.springBootMajor=2 is invalid: 3 \(3\.1\+\) or 4"):
        load_settings("dev", {"redisTls": True, "wasApps": [{**APP, "springBootMajor": 2}]})
