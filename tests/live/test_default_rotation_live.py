"""Rotating the chart-internal `default` password (docs/runbooks.md, "Change a running stack"),
live: a real redis-server on the program's ACL files, the real acl-reload sidecar script
(components/redis.py ACL_RELOAD_SCRIPT) and the chart's own liveness script
(ping_liveness_local.sh, rendered by `helm template` of the pinned chart from the program's
values), both reading the mounted password file as in the pod.

The file stands for the kubelet's copy of the password Secret: the kubelet swaps it in place
when the Secret changes, without restarting anything. What the ACL accepts in each phase
comes from the config model (RedisSettings.accepted_default_generations):

0. today's one-shot (the Secret changes, the ACL knows only the old password): the sidecar
   fails WRONGPASS and liveness fails, the failure the issue reproduced;
1. redisPasswordAlsoAccept=next: the ACL accepts generations 1 and 2; the file holds 1;
2. redisDefaultPasswordGeneration=2, alsoAccept=previous: the file holds 2 (kubelet swap)
   and the pod annotation rolls Redis, which restarts with --requirepass/--masterauth 2;
3. alsoAccept=none: only generation 2.
The sidecar and liveness stay green in 1-3."""
from __future__ import annotations

import os
import subprocess

from components.config import acl
from components.redis import ACL_RELOAD_SCRIPT, acl_reload_env
from render import chart_objects
from simulators import secure
from simulators.loopback import wait_until
from tests.harness import run_program
from tools.stackfile import load_settings

APP = {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}


def default_password(generation: int) -> str:
    return secure.DEFAULT_PASSWORD if generation == 1 else f"loopback-default-g{generation}-pw"


def liveness_script() -> str:
    """ping_liveness_local.sh as the pinned chart renders it for the dev stack's values."""
    run = run_program("dev")
    [release] = run.of_type("kubernetes:helm.sh/v3:Release")
    r = release.plain
    objects = chart_objects({k: r[k] for k in ("chart", "version", "name", "namespace")}, r["values"])
    [health] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-health")]
    return health["data"]["ping_liveness_local.sh"]


def write_acl(stack: secure.SecureStack, overrides: dict) -> tuple[int, ...]:
    """The program's ACL files for this phase's settings; returns the accepted default generations."""
    s = load_settings("dev", {"wasApps": [APP], **overrides}).redis
    generations = s.accepted_default_generations
    files = acl.acl_files([acl.password_hash(default_password(g)) for g in generations],
                          {a.app: [acl.password_hash(secure.client_password(a.app))] for a in stack.apps},
                          [acl.password_hash(secure.client_password("exporter"))], stack.apps, stack.redis_version,
                          stack.sentinel_version)
    for name, text in files.items():
        (stack.acl_dir / name).write_text(text)
    return generations


def test_default_password_rotation_keeps_sidecar_and_liveness_green(procs):
    stack = secure.start(procs, load_settings("dev", {"wasApps": [APP]}), sentinel=False)
    node = stack.nodes[0]
    password_file = procs.workdir / "redis-password"
    password_file.write_text(default_password(1))
    probe = procs.workdir / "ping_liveness_local.sh"
    probe.write_text(liveness_script())

    def liveness(password_path=password_file) -> tuple[int, str]:
        env = {**os.environ, "REDIS_PASSWORD_FILE": str(password_path), "REDIS_PORT": str(node.port)}
        p = subprocess.run(["bash", str(probe), "5"], env=env, capture_output=True, text=True, timeout=20)
        return p.returncode, (p.stdout + p.stderr).strip()

    env = acl_reload_env([node.port], False, acl_dir=str(stack.acl_dir), password_file=str(password_file),
                         interval=1, heartbeat=str(procs.workdir / "alive"))
    reloader = procs.start("acl-reload", ["bash", "-c", ACL_RELOAD_SCRIPT], env={**os.environ, **env})
    wait_until(lambda: "loaded digest=" in reloader.tail(), 15, what="the sidecar's first load", procs=(reloader,))
    assert liveness() == (0, "")

    def loads() -> int:
        return reloader.tail(10_000).count("loaded digest=")

    def failures() -> int:
        return reloader.tail(10_000).count("acl-reload: port")

    # 0. the one-shot the runbook used to describe: a new password the running Redis does not know
    new_only = procs.workdir / "one-shot-password"
    new_only.write_text(default_password(2))
    code, out = liveness(new_only)
    assert code != 0 and ("WRONGPASS" in out or "NOAUTH" in out), (code, out)

    # 1. next: the ACL learns generation 2, the file still holds 1
    before = loads()
    assert write_acl(stack, {"redisPasswordAlsoAccept": "next"}) == (1, 2)
    wait_until(lambda: loads() > before, 15, what="the sidecar loads phase 1", procs=(reloader,))
    assert liveness() == (0, "")

    # 2. switch: the kubelet swaps the file, then the annotation rolls Redis (restart with generation 2)
    phase2 = {"redisDefaultPasswordGeneration": 2, "redisPasswordAlsoAccept": "previous"}
    password_file.write_text(default_password(2))  # first: the sidecar's next load must use generation 2
    before = loads()
    assert write_acl(stack, phase2) == (2, 1)
    wait_until(lambda: loads() > before, 15, what="the sidecar loads phase 2 with the new password",
               procs=(reloader,))
    assert liveness() == (0, "")
    node.password = default_password(2)
    node.restart({"requirepass": node.password, "masterauth": node.password})
    assert liveness() == (0, "")

    # 3. retire generation 1
    before = loads()
    assert write_acl(stack, {"redisDefaultPasswordGeneration": 2}) == (2,)
    wait_until(lambda: loads() > before, 15, what="the sidecar loads phase 3", procs=(reloader,))
    assert liveness() == (0, "")
    code, out = liveness(procs.workdir / "one-shot-password")  # generation 2: still fine
    assert code == 0
    old = procs.workdir / "old-password"
    old.write_text(default_password(1))
    assert liveness(old)[0] != 0, "generation 1 still accepted after phase 3"
    heartbeat_age = int(subprocess.run(["date", "+%s"], capture_output=True, text=True).stdout) - \
        int((procs.workdir / "alive").read_text())
    print(f"\ndefault rotation: sidecar loads={loads()} failed loads={failures()} heartbeat age={heartbeat_age}s, "
          f"liveness green in phases 1-3 (Redis {'.'.join(map(str, stack.redis_version))})")
    assert failures() == 0, reloader.tail(20)
    assert heartbeat_age < 6 * 1  # the sidecar's own liveness: heartbeat younger than 6 intervals
