"""Pod Security "restricted" contexts, written once for every container we configure
(our Deployments and the Bitnami chart's values)."""
from __future__ import annotations

# One high UID/GID per workload (checkov CKV_K8S_40 wants >= 10000: no clash with host
# users). Bitnami images run as any non-root UID; what Redis writes is /data (the PVC,
# group-owned by fsGroup through the kubelet) and emptyDirs (world-writable), so the
# chart's default 1001 buys nothing. tests/live/test_volume_permissions_live.py shows it.
WAS_UID = 10001
REDIS_UID = 10002
EXPORTER_UID = 59000  # oliver006/redis_exporter's own non-root user
# Pod Security Standards, restricted, "Volume Types": the only volume types allowed.
RESTRICTED_VOLUME_TYPES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret")


def restricted_container(uid: int | None = None) -> dict:
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
