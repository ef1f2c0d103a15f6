"""wasApps' Kubernetes fields (components/config/workload.py): each one rendered into the Deployment and
NetworkPolicy, each bad value refused in one line naming its field path; dnsEgress."""
import itertools

import pytest

from components.config.config import ConfigError
from components.config.sessions import stores_in_order
from components.config.workload import program_env
from components.redis import connection_for
from components.was import WasApp, WasAppArgs, spring_env
from tests.harness import load_settings, run_with_mocks

APP = {"name": "shop", "image": "registry.example/shop:2.1.0"}
FULL = {
    **APP,
    "env": [{"name": "SPRING_DATASOURCE_URL", "valueFrom": {"secretKeyRef": {"name": "shop-db", "key": "url"}}},
            {"name": "FEATURE_FLAGS", "valueFrom": {"configMapKeyRef": {"name": "shop-flags", "key": "flags"}}},
            {"name": "LOG_LEVEL", "value": "INFO"}],
    "envFrom": [{"secretRef": {"name": "shop-api"}, "prefix": "API_"}, {"configMapRef": {"name": "shop-config"}}],
    "volumes": [{"name": "certs", "secret": {"secretName": "shop-certs", "defaultMode": 288}},
                {"name": "conf", "configMap": {"name": "shop-conf", "items": [{"key": "app.yaml", "path": "app.yaml"}]}},
                {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "uploads", "persistentVolumeClaim": {"claimName": "shop-uploads"}}],
    "volumeMounts": [{"name": "certs", "mountPath": "/etc/shop/certs", "readOnly": True},
                     {"name": "conf", "mountPath": "/config"}, {"name": "cache", "mountPath": "/var/cache/shop"},
                     {"name": "uploads", "mountPath": "/data/uploads"}],
    "serviceAccountName": "shop",
    "imagePullSecrets": [{"name": "regcred"}],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a", "b"]}]}]}}},
    "labels": {"team": "shop"},
    "annotations": {"example.com/owner": "shop-team"},
    "livenessPath": "/healthz",
    "readinessPath": "/ready",
    "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "db"}},
                        "podSelector": {"matchLabels": {"app": "postgres"}}}], "ports": [{"port": 5432}]},
               {"to": [{"ipBlock": {"cidr": "10.40.0.0/16", "except": ["10.40.9.0/24"]}}],
                "ports": [{"port": 5432, "protocol": "TCP"}]}],
    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "batch"}}}],
                 "ports": [{"port": 8080}]}],
}


def declared(app: dict, **stack):
    s = load_settings("dev", {"wasApps": [app], **stack})
    conn = connection_for(s.redis.release_name, s.redis, "shop-ns", stores_in_order(s.was_apps))
    run = run_with_mocks(lambda: WasApp("shop", WasAppArgs(app=s.was_apps[0], connection=conn, prometheus_release="kp",
                                                           dns_egress=s.dns_egress_rules)))
    assert run.error is None, run.error
    return (run.one("kubernetes:apps/v1:Deployment").plain["spec"],
            run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy").plain["spec"])


def test_every_field_reaches_the_deployment_and_the_network_policy():
    deployment, netpol = declared(FULL)
    template = deployment["template"]
    pod, [container] = template["spec"], template["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SPRING_DATASOURCE_URL"]["valueFrom"] == {"secretKeyRef": {"name": "shop-db", "key": "url"}}
    assert env["FEATURE_FLAGS"]["valueFrom"] == {"configMapKeyRef": {"name": "shop-flags", "key": "flags"}}
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "INFO"}
    assert env["SPRING_DATA_REDIS_HOST"]["value"].startswith("redis-master.")  # the program's wiring stays
    assert container["envFrom"] == [{"secretRef": {"name": "shop-api"}, "prefix": "API_"},
                                    {"configMapRef": {"name": "shop-config"}}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["certs"]["secret"] == {"secretName": "shop-certs", "defaultMode": 288}
    assert volumes["conf"]["configMap"]["items"] == [{"key": "app.yaml", "path": "app.yaml"}]
    assert volumes["cache"]["emptyDir"] == {"sizeLimit": "1Gi"}
    assert volumes["uploads"]["persistentVolumeClaim"] == {"claimName": "shop-uploads"}
    assert {"tmp", "redis-secret"} <= set(volumes)
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["certs"] == {"name": "certs", "mountPath": "/etc/shop/certs", "readOnly": True}
    assert mounts["redis-secret"]["mountPath"] == "/var/run/secrets/redis"
    assert pod["serviceAccountName"] == "shop" and pod["automountServiceAccountToken"] is False
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}]
    assert pod["affinity"] == FULL["affinity"]
    assert template["metadata"]["labels"]["team"] == "shop"
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "shop"
    assert deployment["selector"]["matchLabels"]["app.kubernetes.io/name"] == "shop"
    assert template["metadata"]["annotations"]["example.com/owner"] == "shop-team"
    assert "redis-session-platform/redis-password-generation" in template["metadata"]["annotations"]
    assert container["livenessProbe"]["httpGet"]["path"] == container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # NetworkPolicy: Redis, DNS (pods + NodeLocal), then the app's own rules, in order.
    egress = netpol["egress"]
    assert egress[-2] == {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "db"}},
                                  "podSelector": {"matchLabels": {"app": "postgres"}}}],
                          "ports": [{"protocol": "TCP", "port": 5432}]}
    assert egress[-1]["to"] == [{"ipBlock": {"cidr": "10.40.0.0/16", "except": ["10.40.9.0/24"]}}]
    assert netpol["ingress"][-1] == {"from": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "batch"}}}], "ports": [{"protocol": "TCP", "port": 8080}]}


