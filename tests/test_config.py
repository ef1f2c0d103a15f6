"""Every bad stack value stops the program with one line naming the key, the value and
what is allowed, before anything is registered; under the program and under render."""
import re
import subprocess
import sys

import pytest

from components.config import validators
from components.config.config import ConfigError, parse
from tests.harness import PROJECT, ROOT, cli_config, run_program
from tools.pulumi_cli import PulumiCliError

APP = {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}


def app(**fields):
    return {"wasApps": [{**APP, **fields}]}


# class -> [(stack, overrides, expected key, fragment of the allowed text)], from issue 11's list.
BAD = {
    "image reference": [
        ("dev", app(image="docker.io/x/app:v1$(id)"), "wasApps[0].image", "distribution grammar"),
        ("dev", app(image={"repository": "x"}), "wasApps[0].image", "distribution grammar"),
        ("dev", app(image="docker.io/Springcommunity/App:1.0"), "wasApps[0].image", "lowercase"),
        ("dev", {"imageRegistry": "my registry"}, "imageRegistry", "registry host"),
        ("dev", {"redisImageRepository": ""}, "redisImageRepository", "repository path"),
        ("dev", {"redisImageRepository": "Bitnami/Redis"}, "redisImageRepository", "repository path"),
        ("dev", {"redisChart": ""}, "redisChart", "oci://"),
        ("dev", {"redisChart": "oci://registry-1.docker.io/bitnamicharts/redis:23.1.1"}, "redisChart", "without a tag"),
        ("dev", {"exporterImage": "oliver006/redis_exporter"}, "exporterImage", "pinned tag"),
        ("dev", app(image="springcommunity/spring-petclinic:latest"), "wasApps[0].image", "`latest` is not allowed"),
        ("dev", {"redisImageTag": "latest"}, "redisImageTag", "`latest` is not allowed"),
        ("dev", {"redisImageTag": "8.2;rm"}, "redisImageTag", "an image tag"),
        ("dev", {"redisChartVersion": "~23.1"}, "redisChartVersion", "exact SemVer"),
    ],
    "kubernetes names and labels": [
        ("dev", {"namespace": "Petclinic"}, "namespace", "DNS-1123 label"),
        ("dev", {"namespace": "a" * 64}, "namespace", "1-63 characters"),
        ("dev", {"namespace": "kube-system"}, "namespace", "does not start with `kube-`"),
        ("dev", {"namespace": "default"}, "namespace", "not `default`"),
        ("dev", {"prometheusNamespace": ""}, "prometheusNamespace", "DNS-1123 label"),
        ("dev", {"prometheusNamespace": "monitoring!"}, "prometheusNamespace", "DNS-1123 label"),
        ("dev", {"grafanaNamespace": ""}, "grafanaNamespace", "DNS-1123 label"),
        ("dev", {"prometheusRelease": ""}, "prometheusRelease", "DNS-1123 label"),
        ("dev", {"prometheusRelease": "kube_prometheus"}, "prometheusRelease", "DNS-1123 label"),
        ("dev", {"redisReleaseName": "r" * 41}, "redisReleaseName", "1-40 characters"),
        ("dev", app(name="Petclinic"), "wasApps[0].name", "DNS-1035 label"),
        ("dev", app(name="a" * 40 + "-"), "wasApps[0].name", "DNS-1035 label"),
        ("dev", {"sentinelMasterSet": "my master"}, "sentinelMasterSet", "1-64 characters"),
    ],
    "resources": [
        ("dev", {"redisMemory": "1e999999"}, "redisMemory", "1 to 1Pi"),
        ("dev", {"redisCpuRequest": "2", "redisCpuLimit": "1"}, "redisCpuRequest", "at most redisCpuLimit=1"),
        ("dev", app(cpuRequest="2", cpuLimit="1500m"), "wasApps[0].cpuRequest", "at most cpuLimit=1500m"),
        ("dev", app(cpuRequest="0.1m"), "wasApps[0].cpuRequest", "whole millicores"),
        ("dev", app(cpuLimit="1e9"), "wasApps[0].cpuLimit", "1m to 1024"),
        ("dev", app(memoryLimit="64Mi", memoryRequest="64Mi"), "wasApps[0].memoryLimit", "at least 256Mi"),
        ("dev", app(memoryRequest="1Gi", memoryLimit="512Mi"), "wasApps[0].memoryRequest", "at most memoryLimit"),
        ("dev", {"redisMemory": "16Mi", "redisMaxmemory": "8mb"}, "redisMemory", "at least 64Mi"),
        ("dev", {"redisMemory": "lots"}, "redisMemory", "Kubernetes quantity"),
        ("dev", {"redisPersistenceSize": "0"}, "redisPersistenceSize", "1 to 1Pi"),
        ("dev", {"redisPersistenceSize": "100Mi"}, "redisPersistenceSize", "at least twice redisMaxmemory"),
        ("dev", {"redisStorageClass": "fast ssd"}, "redisStorageClass", "DNS-1123 subdomain"),
        ("dev", {"redisMaxmemory": "110mb"}, "redisMaxmemory", "at most 80% of redisMemory=128Mi"),
        ("dev", {"redisMaxmemory": "12.5mb"}, "redisMaxmemory", "<n>kb|mb|gb"),
        ("prod", {"expectedPeakSessions": 10_000_000}, "redisMaxmemory", "cannot hold expectedPeakSessions=10000000"),
    ],
    "numeric ranges": [
        ("dev", app(maxReplicas=2**31), "wasApps[0].maxReplicas", "1..1000"),
        ("dev", app(minReplicas=0), "wasApps[0].minReplicas", "1..1000"),
        ("dev", app(minReplicas="3"), "wasApps[0].minReplicas", "an integer"),
        ("dev", app(minReplicas=3, maxReplicas=2), "wasApps[0].maxReplicas", "at least minReplicas=3"),
        ("dev", app(port=80), "wasApps[0].port", "1024..65535"),
        ("prod", {"sentinelDownAfterMs": 2**62}, "sentinelDownAfterMs", "1000..600000"),
        ("prod", {"sentinelFailoverTimeoutMs": 3000}, "sentinelFailoverTimeoutMs", "above sentinelDownAfterMs=5000"),
        ("dev", app(targetCpuPercent=150), "wasApps[0].targetCpuPercent", "1..100"),
        ("dev", app(sessionDatabase=16), "wasApps[0].sessionDatabase", "0..15"),
    ],
    "thresholds": [
        ("dev", {"thresholds": {"fragmentationWarning": float("nan")}}, "thresholds.fragmentationWarning", "finite"),
        ("dev", {"thresholds": {"jvmHeapPercentWarning": float("inf")}}, "thresholds.jvmHeapPercentWarning", "finite"),
        ("dev", {"thresholds": {"memoryUsedPercentCritical": 150}}, "thresholds.memoryUsedPercentCritical", "at most 100"),
        ("dev", {"thresholds": {"memoryUsedPercentWarning": 95}}, "thresholds.memoryUsedPercentWarning",
         "must be below memoryUsedPercentCritical=90"),
        ("dev", {"thresholds": {"fragmentationWarning": 2.0}}, "thresholds.fragmentationWarning",
         "must be below fragmentationCritical=2 (the warning fires first)"),
        ("dev", {"thresholds": {"sessionsHigh": 0.5}}, "thresholds.sessionsHigh", "an integer"),
        ("dev", {"thresholds": {"sessionsHigh": "many"}}, "thresholds.sessionsHigh", "an integer"),
        ("dev", {"thresholds": {"sessionHigh": 5}}, "thresholds.sessionHigh", "did you mean sessionsHigh?"),
    ],
    "session timeout": [
        ("dev", app(sessionTimeout="8760h"), "wasApps[0].sessionTimeout", "1m..24h: Redis holds every session"),
        ("dev", app(sessionTimeout="30s"), "wasApps[0].sessionTimeout", "1m..24h"),
        ("dev", app(sessionTimeout="half an hour"), "wasApps[0].sessionTimeout", "<n>s|m|h"),
    ],
    "sentinel quorum": [
        ("prod", {"sentinelQuorum": 3}, "sentinelQuorum", "exactly 2: a majority of sentinelNodes=3, and at most 2"),
        ("prod", {"sentinelNodes": 5, "sentinelQuorum": 5}, "sentinelQuorum", "3..4"),
        ("prod", {"sentinelQuorum": 1}, "sentinelQuorum", "2..8"),
        ("prod", {"sentinelNodes": 4}, "sentinelNodes", "odd"),
        ("prod", {"redisTlsTransition": True}, "redisTlsTransition",
         "false in sentinel topology: Sentinel announces one port per node for both protocols"),
    ],
    "characters that break generated code": [
        ("dev", app(sessionNamespace="spring:session:\rx"), "wasApps[0].sessionNamespace", "Spring Session key namespace"),
        ("dev", app(sessionNamespace='a"..b'), "wasApps[0].sessionNamespace", "Spring Session key namespace"),
        ("dev", {"runbookBaseUrl": "https://wiki.example.com/{{ .CommonLabels }}"}, "runbookBaseUrl", "RFC 3986"),
        ("dev", {"runbookBaseUrl": "https://wiki.example.com/runbooks#top"}, "runbookBaseUrl", "without a #fragment"),
    ],
    "names that collide with the chart's objects": [
        ("prod", app(name="redis"), "wasApps[0].name", "the Redis chart already has Service 'redis'"),
        ("dev", app(name="redis-master"), "wasApps[0].name", "the Redis chart already has Service 'redis-master'"),
        ("dev", app(name="redis-exporter"), "wasApps[0].name", "the Redis exporter already has Deployment"),
        ("dev", {"redisReleaseName": "petclinic"}, "wasApps[0].name", "the Redis chart already has NetworkPolicy"),
        ("dev", {"wasApps": [{**APP, "sessionDatabase": 1}, {**APP, "image": "docker.io/x/y:1", "sessionDatabase": 2}]},
         "wasApps[1].name", "unique among wasApps"),
        ("dev", {"wasApps": [{**APP, "sessionDatabase": 2}, {**APP, "name": "shop", "sessionDatabase": 2}]},
         "wasApps[1].sessionDatabase", "a database no other app uses"),
        ("dev", {"wasApps": [{**APP, "sessionDatabase": 2}, {**APP, "name": "shop"}]}, "wasApps[1].sessionDatabase",
         "required (0..15, one per app) when wasApps lists more than one app"),
    ],
    "nulls (a WAS app's defaulted fields are Optional for Pulumi's analyzer, never for the config)": [
        ("dev", app(minReplicas=None), "wasApps[0].minReplicas", "a value: leave the field out for its default 2"),
        ("dev", app(env=None), "wasApps[0].env", "leave the field out for its default []"),
        ("dev", app(flushMode=None), "wasApps[0].flushMode", 'its default "on_save"'),
        ("dev", app(image=None), "wasApps[0].image", "an image reference"),
    ],
    "unknown keys": [
        ("dev", {"redisMaxMemory": "1gb"}, "redisMaxMemory", "did you mean redisMaxmemory?"),
        ("dev", {"wasAps": []}, "wasAps", "did you mean wasApps?"),
        ("dev", app(replica=2), "wasApps[0].replica", "unknown field; did you mean"),
        ("dev", app(minReplica=2), "wasApps[0].minReplica", "did you mean minReplicas?"),
    ],
    "enumerations": [
        ("dev", {"redisTopology": "replicated"}, "redisTopology", "one of: standalone, sentinel"),
        ("dev", {"redisTopology": "cluster"}, "redisTopology", "Redis Cluster is not built"),
        ("dev", {"redisMaxmemoryPolicy": "lru"}, "redisMaxmemoryPolicy", "volatile-ttl"),
        ("dev", app(springBootMajor=5), "wasApps[0].springBootMajor", "one of: 2, 3, 4"),
        ("dev", app(springBootMajor=2, repositoryType="default"), "wasApps[0].repositoryType", "allowed: indexed"),
        ("dev", app(repositoryType="fancy"), "wasApps[0].repositoryType", "one of: default, indexed"),
        ("dev", app(flushMode="later"), "wasApps[0].flushMode", "one of: on_save, immediate"),
        ("dev", app(sessionExpirationStore="sorted-set"), "wasApps[0].sessionExpirationStore",
         "only with repositoryType indexed"),
        ("dev", app(springBootMajor=2, sessionExpirationStore="sorted-set"), "wasApps[0].sessionExpirationStore",
         "Spring Session 3.4+"),
        ("dev", app(repositoryType="indexed", sessionExpirationStore="zset"), "wasApps[0].sessionExpirationStore",
         "one of: minute, sorted-set"),
        ("dev", {"wasApps": []}, "wasApps", "1..15 WAS apps"),
        ("dev", {"wasApps": [{"name": "petclinic"}]}, "wasApps[0].image", "an image reference"),
        ("dev", {"kubernetesVersion": "1.29"}, "kubernetesVersion", "1.30 or later"),
        ("dev", {"slackChannel": "#Alerts Channel"}, "slackChannel", "Slack channel name"),
        ("dev", {"slackChannel": "#alerts"}, "slackWebhookUrl", "required when slackChannel is set"),
    ],
}
CASES = [(cls, *case) for cls, cases in BAD.items() for case in cases]


