"""Alert rules: shape, PromQL validity, runbooks, and `promtool test rules` proving each
alert fires on a series that should fire it and stays silent on one that should not."""
import re
import subprocess

import promql_parser
import pytest
import yaml

from components.config.names import SESSION_COUNT_KEY
from components.monitoring import certificates
from components.monitoring import records as rec
from components.monitoring.alerts import all_alerts, rule_groups
from components.monitoring.dashboard import panel_queries
from components.monitoring.scope import scope_of
from tests.harness import ROOT, STACKS, load_settings, run_program
from tests.tools import require
from tools.checklist import CHECKS


def find(groups: list[dict], alert: str, severity: str | None = None) -> dict | None:
    """The rendered rule of an alert (first match; of that tier if given)."""
    return next((r for g in groups for r in g["rules"] if r.get("alert") == alert
                 and severity in (None, r["labels"]["severity"])), None)


MIB = 1024 * 1024


def scope(stack, overrides=None):
    return scope_of(load_settings(stack, overrides))


def groups_of(stack):
    return rule_groups(scope(stack))


def rules_of(stack):
    return [r for g in groups_of(stack) for r in g["rules"]]


@pytest.mark.parametrize("stack", STACKS)
def test_every_expression_parses(stack):
    for rule in rules_of(stack):
        promql_parser.parse(rule["expr"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_has_mixin_fields_and_a_runbook(stack):
    runbook_anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", (ROOT / "docs" / "runbooks.md").read_text(), re.M)}
    s = scope(stack)
    for rule in rules_of(stack):
        if "alert" not in rule:
            continue
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["labels"]["namespace"] == s.namespace
        assert f'namespace="{s.namespace}"' in rule["expr"], rule["alert"]
        ann = rule["annotations"]
        assert ann["summary"] and ann["description"]
        assert "{{ $value" in ann["description"] or "{{ $labels" in ann["description"], rule["alert"]
        url, _, anchor = ann["runbook_url"].partition("#")
        assert url == s.runbook_base_url
        assert anchor in runbook_anchors, f"docs/runbooks.md has no heading for {rule['alert']}"


def test_sentinel_rules_only_in_sentinel_topology():
    names = lambda stack: {r.get("alert") for r in rules_of(stack)}
    sentinel_only = {"RedisNoMaster", "RedisMultipleMasters", "RedisReplicasDisconnected", "RedisReplicationLinkDown"}
    assert sentinel_only <= names("prod")
    assert not sentinel_only & names("dev")


def test_thresholds_come_from_stack_config():
    rule = find(rule_groups(scope("prod", {"thresholds": {"sessionsHigh": 1234, "fragmentationWarning": 1.7}})),
                "HighSessionCount")
    assert rule["expr"].endswith("> 1234")
    frag = find(rule_groups(scope("prod", {"thresholds": {"fragmentationWarning": 1.7}})), "RedisFragmentationHigh",
                "warning")
    assert frag["expr"].endswith("> 1.7")


THREE_APPS = {"wasApps": [{"name": n, "image": "registry.example/shop:1.0.0", "minReplicas": m,
                           "sessionDatabase": db}
                          for db, (n, m) in enumerate((("shop", 2), ("cart", 3), ("admin", 1)), 1)]}
VARIANTS = [(stack, None) for stack in STACKS] + [(stack, THREE_APPS) for stack in STACKS]
VARIANT_IDS = [f"{stack}{'-3apps' if o else ''}" for stack, o in VARIANTS]


def test_one_name_per_condition_with_severity_tiers():
    """Tiers share a name and differ only in severity (and threshold): never *Critical names."""
    rules = [r for r in rules_of("prod") if "alert" in r]
    tiers: dict[str, list[str]] = {}
    for r in rules:
        tiers.setdefault(r["alert"], []).append(r["labels"]["severity"])
    assert not [n for n in tiers if n.endswith(("Critical", "Warning"))]
    assert sorted(tiers["RedisMemoryHigh"]) == sorted(tiers["RedisFragmentationHigh"]) == ["critical", "warning"]
    assert all(len(set(sev)) == len(sev) for sev in tiers.values()), tiers


@pytest.mark.parametrize("stack,overrides", VARIANTS, ids=VARIANT_IDS)
def test_every_was_rule_carries_the_app_label(stack, overrides):
    """Per-app rules carry `app` in their labels; the others read records that keep `app`
    (checked by the promtool cases below); so no two rules share name and labels."""
    s = scope(stack, overrides)
    groups = rule_groups(s)
    was = next(g for g in groups if g["name"].endswith(".was"))["rules"]
    per_app = [r for r in was if "app" in r["labels"]]
    assert {r["labels"]["app"] for r in per_app} == {a.name for a in s.apps}
    keys = [(r["alert"], tuple(sorted(r["labels"].items()))) for g in groups for r in g["rules"] if "alert" in r]
    assert len(keys) == len(set(keys))
    records = [(r["record"], tuple(sorted(r.get("labels", {}).items()))) for g in groups for r in g["rules"]
               if "record" in r]
    assert len(records) == len(set(records))


RECORDED_SOURCES = ("redis_memory_max_bytes", "redis_mem_fragmentation_ratio", "jvm_memory_", "tomcat_sessions_",
                    "http_server_requests_", "kube_deployment_status_replicas_ready", rec.KUBE_POD_OWNER, "pod=~",
                    "redis_db_keys", "redis_key_size", "redis_key_value")


@pytest.mark.parametrize("stack", STACKS)
def test_alerts_dashboard_and_checklist_read_the_recording_rules(stack):
    """Each derived quantity is defined once, as a recording rule: no alert, panel or
    checklist row recomputes it from the raw series (or finds pods by a name regex)."""
    s = scope(stack)
    readers = [(f"alert {r['alert']}", r["expr"]) for r in rules_of(stack) if "alert" in r]
    readers += [(f"panel {title}", expr) for title, expr in panel_queries(s)]
    readers += [(f"check {c.item}", c.query.template) for c in CHECKS]
    recorded = {r["record"] for g in groups_of(stack) for r in g["rules"] if "record" in r}
    raw_sources = (*RECORDED_SOURCES, f'job="{s.namespace}/')  # the WAS PodMonitors' `up`
    without_records = lambda expr: re.sub("|".join(map(re.escape, recorded)), "RECORD", expr)
    offenders = [(who, raw) for who, expr in readers for raw in raw_sources if raw in without_records(expr)]
    assert offenders == []
    read = " ".join(expr for _, expr in readers)
    assert {name for name in recorded if name not in read} == set(), "a record nobody reads"


def test_each_alert_names_a_panel_and_a_row_that_exist():
    s = scope("prod")
    panels = {title for title, _ in panel_queries(s)}
    items = {c.item for c in CHECKS}
    for alert in all_alerts(s):
        assert not alert.panel or alert.panel in panels, (alert.name, alert.panel)
        assert not alert.check or alert.check in items, (alert.name, alert.check)
    loop = [a for a in all_alerts(s) if a.name == "WasSessionsNotInRedis"]
    assert loop and all(a.panel and a.check for a in loop)


def test_program_declares_the_rules_with_release_label(program, stack):
    rule = program.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").plain
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus"
    groups = rule["spec"]["groups"]
    certificates = [g for g in groups if g["name"].endswith(".certificates")]  # from the issued certificates
    assert [g for g in groups if g not in certificates] == groups_of(stack)
    assert certificates  # the exporter's web certificates in every stack, Redis's with redisTls


@pytest.mark.judge
@pytest.mark.parametrize("stack,overrides", VARIANTS, ids=VARIANT_IDS)
def test_promtool_check_rules_lint_fatal(stack, overrides, tmp_path):
    """Valid, and no duplicate rules (promtool's lint) on every stack and a three-app stack."""
    promtool = require("promtool")
    groups = rule_groups(scope(stack, overrides))
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    out = subprocess.run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups)} rules found" in out.stdout


