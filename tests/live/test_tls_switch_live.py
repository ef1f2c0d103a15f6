"""What the one-shot `redisTls` switch costs (why the program refuses it unless
acknowledgeChange=redisTls; docs/runbooks.md, "Change a running stack", Switch TLS), live:
a real redis-server with the chart's Redis config and the program's ACL, three WAS "pods"
writing sessions in plaintext; then the order a single `pulumi up` imposes: Redis restarts
TLS-only (the chart's `--port 0 --tls-port`), and only after the release the pods roll, one
at a time, to TLS clients with their certificates. Requests made and failed are counted; the
sessions survive (AOF), the requests in between do not. Not a no-loss procedure: it measures
the cost the acknowledgement accepts."""
from __future__ import annotations

import threading
import time

import redis

from components.config import names
from simulators import certs, secure
from simulators.certs import TlsFiles
from simulators.loopback import HOST, connect, roll_out, stop_all, tls_conf, wait_until
from tools.stackfile import load_settings

APP = {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}
PODS = 3
RELEASE_SECONDS = 2.0  # the rest of the Redis rollout after its restart, before the WAS rollout starts


class Pod(threading.Thread):
    """A WAS pod touching its session every 20 ms over plaintext or TLS (fixed at start)."""

    def __init__(self, stack: secure.SecureStack, port: int, tls: TlsFiles | None):
        super().__init__(daemon=True)
        self.stack, self.port, self.tls = stack, port, tls
        self.requests = self.failed = 0
        self.running = True
        self.client: redis.Redis | None = None

    def connect(self) -> redis.Redis:
        a = self.stack.apps[0]
        return connect(HOST, self.port, secure.client_password(APP["name"]), a.database, username=a.user,
                      tls=self.tls, timeout=2)

    def run(self) -> None:
        self.client = self.connect()
        writer = self.stack.writer(APP["name"], self.client)
        [sid] = writer.create(1)  # the pod's own visitor
        deadline = time.monotonic() + 120
        while self.running and time.monotonic() < deadline:
            self.requests += 1
            try:
                if self.client is None:
                    self.client = self.connect()
                    writer.client = self.client
                writer.touch(sid, ("clicks", str(self.requests)))
            except (OSError, ConnectionError, redis.RedisError):
                self.failed += 1
                if self.client is not None:
                    self.client.close()
                self.client = None
            time.sleep(0.02)
        if self.client is not None:
            self.client.close()


def test_one_shot_tls_switch_keeps_sessions_but_fails_requests_until_the_clients_rolled(procs):
    stack = secure.start(procs, load_settings("dev", {"wasApps": [APP]}), sentinel=False)
    node = stack.nodes[0]
    server, clients = certs.issue(procs.workdir / "certs", [], [stack.apps[0].user, names.EXPORTER_USER])
    setup = stack.writer(APP["name"], stack.connect(APP["name"]))
    ids = list(setup.create(500))
    setup.client.close()
    pods = [Pod(stack, node.port, None) for _ in range(PODS)]
    for p in pods:
        p.start()
    wait_until(lambda: all(p.requests > 20 for p in pods), 20, what="plaintext pods writing")
    assert sum(p.failed for p in pods) == 0

    # one `pulumi up`: Redis restarts TLS-only first ...
    switched = time.monotonic()
    node.tls = server
    node.restart(tls_conf(node.port, server))
    time.sleep(RELEASE_SECONDS)
    # ... the WAS Deployment rolls only after the release: a TLS pod starts, then an old one stops
    rolled = roll_out(pods, lambda: Pod(stack, node.port, clients[stack.apps[0].user]),
                      lambda new: new.requests - new.failed > 20, what="a TLS pod writing")
    outage = time.monotonic() - switched
    wait_until(lambda: all(p.requests > 40 for p in pods), 20, what="TLS pods writing")
    stop_all(pods)

    everyone = rolled + pods
    requests = sum(p.requests for p in everyone)
    failed = sum(p.failed for p in everyone)
    reader = stack.writer(APP["name"], connect(HOST, node.port, secure.client_password(APP["name"]),
                                              stack.apps[0].database, username=stack.apps[0].user,
                                              tls=clients[stack.apps[0].user]))
    kept = sum(1 for sid in ids if reader.read(sid))
    print(f"\none-shot TLS switch: requests={requests} failed={failed} (until the last plaintext pod left: "
          f"{outage:.1f}s), sessions before={len(ids)} after={kept} (Redis {'.'.join(map(str, stack.redis_version))})")
    assert kept == len(ids)  # the volume and AOF keep the sessions
    assert failed > 0  # every plaintext pod fails from the Redis restart until it is replaced
    assert sum(p.failed for p in pods) == 0  # the TLS pods, started after Redis switched, never fail
