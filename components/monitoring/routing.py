"""Alert routing as data: one route tree and one set of inhibit rules, rendered for the
Prometheus operator's AlertmanagerConfig (camelCase CRD). The live tests render the same data
as plain Alertmanager config (simulators/loopback.py `plain_config`, a webhook in place of
Slack) and load it into a real Alertmanager.

Inhibit rules make one condition page once (alerts are tiered by `severity` under one
name, components/monitoring/alerts.py):
- a critical alert silences the warning/info alert of the same name for the same subject
  (namespace, instance, app, pod: labels an alert lacks compare equal, so a per-app alert
  of app A never silences app B's);
- RedisDown silences every other alert of the same instance (what a dead Redis still
  shows, e.g. a rate over its last samples, is not a second problem).
The operator adds `namespace="<its namespace>"` to both sides of each rule
(pkg/alertmanager/amcfg.go, namespaceEnforcer.processInhibitRule).
"""
from __future__ import annotations

from dataclasses import dataclass

GROUP_BY = ["alertname", "namespace"]
GROUP_WAIT = "30s"
GROUP_INTERVAL = "5m"
# severity -> repeat interval; info goes nowhere.
SEVERITY_REPEAT = {"critical": "1h", "warning": "4h"}
NULL_RECEIVER = "null"
NOTIFY_RECEIVER = "slack"



@dataclass(frozen=True)
class Inhibit:
    """One inhibit rule: alerts matching `target` are muted while one matching `source`
    fires with the same values of `equal`. Matchers are (label, op, value)."""

    source: tuple[tuple[str, str, str], ...]
    target: tuple[tuple[str, str, str], ...]
    equal: tuple[str, ...]


SUBJECT = ("namespace", "alertname", "instance", "app", "pod")
INHIBIT_RULES = (
    Inhibit(source=(("severity", "=", "critical"),), target=(("severity", "=~", "warning|info"),), equal=SUBJECT),
    Inhibit(source=(("alertname", "=", "RedisDown"),), target=(("alertname", "!=", "RedisDown"),),
            equal=("namespace", "instance")),
)


TITLE = ('[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}'
         '] {{ .CommonLabels.alertname }} ({{ .CommonLabels.namespace }})')
TEXT = ('{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n{{ .Annotations.description }}\n'
        'Runbook: {{ .Annotations.runbook_url }}\n{{ end }}')


def operator_spec(channel: str, secret_name: str, secret_key: str, send_resolved: bool) -> dict:
    """AlertmanagerConfig (monitoring.coreos.com/v1alpha1) spec."""
    return {
        "route": {
            "receiver": NULL_RECEIVER,
            "groupBy": GROUP_BY,
            "groupWait": GROUP_WAIT,
            "groupInterval": GROUP_INTERVAL,
            "routes": [{
                "receiver": NOTIFY_RECEIVER,
                "matchers": [{"name": "severity", "value": severity, "matchType": "="}],
                "repeatInterval": repeat,
            } for severity, repeat in SEVERITY_REPEAT.items()],
        },
        "inhibitRules": [{
            "sourceMatch": [{"name": n, "matchType": op, "value": v} for n, op, v in rule.source],
            "targetMatch": [{"name": n, "matchType": op, "value": v} for n, op, v in rule.target],
            "equal": list(rule.equal),
        } for rule in INHIBIT_RULES],
        "receivers": [
            {"name": NULL_RECEIVER},
            {"name": NOTIFY_RECEIVER, "slackConfigs": [{
                "apiURL": {"name": secret_name, "key": secret_key},
                "channel": channel,
                "sendResolved": send_resolved,
                "title": TITLE,
                "text": TEXT,
            }]},
        ],
    }
