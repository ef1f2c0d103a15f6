"""What Prometheus selects and scrapes: ServiceMonitor (exporter), PodMonitor (each WAS
app's /actuator/prometheus) and PrometheusRule (session recording rules + alerts), all
labelled `release: <prometheusRelease>` (the seed's empty dashboard when it was missing)."""
import pytest

from components.alert_rules import AlertRules, AlertRulesArgs
from components.config import names
from components.config.sessions import stores_for
from components.monitoring import records
from components.monitoring.alerts import alert_rules
from components.monitoring.certificates import RECORD as CERT_RECORD
from components.monitoring.scope import scope_of
from components.monitoring.session_count import COUNT_FAILED, RECORD, STORE_MISMATCH, recording_rules
from tests.harness import STACKS, load_settings, run_program, run_with_mocks

SM = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PM = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
TWO_APPS = [{"name": "petclinic", "image": "r/p:1.0", "minReplicas": 2, "sessionDatabase": 1},
            {"name": "shop", "image": "r/s:2.0", "minReplicas": 2, "repositoryType": "indexed", "sessionDatabase": 2}]


def monitoring_objects(run):
    return [r for r in run.k8s_objects() if r.kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule")]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("release", [None, "monitoring-stack"])
def test_every_monitor_and_rule_carries_the_configured_release_label(stack, release):
    run = run_program(stack, {"prometheusRelease": release} if release else None)
    assert run.error is None, run.error
    objs = monitoring_objects(run)
    assert sorted(r.kind for r in objs) == ["PodMonitor", "PrometheusRule", "ServiceMonitor"]
    for r in objs:
        assert r.plain["metadata"]["labels"]["release"] == (release or "kube-prometheus"), r.name


def test_one_podmonitor_and_one_set_of_session_rules_per_app():
    run = run_program("prod", {"wasApps": TWO_APPS})
    assert run.error is None, run.error
    assert sorted(r.plain["metadata"]["name"] for r in run.of_type(PM)) == ["petclinic", "shop"]
    groups = run.one(RULE).plain["spec"]["groups"]
    per_app = {r.name for r in records.RECORDS if r.per_app} | {RECORD, COUNT_FAILED, STORE_MISMATCH}
    for name in per_app:
        apps = [r["labels"]["app"] for g in groups for r in g["rules"] if r.get("record") == name]
        assert sorted(apps) == ["petclinic", "shop"], name


@pytest.mark.parametrize("stack", STACKS)
def test_service_monitor_selects_the_exporter_service_and_its_ports(stack):
    run = run_program(stack)
    sm = run.one(SM).plain
    svc = run.one("kubernetes:core/v1:Service", "redis-exporter-service").plain
    assert sm["metadata"]["namespace"] == svc["metadata"]["namespace"]
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [svc["metadata"]["namespace"]]}
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    port_names = {p["name"] for p in svc["spec"]["ports"]}
    assert {e["port"] for e in sm["spec"]["endpoints"]} <= port_names
    # kube-prometheus names the job after the Service: the alerts select on it.
    assert svc["metadata"]["name"] == scope_of(load_settings(stack)).job == names.exporter("redis")


@pytest.mark.parametrize("stack", STACKS)
def test_pod_monitor_scrapes_actuator_prometheus_on_the_was_pods(stack):
    run = run_program(stack)
    pm = run.one(PM).plain
    dep = run.one("kubernetes:apps/v1:Deployment", "petclinic-deployment").plain
    pod = dep["spec"]["template"]
    assert pm["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert pm["spec"]["namespaceSelector"] == {"matchNames": [dep["metadata"]["namespace"]]}
    [endpoint] = pm["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/actuator/prometheus"
    container = pod["spec"]["containers"][0]
    assert endpoint["port"] in {p["name"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "prometheus" in env["MANAGEMENT_ENDPOINTS_WEB_EXPOSURE_INCLUDE"].split(",")


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_rule_holds_the_session_recording_rules_and_every_alert(stack):
    s = load_settings(stack)
    run = run_program(stack)
    rule = run.one(RULE).plain
    assert rule["metadata"]["namespace"] == s.namespace
    rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    scope = scope_of(s)
    certificates = [r for r in rules if r.get("record") == CERT_RECORD]  # one per issued certificate (TLS)
    assert len(certificates) == 3 + (4 if s.redis.tls else 0)  # the exporter's web CA and 2 leaves; Redis's
    assert [r for r in rules if "record" in r and r not in certificates] == \
        recording_rules(stores_for(s.was_apps), scope.values()) + records.recording_rules(scope)
    assert [r for r in rules if "alert" in r] == alert_rules(scope)


def test_alert_rules_component_alone_follows_its_settings():
    s = load_settings("dev", {"prometheusRelease": "kp-test", "namespace": "other-ns"})
    run = run_with_mocks(lambda: AlertRules("alerts", AlertRulesArgs(scope=scope_of(s), prometheus_release="kp-test")))
    assert run.error is None, run.error
    rule = run.one(RULE).plain
    assert rule["metadata"]["labels"]["release"] == "kp-test"
    assert rule["metadata"]["namespace"] == "other-ns"
    for r in (r for g in rule["spec"]["groups"] for r in g["rules"]):
        assert 'namespace="other-ns"' in r["expr"]