@pytest.mark.parametrize("cls,stack,overrides,key,allowed", CASES,
                         ids=[f"{c[0]}: {c[3]}={str(list(c[2].values())[0])[:30]}" for c in CASES])
def test_bad_config_fails_with_one_line_naming_the_key(cls, stack, overrides, key, allowed):
    run = run_program(stack, overrides)
    assert isinstance(run.error, ConfigError), f"expected ConfigError, got {run.error!r}"
    message = str(run.error)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"stack config {key}="), message
    assert allowed in message, message
    assert run.resources == [], "nothing may be registered before config is valid"


@pytest.mark.parametrize("secret_overrides,message", [
    ({"slackWebhookUrl": "http://hooks.slack.com/services/T/B/X"}, "https URL"),
    ({"slackWebhookUrl": "hooks.slack.com/services/T/B/X"}, "https URL"),
])
def test_slack_webhook_must_be_https_and_is_never_echoed(secret_overrides, message):
    run = run_program("dev", {"slackChannel": "#alerts"}, secret_overrides=secret_overrides)
    assert isinstance(run.error, ConfigError) and message in str(run.error)
    assert "hooks.slack.com" not in str(run.error) and '"<secret>"' in str(run.error)


@pytest.mark.parametrize("url,where", [("https://hooks.slack.com/services/T/B/X ", "trailing"),
                                       ("\nhttps://hooks.slack.com/services/T/B/X", "leading")])
