"""AppNamespace: the stack's namespace, created (Pod Security "restricted") or adopted."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from .config import names


@dataclass(frozen=True)
class AppNamespaceArgs:
    """Inputs of AppNamespace."""

    name: str
    """Namespace name."""
    create: bool
    """Create it (True) or use an existing one (False)."""
    protect: bool = False
    """Pulumi protect + retainOnDelete on the Namespace: deleting it deletes every object in it,
    the Redis volumes included (docs/runbooks.md, "Delete a stack's data on purpose")."""


class AppNamespace(pulumi.ComponentResource):
    """Namespace holder; `name` is what every other component deploys into."""

    name: str

    def __init__(self, name: str, args: AppNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:AppNamespace", name, None, opts)
        self.name = args.name
        if args.create:
            k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=args.name,
                    labels={
                        "app.kubernetes.io/part-of": names.PART_OF,
                        "app.kubernetes.io/managed-by": names.MANAGED_BY,
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/warn": "restricted",
                    },
                ),
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
            )
        self.register_outputs({"name": args.name, "created": args.create, "protected": args.protect})