@pytest.mark.judge
def test_promtool_lint_catches_a_duplicate(tmp_path):
    """The lint above can fail: the old WasPodsBelowMinimum rules (no app label) are duplicates."""
    promtool = require("promtool")
    groups = rule_groups(scope("prod", THREE_APPS))
    for g in groups:
        for r in g["rules"]:
            if r.get("alert") == "WasPodsBelowMinimum":
                r["labels"].pop("app")
                r["expr"] = 'kube_deployment_status_replicas_ready{namespace="petclinic"} < 2'
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    out = subprocess.run([promtool, "check", "rules", "--lint-fatal", str(tmp_path / "rules.yml")],
                         capture_output=True, text=True)
    assert out.returncode == 3 and "duplicate" in (out.stdout + out.stderr).lower()


# ---------------------------------------------------------------- promtool test rules
def series(metric, labels, values):
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{inner}}}", "values": values}


def cases(stack):
    """(alert, input series, severities expected to fire at 20m, extra expected labels).
    Every tier of every alert fires in one case, and every alert has a silent case."""
    s = scope(stack)
    ns = s.namespace
    t = s.thresholds
    i = {"namespace": ns, "job": s.job, "instance": "redis-0:6379"}
    pod = {"namespace": ns, "pod": "redis-master-0"}
    p1 = {"namespace": ns, "pod": "p1"}
    app = {"app": "petclinic"}
    master = series("redis_instance_info", {**i, "role": "master"}, "1x30")
    # petclinic (default repository, DB 1): counted by the session counter (SCAN), its count key
    # read by the regular scrape
    counted = {**i, "db": "db1", "key": SESSION_COUNT_KEY}
    # the store check: a sorted set in a default-repository store
    mismatch = lambda v: series("redis_key_size", {**i, "db": "db1", "key": "spring:session:petclinic:sessions:expirations"},
                                f"{v}x30")
    owner = series(rec.KUBE_POD_OWNER, {**p1, "workload": "petclinic", "workload_type": "deployment"}, "1x30")
    mem = lambda used, cap: [series("redis_memory_used_bytes", i, f"{used}x30"),
                             series("redis_memory_max_bytes", i, f"{cap}x30")]
    frag = lambda ratio, used: [series("redis_mem_fragmentation_ratio", i, f"{ratio}x30"),
                                series("redis_memory_used_bytes", i, f"{used}x30")]
    ready = lambda n: series("kube_deployment_status_replicas_ready", {"namespace": ns, "deployment": "petclinic"},
                             f"{n}x30")
    heap = lambda pool, used, cap: [
        series("jvm_memory_used_bytes", {**p1, "area": "heap", "id": pool}, f"{used}x30"),
        series("jvm_memory_max_bytes", {**p1, "area": "heap", "id": pool}, f"{cap}x30")]
    traffic = [owner, master, series("http_server_requests_seconds_count", {**p1, "uri": "/owners"}, "0+60x30")]
    up_app = lambda v: series("up", {**p1, "job": s.metrics_job("petclinic")}, f"{v}x30")
    out = [
        ("RedisDown", [series("redis_up", i, "0x30")], ["critical"], i),
        ("RedisDown", [series("redis_up", i, "1x30")], [], i),
        ("RedisExporterDown", [series("up", i, "0x30")], ["warning"], i),
        ("RedisExporterDown", [series("up", i, "1x30")], [], i),
        ("RedisMetricsAbsent", [series("redis_up", {**i, "namespace": "elsewhere"}, "1x30")], ["warning"],
         {"job": s.job}),
        ("RedisMetricsAbsent", [series("redis_up", i, "1x30")], [], {}),
        ("HighSessionCount", [series("redis_key_value", counted, f"{t.sessions_high + 1}x30"), master],
         ["warning"], {**app, "job": s.job, "method": "scan"}),
        ("HighSessionCount", [series("redis_key_value", counted, f"{t.sessions_high}x30"), master], [], {}),
        # the master is up but the count key is missing (the counter stopped: the key expired)
        ("SessionCountFailed", [master], ["warning"], {**app, "job": s.job}),
        ("SessionCountFailed", [series("redis_key_value", counted, "7x30"), master], [], {}),
        ("SessionStoreMismatch", [mismatch(1), series("redis_key_value", counted, "7x30"), master], ["warning"],
         {**app, "job": s.job}),
        ("SessionStoreMismatch", [mismatch(0), series("redis_key_value", counted, "7x30"), master], [], {}),
        ("RedisEvictionDetected", [series("redis_evicted_keys_total", i, "0+10x30")], ["warning"], i),
        ("RedisEvictionDetected", [series("redis_evicted_keys_total", i, "5x30")], [], i),
        # one name, two tiers: 85 % is a warning, 95 % both (Alertmanager keeps the critical)
        ("RedisMemoryHigh", mem(85, 100), ["warning"], i),
        ("RedisMemoryHigh", mem(95, 100), ["warning", "critical"], i),
        ("RedisMemoryHigh", mem(1000000000, 0), [], i),  # maxmemory unset (0): no division by zero, no alert
        ("RedisContainerMemoryNearLimit",
         [series("container_memory_working_set_bytes", {**pod, "container": "redis"}, "95x30"),
          series("kube_pod_container_resource_limits", {**pod, "container": "redis", "resource": "memory"}, "100x30")],
         ["warning"], pod),
        ("RedisContainerMemoryNearLimit",
         [series("container_memory_working_set_bytes", {**pod, "container": "redis"}, "50x30"),
          series("kube_pod_container_resource_limits", {**pod, "container": "redis", "resource": "memory"}, "100x30")],
         [], pod),
        ("RedisRejectedConnections", [series("redis_rejected_connections_total", i, "0+1x30")], ["warning"], i),
        ("RedisRejectedConnections", [series("redis_rejected_connections_total", i, "3x30")], [], i),
        ("RedisTooManyConnections", [series("redis_connected_clients", i, f"{t.connected_clients_high + 1}x30")],
         ["warning"], i),
        ("RedisTooManyConnections", [series("redis_connected_clients", i, f"{t.connected_clients_high}x30")], [], i),
        ("RedisFragmentationHigh", frag(1.7, 20 * MIB), ["warning"], i),
        ("RedisFragmentationHigh", frag(2.5, 20 * MIB), ["warning", "critical"], i),
        ("RedisFragmentationHigh", frag(2.5, MIB), [], i),  # a near-empty Redis has a meaningless ratio
        ("WasPodsBelowMinimum", [ready(s.apps[0].min_replicas - 1)], ["warning"], {}),
        ("WasPodsBelowMinimum", [ready(s.apps[0].min_replicas)], [], {}),
        ("WasJvmHeapHigh", [owner, *heap("G1 Eden", 90, 100)], ["warning"], {**p1, **app}),
        # a pool with max=-1 must not inflate the ratio (naively 110%)
        ("WasJvmHeapHigh", [owner, *heap("G1 Eden", 50, 100), *heap("G1 Survivor", 60, -1)], [], {}),
        ("WasSessionsNotInRedis", [owner, series("tomcat_sessions_active_current_sessions", p1, "3x30")],
         ["critical"], app),
        ("WasSessionsNotInRedis", [owner, series("tomcat_sessions_active_current_sessions", p1, "0x30")], [], {}),
        ("WasNoSessionsInRedis", [*traffic, series("redis_key_value", counted, "0x30")], ["warning"], app),
        ("WasNoSessionsInRedis", [*traffic, series("redis_key_value", counted, "5x30")], [], {}),
        ("WasMetricsNotScraped", [ready(1), up_app(0)], ["warning"], app),
        ("WasMetricsNotScraped", [ready(1), up_app(1)], [], {}),
    ]
    # every stack: the exporter's web endpoint has certificates; redisTls adds Redis's
    # the recorded notAfter (Unix seconds; promtool's clock starts at 0): 20 days left warns,
    # 5 days pages too, a year is silent
    cert = {"namespace": ns, "job": s.job, "certificate": "redis"}
    left = lambda days: [series(certificates.RECORD, cert, f"{days * 86400}x30")]
    out += [
        ("RedisTlsCertificateExpiring", left(20), ["warning"], cert),
        ("RedisTlsCertificateExpiring", left(5), ["warning", "critical"], cert),
        ("RedisTlsCertificateExpiring", left(365), [], cert),
    ]
    if s.topology == "sentinel":
        node = lambda n, role: series("redis_instance_info", {**i, "instance": f"n{n}:6379", "role": role}, "1x30")
        sentinel = series("redis_up", {**i, "instance": "n0:26379"}, "1x30")
        out += [
            ("RedisNoMaster", [node(0, "slave"), node(1, "slave"), sentinel], ["critical"], {}),
            ("RedisNoMaster", [node(0, "master"), node(1, "slave"), sentinel], [], {}),
            ("RedisNoMaster", [sentinel], [], {}),  # no node reachable: RedisDown / RedisExporterDown instead
            ("RedisMultipleMasters", [node(0, "master"), node(1, "master")], ["critical"], {}),
            ("RedisMultipleMasters", [node(0, "master"), node(1, "slave")], [], {}),
            ("RedisReplicasDisconnected", [master, series("redis_connected_slaves", i, "1x30")], ["warning"], {}),
            ("RedisReplicasDisconnected", [master, series("redis_connected_slaves", i, f"{s.redis_nodes - 1}x30")],
             [], {}),
            ("RedisReplicationLinkDown", [series("redis_master_link_up", i, "0x30")], ["warning"], i),
            ("RedisReplicationLinkDown", [series("redis_master_link_up", i, "1x30")], [], i),
        ]
    return s, out


