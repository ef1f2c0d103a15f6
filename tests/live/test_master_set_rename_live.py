"""`sentinelMasterSet` changed on a running Sentinel set, live: the rollout stalls at its first
pod and the atomic release rolls back (`upgrade-fails`); nothing is lost.

Real redis-server and redis-sentinel (Debian's 7.0) on the program's ACL and Redis config, three
nodes and three Sentinels watching `mymaster` on node-0, plaintext. The `helm upgrade` to
another master set restarts the highest ordinal first (the StatefulSet's RollingUpdate); that
pod's processes go where the chart's start scripts, rendered for the renamed release and run
here up to their decision (tests/live/chart_scripts.py), send them:

- start-node.sh asks the Sentinel Service `get-master-addr-by-name <new set>`. The old Sentinels
  know only the old set and answer nil: redis-cli exits 0 with no output, so the script takes
  "Case 4: Active sentinel and master is not this node --> REPLICA" with an empty master host,
  and Redis starts as a replica of `"" ""` (it answers PING, so its container is Ready);
- start-sentinel.sh gets the same empty answer and exits 1 ("Redis master host is configured
  incorrectly"): the Sentinel container restarts forever and the pod is never Ready.

A StatefulSet's RollingUpdate does not go past a pod that is not Ready, so the release never
completes; helm's atomic upgrade (the Release's `atomic: true`, `timeout: 600`) then rolls back,
and the pod restarts with the old scripts. The WAS apps never see the new name: their
Deployments wait for the release (RedisSessionStore.connection). The apps keep writing to the
old master throughout."""
from __future__ import annotations

import signal
from pathlib import Path

from simulators import secure
from simulators.loopback import wait_until
from tests.live.chart_scripts import StartScripts, rendered_scripts
from tools.stackfile import load_settings

APP = "petclinic"
SETTINGS = {"redisTls": False, "wasApps": [{"name": APP, "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}],
            # what Debian's binaries are: each ACL file for its own process version
            "redisImageTag": "7.0.15-debian-12-r0", "sentinelImageTag": "7.0.15-debian-12-r0"}
NEW_SET = "sessions"
BATCH = 300


def test_master_set_rename_stalls_the_rollout_and_the_rollback_loses_nothing(procs, tmp_path: Path):
    settings = load_settings("prod", SETTINGS)
    s = settings.redis.sentinel
    assert s is not None and s.master_set != NEW_SET
    stack = secure.start(procs, settings, node_ips=True)
    writer = stack.writer(APP, stack.connect(APP))
    written = list(writer.create(BATCH))
    wait_until(stack.replicas_in_sync, 30, what="every replica at the master's offset")

    first = s.nodes - 1  # RollingUpdate: the highest ordinal restarts first
    node, old_sentinel = stack.nodes[first], stack.sentinels[first]
    node.kill(signal.SIGTERM)
    old_sentinel.kill(signal.SIGTERM)
    service = stack.sentinels[0].port  # the Sentinel Service: every Ready Sentinel is an old one
    renamed = StartScripts(rendered_scripts(tmp_path / "renamed", "prod", {**SETTINGS, "sentinelMasterSet": NEW_SET}),
                           tmp_path / "renamed")
    redis_side = renamed.answer(renamed.decide("start-node.sh", first, service))
    sentinel_side = renamed.answer(renamed.decide("start-sentinel.sh", first, service))
    log = "\n".join(renamed.log)
    assert (redis_side.rc, redis_side.mode, redis_side.host) == (0, "replica", ""), log
    assert sentinel_side.rc == 1 and "Redis master host is configured incorrectly" in log, log

    # The Redis container starts as the chart's args make it (`--replicaof "" ""`): up, Ready,
    # replicating from nothing, with the data of its own volume.
    node.conf["replicaof"] = '"" ""'
    node.start()
    info = node.client().info("replication")
    assert (info["role"], info["master_host"], info["master_link_status"]) == ("slave", "", "down"), info
    # The apps, not rolled, keep writing through the old Sentinels while the rollout waits.
    written += writer.create(BATCH)

    # The atomic rollback: the pod restarts with the old release's scripts.
    node.kill(signal.SIGTERM)
    old = StartScripts(rendered_scripts(tmp_path / "old", "prod", SETTINGS), tmp_path / "old")
    master = secure.node_ip(0)
    decided = [old.answer(old.decide(script, first, service)) for script in ("start-node.sh", "start-sentinel.sh")]
    assert [(d.rc, d.mode, d.host) for d in decided] == [(0, "replica", master)] * 2, "\n".join(old.log)
    node.conf["replicaof"] = f"{master} {stack.nodes[0].port}"
    node.start()
    stack.pod_sentinel(procs, f"sentinel-{first}-rolled-back", 0)
    wait_until(stack.replicas_in_sync, 30, what=f"node-{first} back in sync")
    reader = stack.writer(APP, stack.connect(APP, node=node))
    kept = sum(1 for sid in written if reader.read(sid))
    print(f"\nsentinelMasterSet {s.master_set} -> {NEW_SET} (Redis {'.'.join(map(str, stack.redis_version))}): "
          f"node-{first} a replica of no host, its Sentinel exits 1; after the rollback {kept}/{len(written)} "
          f"sessions on node-{first}")
    assert kept == len(written)
    assert stack.writer(APP, stack.connect(APP)).read(written[-1])  # the apps' master, as the Sentinels name it
