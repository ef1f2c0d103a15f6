"""RedisSessionStore in isolation: chart values, connection object, password handling."""
import pytest

from components.config.sessions import stores_in_order
from components.redis import RedisSessionStore, RedisSessionStoreArgs, chart_values, connection_for
from tests.harness import FAKE_PASSWORD, is_secret, load_settings, plain_occurrences, run_with_mocks

TOPOLOGIES = ("standalone", "sentinel")


def redis_settings(topology, **overrides):
    return load_settings("dev", {"redisTopology": topology, **overrides}).redis


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_component_registers_password_secret_and_pinned_release(topology):
    s = redis_settings(topology)
    run = run_with_mocks(lambda: RedisSessionStore("redis", RedisSessionStoreArgs(settings=s, namespace="ns1")))
    assert run.error is None, run.error
    assert sorted((r.type, r.name) for r in run.resources) == [
        ("kubernetes:core/v1:Secret", "redis-acl"),  # the ACL files
        ("kubernetes:core/v1:Secret", "redis-counter-client-auth"),  # the session counter's credentials
        ("kubernetes:core/v1:Secret", "redis-exporter-client-auth"),  # the exporter's (and its password file)
        ("kubernetes:core/v1:Secret", "redis-operator-auth"),  # the runbooks' user, mounted in Redis
        ("kubernetes:core/v1:Secret", "redis-secret"),
        ("kubernetes:helm.sh/v3:Release", "redis-chart"),
        ("random:index/randomPassword:RandomPassword", "redis-counter-g1"),  # the session counter's
        ("random:index/randomPassword:RandomPassword", "redis-exporter-g1"),  # the exporter's ACL user
        ("random:index/randomPassword:RandomPassword", "redis-operator-g1"),  # the operator's
        ("random:index/randomPassword:RandomPassword", "redis-password"),
        ("redis-session-platform:index:RedisSessionStore", "redis"),
    ]
    secret = run.one("kubernetes:core/v1:Secret", "redis-secret")
    assert secret.plain["metadata"] == {"name": "redis-password", "namespace": "ns1",
                                        "labels": secret.plain["metadata"]["labels"]}
    assert is_secret(secret.inputs["stringData"]), "stringData must be a secret input"
    assert secret.plain["stringData"] == {"redis-password": FAKE_PASSWORD}
    release = run.one("kubernetes:helm.sh/v3:Release")
    assert release.inputs["name"] == "redis"
    assert release.inputs["chart"] == "oci://registry-1.docker.io/bitnamicharts/redis"
    assert release.inputs["version"] == "23.1.1"
    assert release.inputs["namespace"] == "ns1"
    assert release.inputs["atomic"] is True
    assert plain_occurrences(release.inputs, FAKE_PASSWORD) == []
    for password in run.of_type("random:index/randomPassword:RandomPassword"):
        assert password.inputs["length"] >= 32
    acl = run.one("kubernetes:core/v1:Secret", "redis-acl")
    assert is_secret(acl.inputs["stringData"]) and set(acl.plain["stringData"]) == {"redis.acl", "sentinel.acl"}
    assert FAKE_PASSWORD not in repr(acl.inputs)  # hashes only


