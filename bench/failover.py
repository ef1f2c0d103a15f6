"""Measure 4: Sentinel failover with the prod stack's settings. A Sentinel-aware writer
saves a session every few ms; the master is killed; measured: time until the writer
saves again, and acknowledged sessions missing from the new master (lost)."""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from settings.stackfile import load_settings
from simulators.loopback import HOST, Processes, Redis, Sentinel, wait_until
from simulators.resp import Client, master_from_sentinels
from simulators.spring_session import SessionWriter
from simulators.stack import PASSWORD, redis_conf


class Writer(threading.Thread):
    """Writes sessions through Sentinel discovery, as Lettuce does; records acknowledged ids."""

    def __init__(self, sentinels, master_set, app):
        super().__init__(daemon=True)
        self.sentinels, self.master_set, self.app = sentinels, master_set, app
        self.acked: list[tuple[float, str]] = []
        self.running = True

    def run(self):
        client, deadline = None, time.monotonic() + 300
        while self.running and time.monotonic() < deadline:
            try:
                if client is None:
                    host, port = master_from_sentinels(self.sentinels, self.master_set, PASSWORD, timeout=0.5)
                    client = Client(host, port, PASSWORD, self.app.session_database, timeout=0.5)
                w = SessionWriter(client, self.app.session_namespace, self.app.repository_type,
                                  self.app.session_timeout_seconds, 512)
                sid = w.create(1)[0]
                if client.call("ROLE")[0] != "master":  # written to a demoted node: reconnect
                    raise ConnectionError("not master")
                self.acked.append((time.monotonic(), sid))
            except Exception:  # noqa: BLE001 - any failure means: rediscover the master
                if client is not None:
                    client.close()
                client = None
                time.sleep(0.05)
            time.sleep(0.005)
        if client is not None:
            client.close()


def measure(workdir: Path, runs: int) -> dict:
    settings = load_settings("prod")
    s, app = settings.redis.sentinel, settings.was_apps[0]
    results = []
    for run in range(runs):
        procs = Processes(workdir / f"run{run}")
        try:
            conf = {**redis_conf(settings), "appendonly": "no"}
            master = Redis(procs, "node-0", PASSWORD, conf).start()
            nodes = [master] + [Redis(procs, f"node-{i}", PASSWORD, {**conf, "replicaof": f"{HOST} {master.port}"}).start()
                                for i in range(1, s.nodes)]
            sentinels = [Sentinel(procs, f"sentinel-{i}", PASSWORD, master, s.master_set, s.quorum,
                                  s.down_after_ms, s.failover_timeout_ms).start() for i in range(s.nodes)]
            addrs = [(HOST, x.port) for x in sentinels]
            # Initial full sync first (diskless sync waits repl-diskless-sync-delay, 5 s).
            wait_until(lambda: all("master_link_status:up" in n.client().call("INFO", "replication")
                                   for n in nodes[1:]), 60, what="replicas in sync")
            wait_until(lambda: all(Client(HOST, x.port, PASSWORD).call("SENTINEL", "replicas", s.master_set)
                                   for x in sentinels), 30, what="sentinels know the replicas")
            writer = Writer(addrs, s.master_set, app)
            writer.start()
            wait_until(lambda: len(writer.acked) > 200, 30, what="writer running")
            killed = time.monotonic()
            master.kill(signal.SIGKILL)
            wait_until(lambda: any(t > killed + 0.001 and master_from_sentinels(addrs, s.master_set, PASSWORD)[1]
                                   != master.port for t, _ in writer.acked[-1:]), 120, what="writes resumed")
            resumed = next(t for t, _ in writer.acked if t > killed) - killed
            time.sleep(1)
            writer.running = False
            writer.join(timeout=10)
            host, port = master_from_sentinels(addrs, s.master_set, PASSWORD)
            with Client(host, port, PASSWORD, app.session_database) as c:
                ids = [sid for _, sid in writer.acked]
                present = c.pipeline([("EXISTS", f"{app.session_namespace}:sessions:{sid}") for sid in ids])
            lost = [sid for sid, ok in zip(ids, present, strict=True) if not ok]
            results.append({"resumed_s": round(resumed, 2), "acked": len(ids), "lost": len(lost)})
        finally:
            procs.close()
    return {"down_after_ms": s.down_after_ms, "quorum": s.quorum, "nodes": s.nodes, "runs": results}