def test_whitespace_in_the_webhook_is_reported_though_the_value_is_hidden(url, where):
    run = run_program("dev", {"slackChannel": "#alerts"}, secret_overrides={"slackWebhookUrl": url})
    assert isinstance(run.error, ConfigError)
    message = str(run.error)
    assert f"slackWebhookUrl=\"<secret>\" is invalid: the URL has {where} whitespace" in message, message
    assert "hooks.slack.com" not in message and "\n" not in message


def test_a_plaintext_webhook_is_refused_as_the_readme_says_to_use_secret():
    run = run_program("dev", {"slackChannel": "#alerts", "slackWebhookUrl": "https://hooks.slack.com/services/T/B/X"})
    assert isinstance(run.error, ConfigError)
    assert "must be a secret: pulumi config set --secret slackWebhookUrl" in str(run.error)
    assert "hooks.slack.com/services/T" not in str(run.error)


# --------------------------------------------------------------- Pulumi semantics
@pytest.mark.parametrize("key,text", [("redisChartVersion", "23.10.0"), ("namespace", "no"), ("namespace", "on"),
                                      ("slackChannel", "off")])
def test_values_are_strings_typed_by_their_declaration(key, text):
    """What `pulumi config set KEY VALUE` stores is a string; YAML 1.1 coercions
    (23.10 -> 23.1, no -> false) never happen."""
    config, _ = cli_config("dev", {key: text})
    assert config[f"{PROJECT}:{key}"] == text
    if key == "namespace":
        assert run_program("dev", {key: text}).error is None