def test_defaults_add_nothing_to_the_pod():
    deployment, netpol = declared(APP)
    pod = deployment["template"]["spec"]
    for key in ("serviceAccountName", "imagePullSecrets", "nodeSelector", "tolerations", "affinity"):
        assert key not in pod
    assert "envFrom" not in pod["containers"][0]
    assert [v["name"] for v in pod["volumes"]] == ["tmp", "redis-secret"]
    assert pod["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/livez"


@pytest.mark.parametrize("dns,expected", [
    ({}, [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                   "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]},
          {"to": [{"ipBlock": {"cidr": "169.254.20.10/32"}}]}]),
    ({"namespace": "dns", "podLabels": {"app": "coredns"}, "addresses": []},
     [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dns"}},
               "podSelector": {"matchLabels": {"app": "coredns"}}}]}]),
    ({"podLabels": {}, "addresses": ["169.254.20.10", "10.96.0.10"]},
     [{"to": [{"ipBlock": {"cidr": "169.254.20.10/32"}}, {"ipBlock": {"cidr": "10.96.0.10/32"}}]}]),
])
def test_dns_egress_follows_the_stack_key(dns, expected):
    _, netpol = declared(APP, dnsEgress=dns)
    dns_rules = netpol["egress"][1:]
    assert [{"to": r["to"]} for r in dns_rules] == expected
    for r in dns_rules:
        assert r["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def refused(app_fields: dict | None = None, **stack) -> str:
    overrides = {"wasApps": [{**APP, **app_fields}]} if app_fields is not None else {}
    with pytest.raises(ConfigError) as exc:
        load_settings("dev", {**overrides, **stack})
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("fields,path,says", [
    ({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"},
              {"name": "C", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
     "wasApps[0].env[2].valueFrom", "exactly one of value"),
    ({"env": [{"name": "SPRING_DATA_REDIS_HOST", "value": "elsewhere"}]}, "wasApps[0].env[0].name",
     "the program does not set"),
    ({"env": [{"name": "JAVA_TOOL_OPTIONS", "value": "-Xmx1g"}]}, "wasApps[0].env[0].name", "JDK_JAVA_OPTIONS"),
    ({"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}, "wasApps[0].env[0].value", "secretKeyRef"),
    ({"env": [{"name": "1X", "value": "v"}]}, "wasApps[0].env[0].name", "env var name"),
    ({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, "wasApps[0].env[1].name", "no earlier"),
    ({"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "Bad_Name", "key": "k"}}}]},
     "wasApps[0].env[0].valueFrom.secretKeyRef.name", "DNS-1123 subdomain"),
    ({"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
     "wasApps[0].env[0].valueFrom.fieldRef", "unknown field"),
    ({"envFrom": [{"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}]}, "wasApps[0].envFrom[0]",
     "exactly one of secretRef, configMapRef"),
    ({"volumes": [{"name": "host", "hostPath": {"path": "/"}}]}, "wasApps[0].volumes[0].hostPath", "restricted"),
    ({"volumes": [{"name": "tmp", "emptyDir": {}}]}, "wasApps[0].volumes[0].name", "the program's"),
    ({"volumes": [{"name": "v"}]}, "wasApps[0].volumes[0]", "exactly one of secret, configMap"),
    ({"volumes": [{"name": "v", "emptyDir": {"medium": "HugePages"}}]}, "wasApps[0].volumes[0].emptyDir.medium",
     "one of"),
    ({"volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, "wasApps[0].volumeMounts[0].name", "one of this app's"),
    ({"volumes": [{"name": "v", "emptyDir": {}}], "volumeMounts": [{"name": "v", "mountPath": "/var/run/secrets"}]},
     "wasApps[0].volumeMounts[0].mountPath", "program's mounts"),
    ({"volumes": [{"name": "v", "emptyDir": {}}], "volumeMounts": [{"name": "v", "mountPath": "relative"}]},
     "wasApps[0].volumeMounts[0].mountPath", "absolute path"),
    ({"serviceAccountName": "Shop_SA"}, "wasApps[0].serviceAccountName", "DNS-1123 subdomain"),
    ({"automountServiceAccountToken": True}, "wasApps[0].automountServiceAccountToken", "serviceAccountName"),
    ({"imagePullSecrets": ["regcred"]}, "wasApps[0].imagePullSecrets[0]", "a map with the fields name"),
    ({"nodeSelector": {"kubernetes.io/os": "not valid!"}}, "wasApps[0].nodeSelector.kubernetes.io/os", "label value"),
    ({"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}, "wasApps[0].tolerations[0].value",
     "empty when operator is Exists"),
    ({"tolerations": [{"key": "k", "effect": "NoSchedul"}]}, "wasApps[0].tolerations[0].effect", "NoSchedule"),
    ({"tolerations": [{"key": "k", "value": "a b"}]}, "wasApps[0].tolerations[0].value", "label value"),
    ({"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 60}]},
     "wasApps[0].tolerations[0].tolerationSeconds", "NoExecute"),
    ({"envFrom": [{"configMapRef": {"name": "c"}, "prefix": "9X"}]}, "wasApps[0].envFrom[0].prefix", "prefix"),
    ({"volumes": [{"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "../etc"}]}}]},
     "wasApps[0].volumes[0].configMap.items[0].path", "without '..'"),
    ({"volumes": [{"name": "c", "secret": {"secretName": "s", "defaultMode": 1000}}]},
     "wasApps[0].volumes[0].secret.defaultMode", "0..511"),
    ({"egress": [{"to": [{"podSelector": {"matchLabels": {"a": "b"}}}], "ports": [{"port": 5000, "endPort": 4000}]}]},
     "wasApps[0].egress[0].ports[0].endPort", "endPort >= port"),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}}},
     "wasApps[0].affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
     ".matchExpressions[0].values", "non-empty"),
    ({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{}]}}},
     "wasApps[0].affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", "required"),
    ({"labels": {"app.kubernetes.io/name": "other"}}, "wasApps[0].labels.app.kubernetes.io/name", "selector"),
    ({"labels": {"redis-client": "true"}}, "wasApps[0].labels.redis-client", "Redis client label"),
    ({"annotations": {"redis-session-platform/redis-password-generation": "9"}},
     "wasApps[0].annotations.redis-session-platform/redis-password-generation", "the program's"),
    ({"livenessPath": "/actuator/health/liveness"}, "wasApps[0].livenessPath", "managementPort"),
    ({"readinessPath": "ready"}, "wasApps[0].readinessPath", "absolute HTTP path"),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "10.40.0.1/16"}}], "ports": [{"port": 5432}]}]},
     "wasApps[0].egress[0].to[0].ipBlock.cidr", "no host bits"),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "10.40.0.0/16", "except": ["10.50.0.0/24"]}}], "ports": [{"port": 1}]}]},
     "wasApps[0].egress[0].to[0].ipBlock.except[0]", "inside cidr"),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}], "ports": [{"port": 1}]}]},
     "wasApps[0].egress[0].to[0].ipBlock", "alone"),
    ({"egress": [{"to": [{"podSelector": {"matchLabels": {"app": "x"}}}]}]}, "wasApps[0].egress[0].ports", "required"),
    ({"egress": [{"to": [], "ports": [{"port": 443}]}]}, "wasApps[0].egress[0].to", "a list"),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 70000}]}]},
     "wasApps[0].egress[0].ports[0].port", "1..65535"),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "protocol": "HTTP"}]}]},
     "wasApps[0].egress[0].ports[0].protocol", "TCP"),
    ({"ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}],
                   "ports": [{"port": 8080}]}]},
     "wasApps[0].ingress[0].from[0].podSelector.matchExpressions[0].values", "non-empty"),
])
def test_bad_values_are_refused_naming_the_field(fields, path, says):
    message = refused(fields)
    assert message.startswith(f"stack config {path}="), message
    assert says in message, message


