"""Slack routing: only when configured; webhook only inside a Secret, only as secret."""
from tests.harness import is_secret, plain_occurrences, run_program

AMC = "kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"


def test_no_slack_config_no_alertmanagerconfig(program):
    assert program.of_type(AMC) == []
    assert not any(r.name.startswith("slack") for r in program.resources)


def test_slack_route_with_secret_webhook():
    run = run_program("prod", {"slackChannel": "#petclinic-alerts", "slackWebhookUrl": WEBHOOK, "slackSendResolved": False})
    assert run.error is None, run.error
    amc = run.one(AMC).plain
    assert amc["metadata"]["namespace"] == "petclinic"
    assert amc["metadata"]["labels"]["release"] == "kube-prometheus"
    route = amc["spec"]["route"]
    assert route["groupBy"] == ["alertname", "namespace"]
    assert [(r["matchers"][0]["value"], r["receiver"]) for r in route["routes"]] == [("critical", "slack"), ("warning", "slack")]
    slack = {r["name"]: r for r in amc["spec"]["receivers"]}["slack"]["slackConfigs"][0]
    assert slack["channel"] == "#petclinic-alerts" and slack["sendResolved"] is False
    secret = run.one("kubernetes:core/v1:Secret", "slack-webhook")
    assert slack["apiURL"] == {"name": secret.plain["metadata"]["name"], "key": "url"}
    assert "runbook_url" in slack["text"]
    holders = [r for r in run.resources if WEBHOOK in repr(r.inputs)]
    assert [r.name for r in holders] == ["slack-webhook"]
    assert is_secret(secret.inputs["stringData"])
    for r in run.resources:
        assert plain_occurrences(r.inputs, WEBHOOK) == [], r.name
