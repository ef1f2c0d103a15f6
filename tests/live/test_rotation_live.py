"""Password rotation without downtime (docs/runbooks.md, "Rotate Redis passwords"), live:
real redis-server with the program's ACL files, the real acl-reload sidecar script
(components/redis.py ACL_RELOAD_SCRIPT) applying them, and WAS "pods" that keep saving
sessions the whole time. The three phases the config steps through:

1. redisPasswordAlsoAccept=next: the ACL accepts generations 1 and 2; clients keep 1;
2. redisPasswordGeneration=2, alsoAccept=previous: pods roll one by one (a new pod with
   generation 2 starts before an old one stops, as maxSurge 1 / maxUnavailable 0 does);
3. alsoAccept=none: only generation 2 is accepted.

A pod models Lettuce: one connection, authenticated once; if the connection drops it
reconnects with the password it started with and sends the command again (Lettuce's
auto-reconnect re-sends what was in flight). A request fails when its save fails after
that. Redis 7.0 (Debian's, used here) drops every ACL user's connections on ACL LOAD;
7.4+ and the deployed 8.2 keep them (redis/redis #12171): the reconnect count shows it."""
from __future__ import annotations

import os
import threading
import time

import redis

from components.redis import ACL_RELOAD_SCRIPT, acl_reload_env
from simulators import secure
from simulators.loopback import HOST, connect, roll_out, stop_all, wait_until
from tools.stackfile import load_settings

APP = {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0", "minReplicas": 2}
PODS = 3


class Pod(threading.Thread):
    """A WAS pod saving a session every few ms with the password generation it started with."""

    def __init__(self, stack: secure.SecureStack, generation: int):
        super().__init__(daemon=True)
        self.stack, self.generation = stack, generation
        self.requests = self.failed = self.reconnects = 0
        self.errors: list[str] = []
        self.running = True
        self.client = stack.connect(APP["name"], generation)  # the pod is ready once connected

    def run(self) -> None:
        writer = self.stack.writer(APP["name"], self.client)
        [sid] = writer.create(1)
        deadline = time.monotonic() + 120
        while self.running and time.monotonic() < deadline:
            self.requests += 1
            for attempt in (1, 2):
                try:
                    writer.touch(sid, ("clicks", str(self.requests)))
                    break
                except (OSError, ConnectionError, redis.RedisError) as exc:
                    if attempt == 2:
                        self.failed += 1
                        self.errors.append(repr(exc))
                        break
                    self.reconnects += 1
                    try:
                        self.client.close()
                        self.client = self.stack.connect(APP["name"], self.generation)
                        writer.client = self.client
                    except (OSError, ConnectionError, redis.RedisError) as exc2:
                        self.failed += 1
                        self.errors.append(repr(exc2))
                        break
            time.sleep(0.005)
        self.client.close()


def accepts(stack: secure.SecureStack, generation: int) -> bool:
    try:
        with stack.connect(APP["name"], generation) as c:
            return c.ping()
    except redis.RedisError:
        return False


def test_rotation_while_clients_keep_writing_fails_no_request(procs):
    settings = load_settings("dev", {"wasApps": [APP]})
    stack = secure.start(procs, settings, sentinel=False)
    node = stack.nodes[0]
    (procs.workdir / "default-password").write_text(secure.DEFAULT_PASSWORD)
    env = acl_reload_env([node.port], False, acl_dir=str(stack.acl_dir),
                         password_file=str(procs.workdir / "default-password"), interval=1,
                         heartbeat=str(procs.workdir / "alive"))
    reloader = procs.start("acl-reload", ["bash", "-c", ACL_RELOAD_SCRIPT], env={**os.environ, **env})
    wait_until(lambda: "loaded digest=" in reloader.tail(), 10, what="the sidecar's first load", procs=(reloader,))

    pods = [Pod(stack, 1) for _ in range(PODS)]
    for p in pods:
        p.start()
    wait_until(lambda: all(p.requests > 20 for p in pods), 20, what="pods writing")
    assert not accepts(stack, 2)

    # 1. the ACL learns the next password; clients unchanged
    stack.write_acl({"petclinic": [1, 2], "exporter": [1, 2]})
    wait_until(lambda: accepts(stack, 2), 15, what="generation 2 accepted (sidecar reload)")
    assert accepts(stack, 1)

    # 2. clients switch: a new pod (generation 2) is ready before an old one stops
    rolled = roll_out(pods, lambda: Pod(stack, 2), lambda new: new.requests > 20, what="the new pod writing")

    # 3. the previous password is retired
    stack.write_acl({"petclinic": [2], "exporter": [2]})
    wait_until(lambda: not accepts(stack, 1), 15, what="generation 1 refused (sidecar reload)")
    wait_until(lambda: all(p.requests > 60 for p in pods), 20, what="pods writing after the retirement")
    stop_all(pods)

    everyone = rolled + pods
    requests = sum(p.requests for p in everyone)
    failed = sum(p.failed for p in everyone)
    reconnects = sum(p.reconnects for p in everyone)
    print(f"\nrotation: {len(everyone)} pods, requests={requests} failed={failed} reconnects={reconnects} "
          f"(Redis {'.'.join(map(str, stack.redis_version))})")
    assert failed == 0, [e for p in everyone for e in p.errors][:5]
    assert requests > 300
    with connect(HOST, node.port, secure.client_password("exporter", 2), username="exporter") as c:
        assert c.ping()  # the exporter rotates alike
