"""AppNamespace: the stack's namespace, created (Pod Security "restricted") or adopted."""
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .config import names


class AppNamespaceArgs(TypedDict):
    """Inputs of AppNamespace."""

    name: pulumi.Input[str]
    """Namespace name."""
    create: bool
    """Create it (true) or use an existing one (false)."""
    protect: NotRequired[bool]
    ("Pulumi protect + retainOnDelete on the Namespace (default false): deleting it deletes every object in it, "
     "the Redis volumes included (docs/runbooks.md, \"Delete a stack's data on purpose\").")


class AppNamespace(pulumi.ComponentResource):
    """The namespace every other component deploys into, created with Pod Security "restricted" or adopted."""

    name: pulumi.Output[str]
    """Namespace name; when created, it resolves once the Namespace exists (consumers of it wait for it)."""

    def __init__(self, name: str, args: AppNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("redis-session-platform:index:AppNamespace", name, None, opts)
        protect = args.get("protect", False)
        self.name = pulumi.Output.from_input(args["name"])
        if args["create"]:
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=args["name"],
                    labels={
                        "app.kubernetes.io/part-of": names.PART_OF,
                        "app.kubernetes.io/managed-by": names.MANAGED_BY,
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/warn": "restricted",
                    },
                ),
                opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
            )
            self.name = pulumi.Output.all(namespace.urn, args["name"]).apply(lambda both: both[1])
        self.register_outputs({"name": self.name, "created": args["create"], "protected": protect})