def test_standalone_values_persist_with_aof_and_no_root_init():
    v = chart_values("redis", redis_settings("standalone"))
    assert v["architecture"] == "standalone"
    assert v["fullnameOverride"] == "redis"
    assert v["master"]["persistence"] == {"enabled": True, "size": "1Gi"}
    assert v["master"]["count"] == 1
    conf = v["commonConfiguration"].splitlines()
    assert "appendonly yes" in conf and 'save ""' in conf and "appendfsync everysec" in conf
    assert "maxmemory 96mb" in conf and "maxmemory-policy volatile-ttl" in conf
    assert "notify-keyspace-events Egx" not in conf  # no indexed app in dev
    # Incident 1: volume writable by the non-root user, no root init container.
    assert v["volumePermissions"] == {"enabled": False}
    pod = v["master"]["podSecurityContext"]
    assert pod["fsGroupChangePolicy"] == "OnRootMismatch"
    c = v["master"]["containerSecurityContext"]
    assert c["runAsNonRoot"] and c["runAsUser"] == pod["fsGroup"] >= 10000 and not c["allowPrivilegeEscalation"]
    assert c["capabilities"] == {"drop": ["ALL"]} and c["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["readOnlyRootFilesystem"] is True
    assert v["master"]["resources"]["limits"]["memory"] == "128Mi"
    assert v["master"]["resources"]["requests"]["memory"] == "128Mi"
    assert "replica" not in v and "sentinel" not in v


def test_values_lock_redis_to_labelled_clients_and_existing_secret():
    for topology in TOPOLOGIES:
        v = chart_values("redis", redis_settings(topology))
        assert v["networkPolicy"] == {"enabled": True, "allowExternal": False}
        assert v["auth"] == {"enabled": True, "sentinel": True, "existingSecret": "redis-password",
                             "existingSecretPasswordKey": "redis-password"}
        assert v["global"]["security"]["allowInsecureImages"] is True
        assert v["image"] == {"registry": "docker.io", "repository": "bitnamilegacy/redis", "tag": "8.2.1-debian-12-r0"}
        assert v["metrics"] == {"enabled": False}


def test_sentinel_values_spread_nodes_and_keep_quorum():
    v = chart_values("redis", redis_settings("sentinel", sentinelNodes=5, sentinelQuorum=3))
    assert v["architecture"] == "replication"
    assert v["sentinel"]["enabled"] is True
    assert v["sentinel"]["quorum"] == 3 and v["sentinel"]["masterSet"] == "mymaster"
    assert v["sentinel"]["downAfterMilliseconds"] == 5000 and v["sentinel"]["failoverTimeout"] == 60000
    assert v["sentinel"]["image"]["repository"] == "bitnamilegacy/redis-sentinel"
    assert v["replica"]["replicaCount"] == 5
    assert v["replica"]["pdb"] == {"create": True, "maxUnavailable": 1}
    spread = v["replica"]["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "kubernetes.io/hostname" and spread[0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "redis"
    assert "master" not in v  # Sentinel nodes take replica.* values only


def test_indexed_app_turns_on_keyspace_notifications():
    apps = [{"name": "legacy", "image": "r/legacy:1.0", "springBootMajor": 2}]
    s = load_settings("dev", {"wasApps": apps})
    v = chart_values("redis", s.redis, stores_in_order(s.was_apps))
    assert "notify-keyspace-events Egx" in v["commonConfiguration"].splitlines()
    # default-repository apps only: no keyspace events
    s = load_settings("dev")
    assert "notify-keyspace-events" not in chart_values("redis", s.redis, stores_in_order(s.was_apps))["commonConfiguration"]


def test_storage_class_only_when_set():
    assert "storageClass" not in chart_values("redis", redis_settings("standalone"))["master"]["persistence"]
    v = chart_values("redis", redis_settings("standalone", redisStorageClass="fast-ssd"))
    assert v["master"]["persistence"]["storageClass"] == "fast-ssd"


def test_connection_names_follow_the_chart_and_hand_each_client_its_own_credentials():
    apps = [{"name": "shop", "image": "r/shop:1.0", "sessionDatabase": 1},
            {"name": "cart", "image": "r/cart:1.0", "sessionDatabase": 2}]
    standalone = connection_for("sessions", redis_settings("standalone", wasApps=apps), "shop",
                                stores_in_order(load_settings("dev", {"wasApps": apps}).was_apps))
    assert standalone["mode"] == "standalone" and standalone["scheme"] == "redis"
    assert standalone["host"] == "sessions-master.shop.svc.cluster.local"
    assert standalone["node_hosts"] == ["sessions-master-0.sessions-headless.shop.svc.cluster.local"]
    assert standalone["client_labels"] == {"sessions-client": "true"}
    assert standalone["apps"] == {"shop": {"user": "was-shop", "secret_name": "shop-redis-auth"},
                                  "cart": {"user": "was-cart", "secret_name": "cart-redis-auth"}}
    assert standalone["exporter"] == {"user": "exporter", "secret_name": "sessions-exporter-redis-auth"}
    assert standalone["counter"] == {"user": "counter", "secret_name": "sessions-counter-redis-auth"}
    sentinel = connection_for("sessions", redis_settings("sentinel", redisTls=True), "shop")
    assert sentinel["host"] is None and sentinel["scheme"] == "rediss"
    assert sentinel["sentinel_master_set"] == "mymaster"
    assert sentinel["sentinel_nodes"] == [
        f"sessions-node-{i}.sessions-headless.shop.svc.cluster.local:26379" for i in range(3)]
    # with TLS the counter presents the exporter's client certificate (they share one pod)
    assert sentinel["counter"]["tls_secret_name"] == sentinel["exporter"]["tls_secret_name"] \
        == "sessions-exporter-redis-tls"
