"""`redisMaxmemory` lowered on a running stack, live: a node that restarts holding more than the
new maxmemory evicts sessions from its first command, a read included; one holding less keeps
every session. What render/impact.py says of a lower maxmemory (sessions-lost, conditional) and
docs/runbooks.md's check before the change ("Lower the maxmemory").

Debian's redis-server 7.0 with the program's Redis config (simulators/stack.redis_conf: AOF,
maxmemory-policy volatile-ttl, the ACL); the node restarts as the chart's pod does, on its own
volume with the new config. Redis loads the AOF whatever maxmemory says; evictions run before
each command (server.c `processCommand` calls `performEvictions` when maxmemory is set).
Spring Session gives every session key a TTL, so every session is a volatile-* candidate."""
from __future__ import annotations

import signal

import pytest

from simulators import secure
from simulators.spring_session import SessionWriter
from simulators.stack import redis_conf
from tools.stackfile import load_settings

APP = "petclinic"
SESSIONS = 3000
PAYLOAD = 4096
"""~12 MB of sessions: well above the lowered maxmemory, well below the original."""
BASE = {"redisMaxmemory": "64mb", "redisMemory": "256Mi", "expectedPeakSessions": 1000, "sessionPayloadBytes": 1024,
        "wasApps": [{"name": APP, "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}]}


@pytest.mark.parametrize("lowered,evicts", [("8mb", True), ("32mb", False)], ids=["below-the-data", "above-the-data"])
def test_a_node_restarted_with_a_lower_maxmemory_evicts_the_sessions_above_it(procs, lowered, evicts):
    settings = load_settings("dev", BASE)
    stack = secure.start(procs, settings, sentinel=False)
    store = stack.apps[0]
    writer = SessionWriter(stack.connect(APP), store.namespace, store.repository_type,
                           settings.was_apps[0].session_timeout_seconds, payload_bytes=PAYLOAD,
                           database=store.database)
    written = writer.create(SESSIONS)
    node = stack.nodes[0]
    used = node.client().info("memory")["used_memory"]

    node.kill(signal.SIGTERM)  # the pod's graceful stop: the AOF is complete on the volume
    after = load_settings("dev", {**BASE, "redisMaxmemory": lowered, "expectedPeakSessions": 100})
    node.conf["maxmemory"] = redis_conf(after)["maxmemory"]
    node.start()
    reader = SessionWriter(stack.connect(APP), store.namespace, store.repository_type,
                           settings.was_apps[0].session_timeout_seconds, database=store.database)
    first = bool(reader.read(written[0]))  # the first command after the restart: a read
    kept = sum(1 for sid in written if reader.read(sid))
    stats, memory = node.client().info("stats"), node.client().info("memory")
    print(f"\nmaxmemory {BASE['redisMaxmemory']} -> {lowered} with {used / 2**20:.1f} MiB used (Redis "
          f"{'.'.join(map(str, stack.redis_version))}): {kept}/{SESSIONS} sessions kept, "
          f"{stats['evicted_keys']} keys evicted, used_memory {memory['used_memory'] / 2**20:.1f} MiB")
    assert (used > memory["maxmemory"]) is evicts
    if evicts:
        assert stats["evicted_keys"] > 0 and kept < SESSIONS and memory["used_memory"] <= memory["maxmemory"]
    else:
        assert (stats["evicted_keys"], kept, first) == (0, SESSIONS, True)
