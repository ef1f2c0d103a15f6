"""AlertRules: one PrometheusRule holding the session recording rules and every alert
(monitoring/alerts.py), labelled so kube-prometheus's ruleSelector picks it up."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from monitoring.alerts import rule_groups
from settings import names
from settings.model import StackSettings


@dataclass(frozen=True)
class AlertRulesArgs:
    """Inputs of AlertRules."""

    settings: StackSettings
    """The whole stack: namespace, thresholds, topology, apps, release label."""


class AlertRules(pulumi.ComponentResource):
    """PrometheusRule for Redis, Sentinel, sessions and WAS."""

    def __init__(self, name: str, args: AlertRulesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("redis-session-platform:index:AlertRules", name, None, opts)
        s = args.settings
        groups = rule_groups(s)
        k8s.apiextensions.CustomResource(
            f"{name}-prometheusrule",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=names.PART_OF,
                namespace=s.namespace,
                labels={**names.labels(names.PART_OF, "alerts"), "release": s.monitoring.prometheus_release},
            ),
            spec={"groups": groups},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"rules": sum(len(g["rules"]) for g in groups)})
