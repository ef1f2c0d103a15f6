"""Rotating the chart-internal `default` password in sentinel topology, live: the runbook's phases
keep every node and Sentinel talking and every session; the one-shot (no `next` phase) makes the
first restarted pod crash-loop, so its rollout stalls and the atomic release rolls back.

Real redis-server and redis-sentinel (Debian's 7.0) on the program's ACL files (the `default`
user accepting the generations of each phase: components/config/acl.py `acl_files`), three nodes
and three Sentinels watching node-0, plaintext. The new generation reaches a pod as its mounted
password file; the pods roll one at a time, highest ordinal first, and each restarted pod's
processes go where the chart's start scripts, run with that file, send them
(tests/live/chart_scripts.py):

- with the phases (docs/runbooks.md, "Rotate the default password"), the running Sentinels
  already accept the new password (the acl-reload sidecar's `ACL LOAD`), so the query succeeds;
- without them, the running Sentinels refuse it and redis-cli still exits 0, printing the error
  reply where the address should be (redis-cli returns Redis' error replies with status 0 unless
  given -e: redis/redis#8136 kept that default). start-node.sh and start-sentinel.sh read
  "NOAUTH Authentication required." as host `NOAUTH`, port `Authentication`: Redis stops at
  "Invalid master port", Sentinel at "Can't resolve instance hostname"."""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from simulators import secure
from simulators.loopback import Sentinel, wait_until
from tests.live.chart_scripts import StartScripts, rendered_scripts
from tools.stackfile import load_settings