@pytest.mark.parametrize("dns,path,says", [
    ({"addresses": ["169.254.20"]}, "dnsEgress.addresses[0]", "IPv4 or IPv6 address"),
    ({"podLabels": {}, "addresses": []}, "dnsEgress.podLabels", "some DNS server"),
    ({"namespace": "Kube_System"}, "dnsEgress.namespace", "DNS-1123 label"),
    ({"nodeLocal": True}, "dnsEgress.nodeLocal", "unknown field"),
])
def test_bad_dns_egress_is_refused_naming_the_field(dns, path, says):
    message = refused(dnsEgress=dns)
    assert message.startswith(f"stack config {path}="), message
    assert says in message, message


@pytest.mark.parametrize("boot,topology,tls,repository", [
    (b, t, tls, r) for b, t, tls, r in itertools.product((2, 3, 4), ("standalone", "sentinel"), (False, True),
                                                          ("default", "indexed"))
    if not (b == 2 and (tls or r == "default"))])
def test_every_env_name_the_program_sets_is_reserved(boot, topology, tls, repository):
    s = load_settings("dev", {"redisTopology": topology, "redisTls": tls,
                              "wasApps": [{**APP, "springBootMajor": boot, "repositoryType": repository}]})
    conn = connection_for(s.redis.release_name, s.redis, "ns", stores_in_order(s.was_apps))
    for env in spring_env(s.was_apps[0], conn) + [{"name": "SERVER_PORT"}]:
        assert program_env(env["name"]), env["name"]
