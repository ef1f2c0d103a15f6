"""SlackAlerting: AlertmanagerConfig routing this namespace's critical and warning alerts
to Slack. Created only when the stack sets slackChannel; the webhook URL is a secret
stack value that reaches Kubernetes only inside a Secret (apiURL is a SecretKeySelector)."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .config import names
from .monitoring.routing import operator_spec

SECRET_KEY = "url"


class SlackAlertingArgs(TypedDict):
    """Inputs of SlackAlerting."""

    channel: str
    """Slack channel, e.g. #alerts."""
    webhook_url: pulumi.Input[str]
    """Incoming webhook URL; kept secret (it reaches Kubernetes only inside the Secret)."""
    namespace: pulumi.Input[str]
    """Namespace of the alerts (the operator routes only alerts labelled with it)."""
    prometheus_release: str
    """Release label, so the Alertmanager's alertmanagerConfigSelector can select it."""
    send_resolved: NotRequired[bool]
    """Notify on resolve too (default true)."""


class SlackAlerting(pulumi.ComponentResource):
    """Secret with the webhook + AlertmanagerConfig, both named after the instance."""

    channel: pulumi.Output[str]
    """The Slack channel alerts go to."""

    def __init__(self, name: str, args: SlackAlertingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:SlackAlerting", name, None, opts)
        channel, send_resolved = args["channel"], args.get("send_resolved", True)
        labels = {**names.labels(name, "alerting"), "release": args["prometheus_release"]}
        secret_name = f"{name}-slack"
        secret = k8s.core.v1.Secret(
            f"{name}-webhook",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=args["namespace"], labels=labels),
            type="Opaque",
            string_data={SECRET_KEY: pulumi.Output.secret(args["webhook_url"])},
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-alertmanagerconfig",
            api_version="monitoring.coreos.com/v1alpha1",
            kind="AlertmanagerConfig",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args["namespace"], labels=labels),
            spec=operator_spec(channel, secret_name, SECRET_KEY, send_resolved),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]),
        )
        self.channel = pulumi.Output.from_input(channel)
        self.register_outputs({"channel": self.channel})