def test_integers_and_booleans_are_parsed_from_their_config_strings():
    config, _ = cli_config("prod", {"sentinelNodes": "5", "sentinelQuorum": "3", "createNamespace": "false"})
    s = parse(config, PROJECT, "prod")
    assert (s.redis.sentinel.nodes, s.redis.sentinel.quorum, s.create_namespace) == (5, 3, False)


@pytest.mark.parametrize("argv,message", [
    (["--set", "redisChartVersion=23.10"], "redisChartVersion=\"23.10\" is invalid: an exact SemVer version"),
    (["--set", "namespace=kube-system"], "namespace=\"kube-system\" is invalid"),
    (["--set", "wasApps=not json"], "with configuration key 'wasApps' must be of type 'array<object>'"),
    (["--set", "wasApps=[{\"name\": \"a\"}]"], "with configuration key 'wasApps' must be of type 'array<object>'"),
    (["--json", "wasApps=[{\"name\": \"a\",}]"], "--json wasApps= is not JSON: Expecting property name enclosed "
     "in double quotes at line 1 column 15"),
    (["--json", "thresholds={\"sessionsHigh\": NaN}"], "thresholds.sessionsHigh=NaN is invalid"),
    (["--path", "wasApps[0].minReplicas", "0"], "wasApps[0].minReplicas=0 is invalid"),
    (["--path", "wasApps[3].minReplicas", "2"], "wasApps[3]: array index out of range"),
    (["--path", "wasApps[0].name.first", "x"], "wasApps[0].name: expected a map"),
    (["--path", "thresholds.fragmentationWarning", "1.7"], "thresholds.fragmentationWarning=\"1.7\" is invalid"),
    (["--set", "sentinelDownAfterMs=99999999999999999999"], "must be of type 'integer'"),
    (["--set", "redisTopology"], "--set takes KEY=VALUE"),
    (["--set", "slackChannel=#x"], "slackWebhookUrl=null is invalid"),
])
def test_render_refuses_in_one_line_without_a_trace(argv, message, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "render", "--stack", "prod", *argv, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


@pytest.mark.parametrize("text,position", [('[{"name": "shop",\n  "image": "r/s:1",}]', "line 2 column 20"),
                                           ('{"sessionsHigh": 5', "line 1 column 19")])
def test_a_json_typo_in_structured_config_gives_its_line_and_column(text, position):
    key = "wasApps" if text.startswith("[") else "thresholds"
    config, _ = cli_config("dev")
    config[f"{PROJECT}:{key}"] = text
    with pytest.raises(ConfigError) as exc:
        parse(config, PROJECT, "dev")
    assert f"at {position}" in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


def test_no_value_error_escapes_as_anything_but_a_config_error():
    """Values that used to raise bare ValueError/OverflowError (NaN, huge numbers, odd text)."""
    for overrides in ({"thresholds": {"sessionsHigh": float("nan")}}, {"thresholds": {"sessionsHigh": 1e400}},
                      app(maxReplicas=10**30), app(sessionTimeout="9" * 30 + "h"), {"redisMaxmemory": "9" * 40 + "gb"},
                      {"redisMemory": "1e999999"}, app(cpuLimit="1e-30")):
        run = run_program("dev", overrides)
        assert isinstance(run.error, (ConfigError, PulumiCliError)), (overrides, run.error)


def test_a_stack_file_number_for_a_string_key_is_read_as_the_cli_reads_it():
    """YAML `23.10` in a stack file is a float to yaml.v3; the CLI hands the program "23.1"
    (object.MarshalString): the program then refuses it, naming the key."""
    config, _ = cli_config("dev", {"redisChartVersion": 23.10})
    assert config[f"{PROJECT}:redisChartVersion"] == "23.1"


# ----------------------------------------------------------------------- rules
@pytest.mark.parametrize("text,expected", [("256Mi", 256 * 2**20), ("1Gi", 2**30), ("500M", 500 * 10**6), ("1024", 1024),
                                           ("1e3", 1000), ("0.5Gi", 2**29)])
def test_memory_quantities(text, expected):
    assert validators.memory_bytes(text) == expected


@pytest.mark.parametrize("text", ["0", "-1Gi", "1.5", "100m", "Mi", "1 Gi", "1GiB"])
def test_memory_quantities_refused(text):
    with pytest.raises(ValueError):
        validators.memory_bytes(text)


@pytest.mark.parametrize("text,expected", [("250m", 250), ("1", 1000), ("1.5", 1500), ("64", 64_000)])
def test_cpu_quantities(text, expected):
    assert validators.cpu_millis(text) == expected


@pytest.mark.parametrize("text,expected", [("192mb", 192 * 2**20), ("1gb", 2**30), ("64KB", 64 * 1024)])
def test_redis_memory(text, expected):
    assert validators.redis_memory(text) == expected


@pytest.mark.parametrize("text", ["128M", "0mb", "mb", "12.5mb", "1 gb"])
def test_redis_memory_refused(text):
    with pytest.raises(ValueError):
        validators.redis_memory(text)


@pytest.mark.parametrize("text,expected", [
    ("docker.io/springcommunity/spring-petclinic:3.4.0", ("docker.io", "springcommunity/spring-petclinic", "3.4.0")),
    ("redis:7.2", ("docker.io", "library/redis", "7.2")),
    ("registry.example.com:5000/team/app:1.0", ("registry.example.com:5000", "team/app", "1.0")),
])
def test_image_references_are_parsed_by_the_distribution_grammar(text, expected):
    ref = validators.image(text)
    assert (ref.domain, ref.path, ref.tag) == expected


def test_an_image_pinned_by_digest_only_is_accepted():
    ref = validators.image("docker.io/x/app@sha256:" + "a" * 64)
    assert ref.tag is None and ref.digest == "sha256:" + "a" * 64


@pytest.mark.parametrize("value,ok", [("v1.2", True), ("a" * 63, True), ("a" * 64, False), ("_x", False), ("-x", False),
                                      ("1.0.0_rc1", True), ("x.", False)])
def test_label_values(value, ok):
    assert validators.is_label_value(value) is ok


def test_names_and_labels_stay_valid_at_the_longest_values_config_allows():
    """No truncation is needed anywhere: the longest accepted namespace, release name, app
    name and image tag still give valid object names and label keys/values (a tag that is
    not a valid label value, e.g. 128 characters, gets no version label)."""
    long_tag = "v" + "1" * 127
    run = run_program("prod", {"namespace": "n" * 63, "redisReleaseName": "r" * 40,
                               "wasApps": [{**APP, "name": "a" * 40, "image": f"docker.io/x/app:{long_tag}"}],
                               "exporterImage": "docker.io/oliver006/redis_exporter:_build.1"})
    assert run.error is None, run.error
    key_name = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
    for r in run.k8s_objects():
        meta = r.plain["metadata"]
        assert validators.dns1123_subdomain(meta["name"]), meta["name"]
        templates = [r.plain.get("spec", {}).get("template", {}).get("metadata", {})]
        for labels in [meta.get("labels", {})] + [t.get("labels", {}) for t in templates]:
            for key, value in labels.items():
                prefix, _, name = key.rpartition("/")
                assert len(name) <= 63 and re.match(key_name, name), key
                assert not prefix or validators.dns1123_subdomain(prefix), key
                assert validators.is_label_value(value), (key, value)


# --- one model per concept (issue 21 item 2) -----------------------------------------------------
def test_the_config_validates_straight_into_what_the_components_take():
    """No mapping layer: the store's settings and each WAS app are the config's own objects, of the
    types RedisSessionStore and WasApp take; every config key is one field of one of them (or of
    StackConfig), under its own name."""
    from components.config.config import parse_config, to_settings
    from components.config.schema import FLAT, alias
    from components.redis import RedisSessionStoreArgs
    from components.was import WasAppArgs

    raw, secrets = cli_config("dev", {"redisPersistenceSize": "4Gi", "sentinelNodes": 5, "sentinelQuorum": 3,
                                      "wasApps": [{"name": "shop", "image": "r.example/shop:1.0", "minReplicas": 3,
                                                   "port": 9090, "nodeSelector": {"pool": "web"},
                                                   "env": [{"name": "A", "value": "1"}]}]})
    cfg = parse_config(raw, PROJECT, secrets)
    settings = to_settings(cfg, PROJECT, "dev")
    assert settings.redis is cfg.redis and isinstance(settings.redis, RedisSessionStoreArgs.__annotations__["settings"])
    assert (settings.redis.persistence_size, settings.redis.sentinel.nodes, settings.redis.sentinel.quorum) == \
        ("4Gi", 5, 3)
    [shop] = settings.was_apps
    assert shop is cfg.was_apps[0] and isinstance(shop, WasAppArgs.__annotations__["app"])
    assert (shop.min_replicas, shop.port, shop.node_selector, shop.env) == (3, 9090, {"pool": "web"},
                                                                             ({"name": "A", "value": "1"},))
    assert all(alias(model, name) == key for key, (model, name) in FLAT.items())
    assert len(FLAT) == len({(m, n) for m, n in FLAT.values()})
