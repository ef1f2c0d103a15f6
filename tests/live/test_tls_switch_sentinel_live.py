"""What the one-shot `redisTls` switch (and a CA renewal) does to a Sentinel topology, live: the
writes acknowledged during the Redis rollout are lost (the impact is `sessions-lost`, not a
failover); with the writers stopped first (docs/runbooks.md, "Switch TLS on or off") nothing is.

Real redis-server and redis-sentinel (Debian's 7.0) on the program's ACL and Redis config,
three nodes and three Sentinels, the master node-0, plaintext; then the `helm upgrade` with
tls.enabled, as the StatefulSet's RollingUpdate applies it: one pod at a time, highest ordinal
first, each pod's Redis and Sentinel restarting TLS-only on the same ports and volume (AOF).
Where each restarted process goes is decided by the chart's own start scripts, rendered for
the TLS release and run here (tests/live/chart_scripts.py), up to their decision:

- start-node.sh asks "the Sentinel Service" over TLS (`get_sentinel_master_info`, retried
  twice); when no Sentinel answers it has no sentinel.conf to fall back on (the `sentinel-data`
  volume is an emptyDir: sentinel.persistence.enabled is false), so "Case 1: No active sentinel
  ... --> MASTER": the node becomes a master of its own;
- start-sentinel.sh, the same query, falls back to monitoring its own node.

Here the Service is taken to route each query to a Sentinel that already speaks TLS whenever
one exists (the best case for the chart; kube-proxy picks at random). The WAS app keeps
writing in plaintext to the master the old Sentinels name, as it does until its own rollout,
which starts only after the release."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from simulators import certs, secure
from simulators.loopback import Sentinel, tls_conf, wait_until
from tests.live.chart_scripts import Decision, StartScripts, rendered_scripts
from tools.stackfile import load_settings

APP = "petclinic"
SETTINGS = {"redisTls": False, "wasApps": [{"name": APP, "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}],
            # what Debian's binaries are: each ACL file for its own process version
            "redisImageTag": "7.0.15-debian-12-r0", "sentinelImageTag": "7.0.15-debian-12-r0"}
BATCH = 300


class Rollout:
    """The StatefulSet's pods restarted into the TLS release one at a time; each restarted pod's
    Redis and Sentinel go where the chart's start scripts decide."""

    def __init__(self, procs, tmp_path: Path, before_tls: bool = False):
        """From plaintext, or (`before_tls`) from TLS under another CA: a CA renewal."""
        self.procs = procs
        self.settings = load_settings("prod", {**SETTINGS, "redisTls": before_tls})
        self.stack = secure.start(procs, self.settings, tls=before_tls, node_ips=True)
        self.s = self.settings.redis.sentinel
        self.server, self.clients = certs.issue(procs.workdir / "certs-after",
                                                [secure.node_ip(i) for i in range(self.s.nodes)],
                                                [a.user for a in self.stack.apps])
        self.pod = StartScripts(rendered_scripts(tmp_path, "prod", {**SETTINGS, "redisTls": True}), tmp_path,
                                self.server)
        self.old = dict(enumerate(self.stack.sentinels))  # the old pods' Sentinels, still Ready
        self.tls_sentinels: dict[int, Sentinel] = {}
        self.decided: dict[int, tuple[str, int]] = {}
        self.restarts = 0

    def restart(self, i: int, route: int | None = None) -> None:
        """Pod i restarts (or is deleted and recreated) in the TLS release. The Sentinel Service
        routes its queries to the Sentinel of pod `route`, or to a TLS Sentinel if one is Ready
        (else to an old one)."""
        node = self.stack.nodes[i]
        node.kill(signal.SIGTERM)  # graceful: the AOF is flushed to the pod's volume
        (self.old.pop(i, None) or self.tls_sentinels.pop(i)).kill(signal.SIGTERM)  # the pod's Sentinel with it
        ready = {**self.old, **self.tls_sentinels}
        port = ready[route].port if route is not None else \
            (list(self.tls_sentinels.values()) or list(self.old.values()))[0].port
        node_p, sentinel_p = self.pod.decide("start-node.sh", i, port), self.pod.decide("start-sentinel.sh", i, port)
        mode, master = self.decided[i] = self.where(self.pod.answer(node_p))
        _, monitored = self.where(self.pod.answer(sentinel_p))
        node.conf.update(tls_conf(node.port, self.server))
        node.conf.pop("replicaof", None)
        if mode == "replica":
            node.conf["replicaof"] = f"{secure.node_ip(master)} {self.stack.nodes[master].port}"
        node.tls = self.server
        node.start()
        self.restarts += 1
        self.tls_sentinels[i] = self.stack.pod_sentinel(self.procs, f"sentinel-{i}-tls-{self.restarts}", monitored,
                                                        tls=self.server)

    def where(self, d: Decision) -> tuple[str, int]:
        """(mode, the master's node number): the master's host is a node's name (its loopback
        address); the port a script falls back on is the chart's 6379, every pod's port in a
        cluster, which here is each node's own."""
        assert d.rc == 0, "\n".join(self.pod.log)
        return d.mode, [secure.node_ip(k) for k in range(self.s.nodes)].index(d.host)

    def replicas_in_sync(self) -> None:
        """Every replica at the master's replication offset (the runbook's step 2; before a
        rollout, the long-replicated state of a running stack)."""
        wait_until(self.stack.replicas_in_sync, 30, what="every replica at the master's offset")

    def masters_named(self) -> set[str]:
        """What every Sentinel answers to `sentinel get-master-addr-by-name` (the runbook's check)."""
        answers = set()
        for x in self.tls_sentinels.values():
            with x.client() as c:
                host, port = c.sentinel_get_master_addr_by_name(self.s.master_set)
                answers.add(f"{host}:{port}")
        return answers

    def after(self) -> secure.SecureStack:
        """The stack as the apps see it once they rolled to TLS."""
        st = self.stack
        return secure.SecureStack(self.settings, st.nodes, list(self.tls_sentinels.values()), st.acl_dir, st.apps,
                                  st.redis_version, st.sentinel_version, self.server, self.clients)

    def kept(self, written: dict[str, list[str]], master: int) -> dict[str, int]:
        """Sessions of each phase the app reads back through the TLS Sentinels, once the
        replicas of `master` are in sync."""
        after = self.after()
        reader = after.writer(APP, wait_until(lambda: after.connect(APP), 30, what="the app through the TLS Sentinels"))
        wait_until(lambda: all(n.client().info("replication")["master_link_status"] == "up"
                               for i, n in enumerate(self.stack.nodes) if i != master), 30, what="the replicas in sync")
        kept = {phase: sum(1 for sid in ids if reader.read(sid)) for phase, ids in written.items()}
        print(f"\nTLS switch, sentinel topology (Redis {'.'.join(map(str, self.stack.redis_version))}): "
              + "; ".join(f"{phase}: {kept[phase]}/{len(ids)} kept" for phase, ids in written.items()))
        return kept


