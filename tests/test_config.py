"""Every bad stack value stops the program with one line naming the key and what is allowed."""
import pulumi
import pytest

from settings.config import parse_duration_seconds, parse_quantity_bytes, parse_redis_memory, ConfigError
import yaml

from tests.harness import PROJECT, ROOT, run_program

APP = {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}

# (stack, overrides, expected key in the message, expected fragment of what is allowed)
BAD = {
    "unknown topology": ("dev", {"redisTopology": "replicated"}, "redisTopology", "allowed values: standalone, sentinel"),
    "cluster not built": ("dev", {"redisTopology": "cluster"}, "redisTopology", "Redis Cluster is not built yet"),
    "sentinel even": ("prod", {"sentinelNodes": 4}, "sentinelNodes", "odd and >= 3"),
    "sentinel too few": ("prod", {"sentinelNodes": 1}, "sentinelNodes", "odd and >= 3"),
    "quorum not majority": ("prod", {"sentinelQuorum": 1}, "sentinelQuorum", "majority of sentinelNodes=3: 2..3"),
    "quorum above nodes": ("prod", {"sentinelQuorum": 4}, "sentinelQuorum", "2..3"),
    "maxmemory missing": ("dev", {"redisMaxmemory": None}, "redisMaxmemory", "missing"),
    "maxmemory unparsable": ("dev", {"redisMaxmemory": "lots"}, "redisMaxmemory", "<n>kb|mb|gb"),
    "maxmemory above 80% of limit": ("dev", {"redisMaxmemory": "110mb"}, "redisMaxmemory", "<= 80% of redisMemory=128Mi"),
    "maxmemory too small for peak": ("prod", {"expectedPeakSessions": 10_000_000}, "redisMaxmemory", "cannot hold expectedPeakSessions=10000000"),
    "policy unknown": ("dev", {"redisMaxmemoryPolicy": "lru"}, "redisMaxmemoryPolicy", "volatile-ttl"),
    "memory quantity bad": ("dev", {"redisMemory": "lots"}, "redisMemory", "Kubernetes memory quantity"),
    "timeout not a duration": ("dev", {"wasApps": [{**APP, "sessionTimeout": "half an hour"}]}, "wasApps[0].sessionTimeout", "<n>s|m|h"),
    "was list empty": ("dev", {"wasApps": []}, "wasApps", "at least one WAS app"),
    "was image untagged": ("dev", {"wasApps": [{**APP, "image": "springcommunity/spring-petclinic"}]}, "wasApps[0].image", "pinned tag"),
    "was image latest": ("dev", {"wasApps": [{**APP, "image": "springcommunity/spring-petclinic:latest"}]}, "wasApps[0].image", "`latest` is not allowed"),
    "boot major unknown": ("dev", {"wasApps": [{**APP, "springBootMajor": 5}]}, "wasApps[0].springBootMajor", "allowed values: 2, 3, 4"),
    "replicas below one": ("dev", {"wasApps": [{**APP, "minReplicas": 0}]}, "wasApps[0].minReplicas", ">= 1"),
    "max below min": ("dev", {"wasApps": [{**APP, "minReplicas": 3, "maxReplicas": 2}]}, "wasApps[0].maxReplicas", ">= minReplicas=3"),
    "boot2 default repo": ("dev", {"wasApps": [{**APP, "springBootMajor": 2, "repositoryType": "default"}]}, "wasApps[0].repositoryType", "allowed: indexed"),
    "repository unknown": ("dev", {"wasApps": [{**APP, "repositoryType": "fancy"}]}, "wasApps[0].repositoryType", "default, indexed"),
    "flush mode unknown": ("dev", {"wasApps": [{**APP, "flushMode": "later"}]}, "wasApps[0].flushMode", "on_save, immediate"),
    "unknown app field": ("dev", {"wasApps": [{**APP, "replica": 2}]}, "wasApps[0].replica", "unknown field"),
    "app without image": ("dev", {"wasApps": [{"name": "petclinic"}]}, "wasApps[0].image", "required"),
    "shared session db": ("dev", {"wasApps": [{**APP, "sessionDatabase": 1}, {**APP, "name": "shop", "sessionDatabase": 1}]}, "wasApps[1].sessionDatabase", "already used by app 'petclinic'"),
    "duplicate app": ("dev", {"wasApps": [APP, APP]}, "wasApps", "'petclinic' repeats"),
    "redis tag latest": ("dev", {"redisImageTag": "latest"}, "redisImageTag", "pinned image tag"),
    "exporter untagged": ("dev", {"exporterImage": "oliver006/redis_exporter"}, "exporterImage", "pinned tag"),
    "release label empty": ("dev", {"prometheusRelease": ""}, "prometheusRelease", "release label"),
    "threshold unknown": ("dev", {"thresholds": {"sessionHigh": 5}}, "thresholds.sessionHigh", "allowed: sessionsHigh"),
    "threshold not number": ("dev", {"thresholds": {"sessionsHigh": "many"}}, "thresholds.sessionsHigh", "expected a number"),
    "slack without webhook": ("dev", {"slackChannel": "#alerts"}, "slackWebhookUrl", "required when slackChannel is set"),
    "failover below down-after": ("prod", {"sentinelFailoverTimeoutMs": 3000}, "sentinelFailoverTimeoutMs", "greater than sentinelDownAfterMs=5000"),
    "bool garbage": ("dev", {"createNamespace": "yes"}, "createNamespace", "true, false"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_config_fails_with_one_line_naming_the_key(case):
    stack, overrides, key, allowed = BAD[case]
    run = run_program(stack, overrides)
    assert isinstance(run.error, pulumi.RunError), f"expected RunError, got {run.error!r}"
    message = str(run.error)
    assert "\n" not in message
    assert message.startswith(f"stack config {key}="), message
    assert allowed in message, message
    assert run.resources == [], "nothing may be registered before config is valid"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_file_holds_only_overrides_of_declared_keys(stack):
    declarations = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    overrides = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert overrides
    for full_key, value in overrides.items():
        project, _, key = full_key.partition(":")
        assert project == PROJECT, full_key
        assert key in declarations, f"{stack}: {key} is not declared in Pulumi.yaml"
        default = declarations[key].get("default", declarations[key].get("value"))
        assert value != default, f"{stack}: {key} repeats the project default"


def test_every_declared_key_has_type_or_value_default_and_description():
    for key, decl in yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"].items():
        assert decl.get("description"), key
        if "value" in decl:  # structured keys: Pulumi cannot type objects
            assert key in ("wasApps", "thresholds"), key
        else:
            assert decl["type"] in ("string", "integer", "boolean"), key
            assert "default" in decl, key


@pytest.mark.parametrize("text,expected", [("256Mi", 256 * 2**20), ("1Gi", 2**30), ("500M", 500 * 10**6), ("1024", 1024)])
def test_quantity(text, expected):
    assert parse_quantity_bytes("k", text) == expected


@pytest.mark.parametrize("text,expected", [("192mb", 192 * 2**20), ("1gb", 2**30), ("64KB", 64 * 1024)])
def test_redis_memory(text, expected):
    assert parse_redis_memory("k", text) == expected


@pytest.mark.parametrize("text", ["128M", "0mb", "mb", "12.5mb"])
def test_redis_memory_rejects(text):
    with pytest.raises(ConfigError, match="stack config k="):
        parse_redis_memory("k", text)


@pytest.mark.parametrize("text,expected", [("30m", 1800), ("45s", 45), ("2h", 7200)])
def test_duration(text, expected):
    assert parse_duration_seconds("k", text) == expected
