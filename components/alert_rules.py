"""AlertRules: one PrometheusRule holding the session recording rules and every alert
(components/monitoring/alerts.py), labelled so kube-prometheus's ruleSelector picks it up."""

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .config import names
from .config.model import settings_of
from .monitoring.alerts import rule_groups
from .monitoring.certificates import expiry_group
from .monitoring.scope import Scope


class AlertRulesArgs(TypedDict):
    """Inputs of AlertRules."""

    scope: Scope
    """The store and apps the rules watch (namespace, exporter job, thresholds, ...)."""
    prometheus_release: str
    """`release` label the Prometheus operator selects rules by."""
    certificates: NotRequired[pulumi.Input[Mapping[str, str]]]
    """Certificate name -> validityEndTime of the store's TLS certificates (recorded for the expiry alert)."""


class AlertRules(pulumi.ComponentResource):
    """PrometheusRule for Redis, Sentinel, sessions and WAS, named after the instance."""

    rules: pulumi.Output[int]
    """Number of rules (recording rules and alerts) in the PrometheusRule, the certificate expiry group aside."""

    def __init__(self, name: str, args: AlertRulesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:AlertRules", name, None, opts)
        scope = settings_of(Scope, args["scope"])
        groups = rule_groups(scope)
        spec: Any = {"groups": groups}
        if args.get("certificates") is not None:
            spec = pulumi.Output.from_input(args["certificates"]).apply(
                lambda certs: {"groups": groups + ([expiry_group(scope, certs)] if certs else [])})
        k8s.apiextensions.CustomResource(
            f"{name}-prometheusrule",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=scope.namespace,
                labels={**names.labels(name, "alerts"), "release": args["prometheus_release"]},
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.rules = pulumi.Output.from_input(sum(len(g["rules"]) for g in groups))
        self.register_outputs({"rules": self.rules})
