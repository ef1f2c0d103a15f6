"""AlertRules: one PrometheusRule holding the session recording rules and every alert
(components/monitoring/alerts.py), labelled so kube-prometheus's ruleSelector picks it up."""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .config import names
from .monitoring.alerts import rule_groups
from .monitoring.certificates import expiry_group
from .monitoring.scope import Scope


@dataclass(frozen=True)
class AlertRulesArgs:
    """Inputs of AlertRules."""

    scope: Scope
    """The store and apps the rules watch (namespace, exporter job, thresholds, ...)."""
    prometheus_release: str
    """`release` label the Prometheus operator selects rules by."""
    certificates: pulumi.Input[dict] | None = None
    """Certificate name -> validityEndTime of the store's TLS certificates (recorded for the expiry alert)."""


class AlertRules(pulumi.ComponentResource):
    """PrometheusRule for Redis, Sentinel, sessions and WAS, named after the instance."""

    rules: pulumi.Output[int]
    """Number of rules (recording rules and alerts) in the PrometheusRule, the certificate expiry group aside."""

    def __init__(self, name: str, args: AlertRulesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:AlertRules", name, None, opts)
        groups = rule_groups(args.scope)
        spec: Any = {"groups": groups}
        if args.certificates is not None:
            spec = pulumi.Output.from_input(args.certificates).apply(
                lambda certs: {"groups": groups + ([expiry_group(args.scope, certs)] if certs else [])})
        k8s.apiextensions.CustomResource(
            f"{name}-prometheusrule",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=args.scope.namespace,
                labels={**names.labels(name, "alerts"), "release": args.prometheus_release},
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.rules = pulumi.Output.from_input(sum(len(g["rules"]) for g in groups))
        self.register_outputs({"rules": self.rules})
