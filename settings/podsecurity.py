"""Pod Security "restricted" contexts, written once for every container we configure
(our Deployments and the Bitnami chart's values)."""
from __future__ import annotations

from typing import Optional


def restricted_container(uid: Optional[int] = None) -> dict:
    """Container securityContext meeting PSS restricted, with a read-only root filesystem."""
    ctx = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if uid is not None:
        ctx.update(runAsUser=uid, runAsGroup=uid)
    return ctx
