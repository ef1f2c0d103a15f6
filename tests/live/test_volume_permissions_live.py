"""Incident 1 ("Can't open and lock config file: Permission denied" on the PV), replayed
with the real redis-server and what the kubelet really does to a volume, using the
security contexts and Redis config of the pinned chart as rendered (helm template):

- a fresh volume root is root:root 0755; without fsGroup the non-root Redis cannot write
  its AOF there (the incident);
- with the pod's fsGroup the kubelet chowns the volume to that group and makes it
  group-writable (k8s pkg/volume/volume_linux.go, changeFilePermission: Lchown(-1,
  fsGroup), chmod |= 0660, directories also |= setgid and 0110), and adds fsGroup to every
  container's supplementary groups (pkg/kubelet/kuberuntime/security_context.go,
  determineEffectiveSecurityContext): the high UID 10002 then writes, rewrites and
  reloads its AOF;
- OnRootMismatch skips the walk when the root already has the fsGroup and the group rw +
  setgid bits (volume_linux.go, skipPermissionChange / requiresPermissionChange): true
  after Redis wrote there, so restarts do no recursive chown.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from render import render_stack
from simulators.loopback import HOST, connect, free_port, wait_until
from tests.tools import _missing, require_helm

RW_MASK, EXEC_MASK = 0o660, 0o110


def change_file_permission(path: Path, fs_group: int) -> None:
    """kubelet's changeFilePermission for a read-write volume."""
    os.lchown(path, -1, fs_group)
    if path.is_symlink():
        return
    mode = path.stat().st_mode
    mask = RW_MASK | ((stat.S_ISGID | EXEC_MASK) if path.is_dir() else 0)
    os.chmod(path, stat.S_IMODE(mode) | mask)


def set_volume_ownership(root: Path, fs_group: int, policy: str) -> bool:
    """SetVolumeOwnership: walk and change, unless OnRootMismatch finds the root fine.
    Returns whether it walked."""
    if policy == "OnRootMismatch" and not requires_permission_change(root, fs_group):
        return False
    for path in [root, *root.rglob("*")]:
        change_file_permission(path, fs_group)
    return True


def requires_permission_change(root: Path, fs_group: int) -> bool:
    """requiresPermissionChange: the root's gid, group rw bits, and setgid on a directory."""
    st = root.stat()
    if st.st_gid != fs_group:
        return True
    if st.st_mode & RW_MASK != RW_MASK:
        return True
    return not st.st_mode & stat.S_ISGID


@pytest.fixture(scope="module")
def chart_pod(tmp_path_factory):
    """Security contexts, data mount and redis.conf of the chart's Redis pod (dev)."""
    require_helm()
    out = tmp_path_factory.mktemp("render") / "dev"
    render_stack("dev", out)
    [sts] = [yaml.safe_load(p.read_text()) for p in (out / "helm-redis").glob("statefulset-*.yaml")]
    spec = sts["spec"]["template"]["spec"]
    [redis] = [c for c in spec["containers"] if c["name"] == "redis"]
    [data] = [m["mountPath"] for m in redis["volumeMounts"] if m["name"] == "redis-data"]
    conf = yaml.safe_load((out / "helm-redis" / "configmap-redis-configuration.yaml").read_text())["data"]["redis.conf"]
    # The ACL file (a Secret in the pod) is judged in test_security_live.py; here only the volume.
    conf = "\n".join(line for line in conf.splitlines() if not line.startswith("aclfile "))
    return spec["securityContext"], redis["securityContext"], data, conf


def start_redis(workdir: Path, volume: Path, conf_text: str, uid: int, gid: int, groups: list[int]):
    conf = workdir / "redis.conf"
    port = free_port()
    conf.write_text(conf_text + f"\nbind {HOST}\nport {port}\ndir {volume}\nprotected-mode no\n")
    os.chmod(workdir, 0o755)
    os.chmod(conf, 0o644)
    log = (workdir / "redis.log").open("wb")
    args = ["setpriv", f"--reuid={uid}", f"--regid={gid}"]
    args += [f"--groups={','.join(map(str, groups))}"] if groups else ["--clear-groups"]
    proc = subprocess.Popen([*args, shutil.which("redis-server"), str(conf)], stdout=log, stderr=subprocess.STDOUT)
    return proc, port


@pytest.fixture
def node_dir():
    """A work folder the non-root UID can traverse (pytest's tmp_path lives under a 0700
    folder), as the kubelet's pod folders are; removed afterwards."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("redis-server"):
        _missing(["root with setpriv and redis-server (to own a volume as the kubelet does)"])
    path = Path(tempfile.mkdtemp(prefix="kubelet-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def fresh_volume(tmp_path: Path) -> Path:
    volume = tmp_path / "pv"
    volume.mkdir()
    os.chown(volume, 0, 0)
    os.chmod(volume, 0o755)  # what a new filesystem's root looks like
    return volume


def test_without_fs_group_the_non_root_redis_cannot_write_its_volume(node_dir, chart_pod):
    tmp_path = node_dir
    _, container, _, conf = chart_pod
    volume = fresh_volume(tmp_path)
    proc, _ = start_redis(tmp_path, volume, conf, container["runAsUser"], container["runAsGroup"], [])
    try:
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "redis.log").read_text()
    assert proc.returncode != 0 and "Can't open or create append-only dir appendonlydir: Permission denied" in log, log[-500:]


def test_with_the_charts_fs_group_the_high_uid_writes_and_reloads_its_aof(node_dir, chart_pod):
    tmp_path = node_dir
    pod, container, _, conf = chart_pod
    uid, gid, fs_group = container["runAsUser"], container["runAsGroup"], pod["fsGroup"]
    assert uid >= 10000 and fs_group >= 10000 and "appendonly yes" in conf
    volume = fresh_volume(tmp_path)
    assert set_volume_ownership(volume, fs_group, pod["fsGroupChangePolicy"]) is True
    for run in range(2):
        proc, port = start_redis(tmp_path, volume, conf, uid, gid, [fs_group])
        try:
            wait_until(lambda: connect(HOST, port).ping(), 10, what="redis up")
            with connect(HOST, port) as c:
                if run == 0:
                    c.execute_command("SET", "spring:session:sessions:s1", "v")
                    c.execute_command("BGREWRITEAOF")
                    wait_until(lambda: c.info("persistence")["aof_rewrite_in_progress"] == 0, 10,
                               what="AOF rewrite done")
                else:  # the restart reloaded the AOF it wrote as a non-root user
                    assert c.execute_command("GET", "spring:session:sessions:s1") == "v"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        files = list(volume.rglob("*"))
        assert files and all(f.stat().st_uid == uid and f.stat().st_gid == fs_group for f in files)
        # OnRootMismatch: nothing to walk on the next start
        assert set_volume_ownership(volume, fs_group, pod["fsGroupChangePolicy"]) is False
