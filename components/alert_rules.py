"""AlertRules: one PrometheusRule holding the session recording rules and every alert
(monitoring/alerts.py), labelled so kube-prometheus's ruleSelector picks it up."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from monitoring.alerts import rule_groups
from monitoring.scope import Scope
from settings import names


@dataclass(frozen=True)
class AlertRulesArgs:
    """Inputs of AlertRules."""

    scope: Scope
    """The store and apps the rules watch (namespace, exporter job, thresholds, ...)."""
    prometheus_release: str
    """`release` label the Prometheus operator selects rules by."""


class AlertRules(pulumi.ComponentResource):
    """PrometheusRule for Redis, Sentinel, sessions and WAS, named after the instance."""

    def __init__(self, name: str, args: AlertRulesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:AlertRules", name, None, opts)
        groups = rule_groups(args.scope)
        k8s.apiextensions.CustomResource(
            f"{name}-prometheusrule",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=args.scope.namespace,
                labels={**names.labels(name, "alerts"), "release": args.prometheus_release},
            ),
            spec={"groups": groups},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"rules": sum(len(g["rules"]) for g in groups)})