APP = "petclinic"
SETTINGS = {"redisTls": False, "wasApps": [{"name": APP, "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}],
            # what Debian's binaries are: each ACL file for its own process version
            "redisImageTag": "7.0.15-debian-12-r0", "sentinelImageTag": "7.0.15-debian-12-r0"}
NEXT = "loopback-default-g2-pw"
"""Generation 2 of the `default` password."""
BATCH = 300
CLIENTS = {APP: [1], "exporter": [1]}
"""The clients' own passwords stay at generation 1: only `default` rotates."""


def decisions(stack_tmp: Path, i: int, service: int, password: str) -> tuple[list[tuple[int, str, str]], str]:
    """Pod i's start scripts run with `password` in its password file, the Sentinel Service
    routed to port `service`: [(status, mode, host) of start-node.sh, of start-sentinel.sh], their log."""
    pod = StartScripts(rendered_scripts(stack_tmp, "prod", {**SETTINGS, "redisDefaultPasswordGeneration": 2}),
                       stack_tmp, password=password)
    found = [pod.answer(pod.decide(script, i, service)) for script in ("start-node.sh", "start-sentinel.sh")]
    return [(d.rc, d.mode, d.host) for d in found], "\n".join(pod.log)


def rejoin(procs, stack: secure.SecureStack, i: int, password: str) -> None:
    """Pod i's Redis and Sentinel start with `password`, as the scripts decided: node-0 the
    master, the others its replicas."""
    node, master = stack.nodes[i], secure.node_ip(0)
    node.password = password
    node.conf.update(requirepass=password, masterauth=password)
    if i:
        node.conf["replicaof"] = f"{master} {stack.nodes[0].port}"
    node.start()
    generation = 2 if password == NEXT else 1
    stack.sentinels[i] = stack.pod_sentinel(procs, f"sentinel-{i}-g{generation}", 0, password)


def stop(stack: secure.SecureStack, i: int) -> None:
    """Pod i goes down: its Redis (AOF flushed) and its Sentinel."""
    stack.nodes[i].kill(signal.SIGTERM)
    stack.sentinels[i].kill(signal.SIGTERM)


def test_the_one_shot_crash_loops_a_pod_and_the_phases_keep_the_sentinel_set_together(procs, tmp_path):
    stack = secure.start(procs, load_settings("prod", SETTINGS), node_ips=True)
    s = stack.settings.redis.sentinel  # type: ignore[attr-defined]
    written = stack.writer(APP, stack.connect(APP)).create(BATCH)
    wait_until(stack.replicas_in_sync, 30, what="every replica at the master's offset")
    master, first = secure.node_ip(0), s.nodes - 1

    # The one-shot: generation 2 in the file, the running processes know only generation 1.
    stop(stack, first)
    found, log = decisions(tmp_path / "one-shot", first, stack.sentinels[0].port, NEXT)
    assert "WRONGPASS" in log and found == [(0, "replica", "NOAUTH")] * 2, log
    # what the chart then runs: `--replicaof NOAUTH Authentication`, `sentinel monitor <set> NOAUTH Authentication`
    redis = subprocess.run(["redis-server", "--port", "0", "--replicaof", "NOAUTH", "Authentication"],
                           capture_output=True, text=True, timeout=10)
    conf = tmp_path / "sentinel.conf"
    conf.write_text("port 0\nsentinel monitor mymaster NOAUTH Authentication 2\n")
    sentinel = subprocess.run(["redis-sentinel", str(conf)], capture_output=True, text=True, timeout=10)
    assert redis.returncode != 0 and "Invalid master port" in redis.stdout + redis.stderr
    assert sentinel.returncode != 0 and "Can't resolve instance hostname" in sentinel.stdout + sentinel.stderr
    written += stack.writer(APP, stack.connect(APP)).create(BATCH)  # the stalled rollout: the apps write on
    # The atomic rollback: the pod restarts with generation 1 and rejoins.
    found, log = decisions(tmp_path / "rollback", first, stack.sentinels[0].port, secure.DEFAULT_PASSWORD)
    assert found == [(0, "replica", master)] * 2, log
    rejoin(procs, stack, first, secure.DEFAULT_PASSWORD)

    # Phase 1, redisPasswordAlsoAccept=next: the ACL Secret accepts both; each pod's acl-reload
    # sidecar loads it into its Redis and its Sentinel with the password it holds (generation 1).
    stack.write_acl(CLIENTS, defaults=(secure.DEFAULT_PASSWORD, NEXT))
    for process in [*stack.nodes, *stack.sentinels]:
        assert process.client().acl_load()
    # Phase 2, redisDefaultPasswordGeneration=2 (alsoAccept=previous): the same two accepted, the
    # new one first; the pods roll with generation 2 in their password file.
    stack.write_acl(CLIENTS, defaults=(NEXT, secure.DEFAULT_PASSWORD))
    for i in reversed(range(s.nodes)):
        service = stack.sentinels[0 if i else first].port  # node-2 and node-1 ask an old Sentinel, node-0 a new one
        stop(stack, i)
        found, log = decisions(tmp_path / f"phase-2-{i}", i, service, NEXT)
        assert found == [(0, "replica" if i else "master", master)] * 2, log  # node-0 is the master they name
        rejoin(procs, stack, i, NEXT)
        if i == first:  # the apps, not rolled (their own passwords did not change), keep writing
            written += stack.writer(APP, stack.connect(APP, node=stack.nodes[0])).create(BATCH)
    wait_until(stack.replicas_in_sync, 30, what="every replica back in sync under generation 2")

    def replicas_seen(x: Sentinel) -> int:  # the new Sentinels log in to every node with generation 2
        with stack.exporter_client(x) as c:  # asked as the exporter: `default` may not list replicas
            return sum(1 for r in c.sentinel_slaves(s.master_set) if not r["is_sdown"])
    wait_until(lambda: all(replicas_seen(x) == s.nodes - 1 for x in stack.sentinels), 30,
               what="Sentinels see the replicas")
    for x in stack.sentinels:
        with x.client() as c:
            assert c.sentinel_get_master_addr_by_name(s.master_set) == (master, stack.nodes[0].port)
    reader = stack.writer(APP, stack.connect(APP, node=stack.nodes[-1]))  # a replica
    kept = sum(1 for sid in written if reader.read(sid))
    print(f"\ndefault password rotation, sentinel topology (Redis {'.'.join(map(str, stack.redis_version))}): "
          f"one-shot: node-{first}'s scripts read NOAUTH as the master; phases: every restarted pod a replica of "
          f"node-0 or node-0 itself, {kept}/{len(written)} sessions on a replica")
    assert kept == len(written)
