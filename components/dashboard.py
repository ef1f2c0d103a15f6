"""Dashboard007: the Grafana dashboard as a ConfigMap that Grafana's sidecar loads
(label grafana_dashboard=1, in Grafana's namespace)."""

from typing import TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .config import names
from .config.model import settings_of
from .monitoring.dashboard import dashboard_json
from .monitoring.scope import Scope


class Dashboard007Args(TypedDict):
    """Inputs of Dashboard007."""

    scope: Scope
    """The store and apps the dashboard shows."""
    grafana_namespace: str
    """Namespace whose Grafana sidecar loads dashboards."""


class Dashboard007(pulumi.ComponentResource):
    """Grafana "Dashboard 007" for one store and its apps; the ConfigMap is named after the
    instance and the scope's namespace (several stacks may share one Grafana)."""

    config_map: pulumi.Output[str]
    """Name of the ConfigMap holding the dashboard JSON (in Grafana's namespace)."""

    def __init__(self, name: str, args: Dashboard007Args, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:Dashboard007", name, None, opts)
        scope = settings_of(Scope, args["scope"])
        config_map_name = f"{name}-{scope.namespace}"
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-configmap",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=config_map_name,
                namespace=args["grafana_namespace"],
                labels={**names.labels(name, "dashboard"), "grafana_dashboard": "1"},
            ),
            data={f"{config_map_name}.json": dashboard_json(scope)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.config_map = pulumi.Output.all(config_map.urn, config_map_name).apply(lambda both: both[1])
        self.register_outputs({"configMap": self.config_map})
