"""Slack routing: only when configured; webhook only inside a Secret, only as secret."""
import subprocess

import yaml

from components.monitoring.routing import NOTIFY_RECEIVER, TEXT, TITLE, operator_spec
from simulators.loopback import plain_config
from tests.harness import is_secret, plain_occurrences, run_program
from tests.tools import require

AMC = "kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"


def test_no_slack_config_no_alertmanagerconfig(program):
    assert program.of_type(AMC) == []
    assert not program.of_type("redis-session-platform:index:SlackAlerting")


def test_slack_route_with_secret_webhook():
    run = run_program("prod", {"slackChannel": "#petclinic-alerts", "slackSendResolved": False},
                      secret_overrides={"slackWebhookUrl": WEBHOOK})
    assert run.error is None, run.error
    amc = run.one(AMC).plain
    assert amc["metadata"]["namespace"] == "petclinic"
    assert amc["metadata"]["labels"]["release"] == "kube-prometheus"
    route = amc["spec"]["route"]
    assert route["groupBy"] == ["alertname", "namespace"]
    assert [(r["matchers"][0]["value"], r["receiver"]) for r in route["routes"]] == [("critical", "slack"), ("warning", "slack")]
    slack = {r["name"]: r for r in amc["spec"]["receivers"]}["slack"]["slackConfigs"][0]
    assert slack["channel"] == "#petclinic-alerts" and slack["sendResolved"] is False
    secret = run.one("kubernetes:core/v1:Secret", "redis-session-platform-webhook")
    assert slack["apiURL"] == {"name": secret.plain["metadata"]["name"], "key": "url"}
    assert "runbook_url" in slack["text"]
    holders = [r for r in run.resources if WEBHOOK in repr(r.inputs)]
    assert [r.name for r in holders] == ["redis-session-platform-webhook"]
    assert is_secret(secret.inputs["stringData"])
    for r in run.resources:
        assert plain_occurrences(r.inputs, WEBHOOK) == [], r.name


def test_brief_example_webhook_stays_secret_everywhere():
    webhook = "https://hooks.slack.com/services/T000/B000/XXXX"
    run = run_program("prod", {"slackChannel": "#alerts"}, secret_overrides={"slackWebhookUrl": webhook})
    assert run.error is None, run.error
    assert [r.name for r in run.resources if webhook in repr(r.inputs)] == ["redis-session-platform-webhook"]
    secret = run.one("kubernetes:core/v1:Secret", "redis-session-platform-webhook")
    assert is_secret(secret.inputs["stringData"]) and secret.plain["metadata"]["namespace"] == "petclinic"
    for r in run.resources:
        assert plain_occurrences(r.inputs, webhook) == [], r.name
    assert webhook not in repr(run.outputs)
    amc = run.one(AMC)
    assert webhook not in repr(amc.inputs)
    slack = {r["name"]: r for r in amc.plain["spec"]["receivers"]}["slack"]["slackConfigs"][0]
    assert slack["sendResolved"] is True  # Pulumi.yaml default
    assert {r["name"] for r in amc.plain["spec"]["receivers"]} == {"slack", "null"}
    assert amc.plain["spec"]["route"]["receiver"] == "null"  # info (and anything unmatched) is dropped


def test_plain_config_routes_like_the_operator_spec():
    spec = operator_spec("#alerts", "s", "url", True)
    plain = plain_config("http://127.0.0.1:1/hook")
    assert plain["route"]["group_by"] == spec["route"]["groupBy"] == ["alertname", "namespace"]
    assert plain["route"]["receiver"] == spec["route"]["receiver"]
    assert [(r["receiver"], r["matchers"], r["repeat_interval"]) for r in plain["route"]["routes"]] == [
        (r["receiver"], [f'{m["name"]}="{m["value"]}"' for m in r["matchers"]], r["repeatInterval"])
        for r in spec["route"]["routes"]]
    assert [r["name"] for r in plain["receivers"]] == [r["name"] for r in spec["receivers"]]


def _slack_variant(spec: dict) -> dict:
    """The operator spec as plain Alertmanager config with its Slack receiver (what the
    operator generates), so amtool judges the Slack fields and templates too."""
    config = plain_config("http://127.0.0.1:1/hook")
    slack = {r["name"]: r for r in spec["receivers"]}[NOTIFY_RECEIVER]["slackConfigs"][0]
    for receiver in config["receivers"]:
        if receiver["name"] == NOTIFY_RECEIVER:
            receiver.pop("webhook_configs")
            receiver["slack_configs"] = [{"api_url": "https://hooks.slack.com/services/T/B/X", "channel": slack["channel"],
                                          "send_resolved": slack["sendResolved"], "title": slack["title"],
                                          "text": slack["text"]}]
    return config


def test_routing_passes_amtool_check_config(tmp_path):
    amtool = require("amtool")
    for name, config in (("webhook", plain_config("http://127.0.0.1:1/hook")),
                         ("slack", _slack_variant(operator_spec("#alerts", "s", "url", True)))):
        path = tmp_path / f"{name}.yml"
        path.write_text(yaml.safe_dump(config))
        proc = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_slack_templates_render_and_name_the_runbook(tmp_path):
    amtool = require("amtool")
    glob = tmp_path / "empty.tmpl"
    glob.write_text('{{ define "unused" }}{{ end }}')
    for template in (TITLE, TEXT):
        proc = subprocess.run([amtool, "template", "render", f"--template.glob={glob}", f"--template.text={template}"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    assert all(f".Annotations.{a}" in TEXT for a in ("summary", "description", "runbook_url"))


def test_inhibit_rules_are_the_same_in_both_configs():
    """One set of inhibit rules: the AlertmanagerConfig the cluster gets and the plain config
    the live tests run hold the same matchers and `equal` labels."""
    spec = operator_spec("#alerts", "s", "url", True)["inhibitRules"]
    plain = plain_config("http://127.0.0.1:1/hook")["inhibit_rules"]
    text = lambda ms: [f'{m["name"]}{m["matchType"]}"{m["value"]}"' for m in ms]
    assert [(text(r["sourceMatch"]), text(r["targetMatch"]), r["equal"]) for r in spec] == \
        [(r["source_matchers"], r["target_matchers"], r["equal"]) for r in plain]
    tiers, down = plain
    assert (tiers["source_matchers"], tiers["target_matchers"]) == (['severity="critical"'], ['severity=~"warning|info"'])
    assert {"alertname", "instance", "app", "namespace"} <= set(tiers["equal"])  # same alert, same subject
    assert (down["source_matchers"], down["target_matchers"]) == (['alertname="RedisDown"'], ['alertname!="RedisDown"'])
    assert set(down["equal"]) == {"namespace", "instance"}