@pytest.mark.judge
@pytest.mark.parametrize("stack", STACKS)
def test_promtool_every_alert_fires_and_stays_silent(stack, tmp_path):
    promtool = require("promtool")
    s, alert_cases = cases(stack)
    fired = {(alert, sev) for alert, _, sevs, _ in alert_cases for sev in sevs}
    assert fired == {(a.name, a.severity) for a in all_alerts(s)}, "every tier needs a promtool case that fires it"
    assert {alert for alert, _, sevs, _ in alert_cases if not sevs} == {a.name for a in all_alerts(s)}, \
        "every alert needs a silent case"
    groups = groups_of(stack)
    # Expressions and `for` are under test here; annotation templates are checked by
    # `promtool check rules` above, and promtool would otherwise demand their rendering.
    bare = [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]} for g in groups]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": bare}))
    tests = []
    for alert, input_series, severities, labels in alert_cases:
        expected = [{"exp_labels": {**labels, **find(groups, alert, sev)["labels"]}} for sev in severities]
        tests.append({"name": f"{alert} {severities}", "interval": "1m", "input_series": input_series,
                      "alert_rule_test": [{"eval_time": "20m", "alertname": alert, "exp_alerts": expected}]})
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}))
    out = subprocess.run([promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


@pytest.mark.judge
def test_promtool_harness_detects_a_wrong_expectation(tmp_path):
    """The promtool run above can fail: a silent series expected to fire is reported."""
    promtool = require("promtool")
    groups = groups_of("dev")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    i = {"namespace": "petclinic-dev", "job": "redis-exporter", "instance": "x:6379"}
    test = {"interval": "1m", "input_series": [series("redis_up", i, "1x30")], "alert_rule_test": [
        {"eval_time": "20m", "alertname": "RedisDown",
         "exp_alerts": [{"exp_labels": {**i, "severity": "critical"}}]}]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump({"rule_files": ["rules.yml"], "tests": [test]}))
    out = subprocess.run([promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode != 0 and "FAILED" in out.stdout + out.stderr


def test_runbook_covers_the_seed_incidents():
    text = (ROOT / "docs" / "runbooks.md").read_text().lower()
    for phrase in ("permission denied", "redis-master", "maxmemory 128m", "release"):
        assert phrase in text, phrase
    assert run_program("dev").error is None


# ------------------------------------------- promtool scenario files (tests/monitoring/promtool)
PROMTOOL_DIR = ROOT / "tests" / "monitoring" / "promtool"
SCENARIOS = sorted(p.name for p in PROMTOOL_DIR.glob("*.test.yml"))


def program_rule_groups(stack):
    """The PrometheusRule `.spec.groups` the real program declares for a stack."""
    run = run_program(stack)
    assert run.error is None, run.error
    return run.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").plain["spec"]["groups"]


def test_scenario_files_cover_both_stacks():
    assert {name.split(".")[0] for name in SCENARIOS} == set(STACKS)


@pytest.mark.judge
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_promtool_scenarios(scenario, tmp_path):
    """`<stack>[.annotations].test.yml`: rules.yml is the program's PrometheusRule for
    that stack; annotations are kept only for the `.annotations` files."""
    promtool = require("promtool")
    stack = scenario.split(".")[0]
    groups = program_rule_groups(stack)
    if ".annotations." not in scenario:
        groups = [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
                  for g in groups]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    (tmp_path / scenario).write_text((PROMTOOL_DIR / scenario).read_text())
    out = subprocess.run([promtool, "test", "rules", scenario], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_every_record_has_a_promtool_test():
    """Each recording rule is checked by a promql_expr_test in a scenario file."""
    tested = {t["expr"] for name in SCENARIOS for test in yaml.safe_load((PROMTOOL_DIR / name).read_text())["tests"]
              for t in test.get("promql_expr_test", [])}
    for stack in STACKS:
        recorded = {r["record"] for g in groups_of(stack) for r in g["rules"] if "record" in r}
        assert recorded <= tested, recorded - tested
