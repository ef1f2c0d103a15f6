"""Standalone to Sentinel without losing a session (docs/runbooks.md, "Change a running stack",
steps 2-4), live: the old standalone Redis and the new Sentinel topology run side by side on
the program's ACL files and Redis config; the new nodes replicate from the old master while a
Spring Session writer keeps creating sessions on it; the writer then moves to the new master
(asked from the new Sentinels, as Lettuce does), which is promoted with SLAVEOF NO ONE (the
command the `default` user may run). Every session created on the old store is read back by
its id from the new one (count before/after)."""
from __future__ import annotations

from components.config import names
from simulators import secure
from simulators.loopback import HOST, Redis, Sentinel, wait_until
from simulators.stack import redis_conf
from tools.stackfile import load_settings

APP = {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}
BEFORE = 2000
BATCHES = 20


def test_standalone_to_sentinel_keeps_every_session(procs):
    old = secure.start(procs, load_settings("dev", {"wasApps": [APP]}), sentinel=False)
    writer = old.writer(APP["name"], old.connect(APP["name"]))
    ids = list(writer.create(BEFORE))

    new_settings = load_settings("dev", {"wasApps": [APP], "redisTopology": "sentinel"})
    conf = {**redis_conf(new_settings, str(old.acl_dir / names.REDIS_ACL_FILE)), **secure.FAST}
    # both stacks share the `default` password for the migration (masterauth of the new nodes)
    primary = Redis(procs, "new-0", secure.DEFAULT_PASSWORD, {**conf, "replicaof": f"{HOST} {old.nodes[0].port}"})
    nodes = [primary.start()]
    for i in (1, 2):
        nodes.append(Redis(procs, f"new-{i}", secure.DEFAULT_PASSWORD,
                           {**conf, "replicaof": f"{HOST} {primary.port}"}).start())

    def synced() -> bool:
        return all(n.client().info("replication")["master_link_status"] == "up" for n in nodes)

    # writes go on while the new nodes sync
    batches = 0
    while batches < BATCHES:
        ids += writer.create(50)
        batches += 1
    wait_until(synced, 60, what="the new nodes replicating from the old master")
    writer.client.close()  # clients move: the old store takes no more writes
    old_master = old.nodes[0].client()
    wait_until(lambda: old_master.info("replication")["connected_slaves"] == 1
               and primary.client().info("replication")["master_repl_offset"]
               == old_master.info("replication")["master_repl_offset"],
               30, what="the new primary caught up with the old master's offset")
    sessions_before = len(ids)

    assert primary.client().slaveof()  # SLAVEOF NO ONE
    s = new_settings.redis.sentinel
    sentinels = [Sentinel(procs, f"sentinel-{i}", secure.DEFAULT_PASSWORD, primary, s.master_set, s.quorum,
                          s.down_after_ms, s.failover_timeout_ms,
                          f"aclfile {old.acl_dir / names.SENTINEL_ACL_FILE}\n").start() for i in range(3)]
    wait_until(lambda: primary.client().info("replication")["connected_slaves"] == 2, 30,
               what="both new replicas on the new primary")
    new = secure.SecureStack(new_settings, nodes, sentinels, old.acl_dir, old.apps, old.redis_version,
                             old.sentinel_version)
    client = wait_until(lambda: new.connect(APP["name"]), 30,  # master address from the Sentinels, as the app
                        what="the app finds the new master through the Sentinels")
    assert client.get_connection_kwargs()["port"] == primary.port
    reader = new.writer(APP["name"], client)
    kept = sum(1 for sid in ids if reader.read(sid))
    print(f"\nmigration standalone->sentinel: sessions before={sessions_before} after={kept} "
          f"(written during the sync: {BATCHES * 50}; Redis {'.'.join(map(str, old.redis_version))})")
    assert kept == sessions_before == BEFORE + BATCHES * 50
    assert len(reader.create(1)) == 1  # and the new master takes writes
