"""Dashboard007: the Grafana dashboard as a ConfigMap that Grafana's sidecar loads
(label grafana_dashboard=1, in Grafana's namespace)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from monitoring.dashboard import dashboard_json
from settings import names
from settings.model import StackSettings


@dataclass(frozen=True)
class Dashboard007Args:
    """Inputs of Dashboard007."""

    settings: StackSettings
    """The stack: namespace, thresholds, apps, Grafana namespace."""


class Dashboard007(pulumi.ComponentResource):
    """Grafana "Dashboard 007" for this stack."""

    def __init__(self, name: str, args: Dashboard007Args, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("redis-session-platform:index:Dashboard007", name, None, opts)
        s = args.settings
        config_map_name = names.dashboard_configmap(s.namespace)
        k8s.core.v1.ConfigMap(
            f"{name}-configmap",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=config_map_name,
                namespace=s.monitoring.grafana_namespace,
                labels={**names.labels(names.PART_OF, "dashboard"), "grafana_dashboard": "1"},
            ),
            data={f"{config_map_name}.json": dashboard_json(s)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"configMap": config_map_name})
