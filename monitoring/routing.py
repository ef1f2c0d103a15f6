"""Alert routing as data: one route tree, rendered for the Prometheus operator's
AlertmanagerConfig (camelCase CRD) and as plain Alertmanager config (the live tests load
it into a real Alertmanager with a webhook in place of Slack)."""
from __future__ import annotations

GROUP_BY = ["alertname", "namespace"]
GROUP_WAIT = "30s"
GROUP_INTERVAL = "5m"
# severity -> repeat interval; info goes nowhere.
SEVERITY_REPEAT = {"critical": "1h", "warning": "4h"}
NULL_RECEIVER = "null"
NOTIFY_RECEIVER = "slack"

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


def plain_config(webhook_url: str, group_wait: str = GROUP_WAIT, group_interval: str = GROUP_INTERVAL) -> dict:
    """The same routing as plain Alertmanager config, notifying a webhook."""
    return {
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": GROUP_BY,
            "group_wait": group_wait,
            "group_interval": group_interval,
            "routes": [{"receiver": NOTIFY_RECEIVER, "matchers": [f'severity="{severity}"'],
                        "repeat_interval": repeat} for severity, repeat in SEVERITY_REPEAT.items()],
        },
        "receivers": [
            {"name": NULL_RECEIVER},
            {"name": NOTIFY_RECEIVER, "webhook_configs": [{"url": webhook_url, "send_resolved": True}]},
        ],
    }