@pytest.mark.parametrize("before_tls", [False, True], ids=["redisTls-on", "ca-renewal"])
def test_one_shot_switch_splits_the_sentinel_set_and_loses_acknowledged_writes(procs, tmp_path, before_tls):
    """redisTls false -> true, or a CA renewal (every certificate re-signed by a new CA): either
    way a restarted pod cannot talk to the old pods' Sentinels."""
    r = Rollout(procs, tmp_path, before_tls)
    writer = r.stack.writer(APP, r.stack.connect(APP))
    written = {"before the rollout": list(writer.create(BATCH))}
    r.replicas_in_sync()
    first = r.s.nodes - 1
    for i in reversed(range(r.s.nodes)):  # RollingUpdate: highest ordinal first, one pod at a time
        r.restart(i)
        if i == first:  # the app, still plaintext, writes to the master the old Sentinels name
            written[f"after node-{i} restarted"] = list(writer.create(BATCH))
    # The first restarted node found no Sentinel speaking TLS: a master of its own.
    assert r.decided == {first: ("master", first), **{i: ("replica", first) for i in range(first)}}, \
        f"{r.decided}\n" + "\n".join(r.pod.log)
    # What that node had is kept; what the app wrote after (acknowledged by the old master) is
    # gone: the old master rejoined as a replica of that node and resynced.
    assert r.kept(written, first) == {"before the rollout": BATCH, f"after node-{first} restarted": 0}


def test_tls_switch_with_the_writers_stopped_keeps_every_session_once_the_split_is_mended(procs, tmp_path):
    """docs/runbooks.md, "Switch TLS on or off", sentinel topology: the apps scaled to 0, the
    replicas in sync, the one-shot up; a node whose query reached an old Sentinel (the
    Service routes at random) is a master of its own, which the check (every Sentinel names
    one master) shows; deleting that pod mends it."""
    r = Rollout(procs, tmp_path)
    writer = r.stack.writer(APP, r.stack.connect(APP))
    written = {"before the rollout": list(writer.create(BATCH))}
    writer.client.close()  # kubectl scale --replicas=0: no writer is left
    r.replicas_in_sync()
    first = r.s.nodes - 1
    r.restart(first)
    r.restart(1, route=0)  # this pod's queries reach node-0's old Sentinel: a master of its own too
    r.restart(0)
    assert r.decided == {first: ("master", first), 1: ("master", 1), 0: ("replica", first)}, "\n".join(r.pod.log)
    assert len(r.masters_named()) == 2, f"{r.decided} {r.masters_named()}\n" + "\n".join(r.pod.log)
    r.restart(1, route=first)  # kubectl delete pod <release>-node-1
    assert r.decided[1] == ("replica", first), "\n".join(r.pod.log)
    assert r.masters_named() == {f"{secure.node_ip(first)}:{r.stack.nodes[first].port}"}
    assert r.kept(written, first) == {"before the rollout": BATCH}
