"""Measure 4: Sentinel failover with the prod stack's settings, with min-replicas-to-write
on (the prod default, sentinelMinReplicasToWrite=1, max lag 10 s) and off (0), for two
faults of the master:

- kill: SIGKILL of the master process;
- partition: the master is cut off from the replicas and the Sentinels (a black-holing
  relay sits on every replica's and Sentinel's link to it) while a client on its side of
  the partition keeps its connection and keeps writing.

A Sentinel-aware writer saves a session every few ms and reconnects through Sentinel on
any error (as Lettuce does). Measured: time from the fault until a write is acknowledged
by the new master, the writes the old master acknowledged after the fault, and the
acknowledged sessions missing from the final master (lost)."""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from simulators.loopback import HOST, Link, Processes, Redis, Sentinel, connect, master_from_sentinels, wait_until
from simulators.spring_session import SessionWriter, pipeline
from simulators.stack import PASSWORD, redis_conf
from tools.stackfile import load_settings

FAST = {"repl-diskless-sync-delay": "0"}  # loopback: no 5 s wait before the first full sync


class Writer(threading.Thread):
    """Writes sessions through Sentinel discovery, as Lettuce does; records (time, id, port)
    of every acknowledged write. `via` maps the address Sentinel gives for the old master
    (its relay) to the master itself: the writer sits on the master's side."""

    def __init__(self, sentinels, master_set, app, via: dict[int, int]):
        super().__init__(daemon=True)
        self.sentinels, self.master_set, self.app, self.via = sentinels, master_set, app, via
        self.acked: list[tuple[float, str, int]] = []
        self.running = True

    def run(self):
        client, port, deadline = None, 0, time.monotonic() + 300
        while self.running and time.monotonic() < deadline:
            try:
                if client is None:
                    host, port = master_from_sentinels(self.sentinels, self.master_set, PASSWORD, timeout=0.5)
                    port = self.via.get(port, port)
                    client = connect(host, port, PASSWORD, self.app.database, timeout=0.5)
                w = SessionWriter(client, self.app.key_namespace, self.app.repository,
                                  self.app.session_timeout_seconds, 512, database=self.app.database)
                sid = w.create(1)[0]
                self.acked.append((time.monotonic(), sid, port))
            except Exception:  # noqa: BLE001 - any failure (NOREPLICAS, closed link) means: rediscover
                if client is not None:
                    client.close()
                client = None
                time.sleep(0.05)
            time.sleep(0.005)
        if client is not None:
            client.close()


def _run(workdir: Path, settings, fault: str, window_s: float) -> dict:
    s, app = settings.redis.sentinel, settings.was_apps[0]
    procs = Processes(workdir)
    links: list[Link] = []
    try:
        conf = {**redis_conf(settings), "appendonly": "no", **FAST}
        master = Redis(procs, "node-0", PASSWORD, conf).start()
        link = Link(master.port)  # every peer reaches the master through this relay
        links.append(link)
        nodes = [master] + [Redis(procs, f"node-{i}", PASSWORD, {**conf, "replicaof": f"{HOST} {link.port}"}).start()
                            for i in range(1, s.nodes)]
        sentinels = [Sentinel(procs, f"sentinel-{i}", PASSWORD, master, s.master_set, s.quorum, s.down_after_ms,
                              s.failover_timeout_ms, master_port=link.port).start() for i in range(s.nodes)]
        addrs = [(HOST, x.port) for x in sentinels]
        wait_until(lambda: all(n.client().info("replication")["master_link_status"] == "up"
                               for n in nodes[1:]), 60, what="replicas in sync")
        wait_until(lambda: all(len(connect(HOST, x.port, PASSWORD).execute_command("SENTINEL", "replicas", s.master_set))
                               == s.nodes - 1 and len(connect(HOST, x.port, PASSWORD).execute_command(
                                   "SENTINEL", "sentinels", s.master_set)) == s.nodes - 1 for x in sentinels),
                   30, what="sentinels know the replicas and each other")
        writer = Writer(addrs, s.master_set, app, {link.port: master.port})
        writer.start()
        wait_until(lambda: len(writer.acked) > 200, 30, what="writer running")
        fault_at = time.monotonic()
        if fault == "kill":
            master.kill(signal.SIGKILL)
        else:
            link.cut()

        def resumed() -> float | None:
            return next((t - fault_at for t, _, p in list(writer.acked) if t > fault_at and p != master.port), None)
        if fault == "kill":
            wait_until(lambda: resumed() is not None, 60, what="writes on a new master")
            time.sleep(1)
        else:  # a fixed window: without min-replicas-to-write the writer never leaves the old master
            time.sleep(window_s)
        writer.running = False
        writer.join(timeout=10)
        host, port = master_from_sentinels(addrs, s.master_set, PASSWORD)
        assert port != link.port, "the Sentinels never failed over"
        with connect(host, port, PASSWORD, app.database) as c:
            ids = [sid for _, sid, _ in writer.acked]
            present = pipeline(c, [("EXISTS", f"{app.key_namespace}:sessions:{sid}") for sid in ids])
        old_after = [sid for t, sid, p in writer.acked if t > fault_at and p == master.port]
        back = resumed()
        return {"resumed_s": None if back is None else round(back, 2), "acked": len(ids),
                "old_master_acked_after_fault": len(old_after),
                "lost": sum(1 for ok in present if not ok), "window_s": round(time.monotonic() - fault_at, 1)}
    finally:
        for link in links:
            link.close()
        procs.close()


def measure(workdir: Path, runs: int, quick: bool = False) -> dict:
    """Every (min-replicas-to-write on/off, kill/partition) combination, `runs` times.
    Quick (CI smoke): down-after 1 s, max lag 2 s, so a run takes seconds."""
    fast = {"sentinelDownAfterMs": 1000, "sentinelFailoverTimeoutMs": 3000,
            "sentinelMinReplicasMaxLagSeconds": 2} if quick else {}
    on = load_settings("prod", fast)
    s = on.redis.sentinel
    scenarios = []
    for min_replicas in (s.min_replicas_to_write, 0):
        settings = load_settings("prod", {**fast, "sentinelMinReplicasToWrite": min_replicas})
        for fault in ("kill", "partition"):
            window = s.down_after_ms / 1000 + s.min_replicas_max_lag + (2 if quick else 5)
            results = [_run(workdir / f"mr{min_replicas}-{fault}-{i}", settings, fault, window) for i in range(runs)]
            scenarios.append({"min_replicas_to_write": min_replicas, "fault": fault, "runs": results})
    kill_on = next(x for x in scenarios if x["fault"] == "kill" and x["min_replicas_to_write"])
    return {"date": time.strftime("%Y-%m-%d"), "down_after_ms": s.down_after_ms, "quorum": s.quorum, "nodes": s.nodes,
            "max_lag_s": s.min_replicas_max_lag, "scenarios": scenarios, "runs": kill_on["runs"]}
