"""SlackAlerting: AlertmanagerConfig routing this namespace's critical and warning alerts
to Slack. Created only when the stack sets slackChannel; the webhook URL is a secret
stack value that reaches Kubernetes only inside a Secret (apiURL is a SecretKeySelector)."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from .config import names
from .config.model import SlackSettings
from .monitoring.routing import operator_spec

SECRET_KEY = "url"


@dataclass(frozen=True)
class SlackAlertingArgs:
    """Inputs of SlackAlerting."""

    slack: SlackSettings
    """Channel, secret webhook URL, sendResolved."""
    namespace: str
    """Namespace of the alerts (the operator routes only alerts labelled with it)."""
    prometheus_release: str
    """Release label, so the Alertmanager's alertmanagerConfigSelector can select it."""


class SlackAlerting(pulumi.ComponentResource):
    """Secret with the webhook + AlertmanagerConfig, both named after the instance."""

    channel: pulumi.Output[str]
    """The Slack channel alerts go to."""

    def __init__(self, name: str, args: SlackAlertingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:SlackAlerting", name, None, opts)
        labels = {**names.labels(name, "alerting"), "release": args.prometheus_release}
        secret_name = f"{name}-slack"
        secret = k8s.core.v1.Secret(
            f"{name}-webhook",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=args.namespace, labels=labels),
            type="Opaque",
            string_data={SECRET_KEY: pulumi.Output.secret(args.slack.webhook_url.get_secret_value())},
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-alertmanagerconfig",
            api_version="monitoring.coreos.com/v1alpha1",
            kind="AlertmanagerConfig",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels),
            spec=operator_spec(args.slack.channel, secret_name, SECRET_KEY, args.slack.send_resolved),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]),
        )
        self.channel = pulumi.Output.from_input(args.slack.channel)
        self.register_outputs({"channel": self.channel})
