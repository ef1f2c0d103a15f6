"""Issue 18: an app's `repositoryType` or `sessionExpirationStore` changed on a running stack.

What `pulumi up` does for such a change: the ACL Secret gets the app user's new rules (the
acl-reload sidecar loads them), the chart's redis.conf gets the keyspace-event setting the
indexed repository needs (Redis restarts with it; its AOF keeps the sessions), the session
counter gets the new store's pattern, and the app's pods roll to the new repository. Here a
real redis-server 7.0 runs the program's config and ACL for the old store; the switch loads
the new ACL file (ACL LOAD), sets the new config's `notify-keyspace-events` (CONFIG SET stands
in for the restart) and starts the session-counter sidecar (components/exporter.py
COUNTER_SCRIPT, unchanged) for the new store. The new repository then reads every session the
old one wrote the way findById reads it (simulators/spring_session.py `adopt`: the hash both
repositories share, through the RedisSessionMapper both use), and the count is what
docs/runbooks.md ("An app's session repository or expiration store") says it reads.
"""
from __future__ import annotations

import subprocess

import pytest

from components.config import names
from components.config.sessions import stores_in_order
from simulators import secure
from simulators.loopback import HOST, Processes, wait_until
from simulators.stack import redis_conf, start_counter
from tests.tools import require_binaries
from tools.stackfile import load_settings

pytestmark = pytest.mark.live

SESSIONS = 200
STORES = {"default": {"repositoryType": "default"},
          "minute": {"repositoryType": "indexed", "sessionExpirationStore": "minute"},
          "sorted-set": {"repositoryType": "indexed", "sessionExpirationStore": "sorted-set"}}


def settings_for(layout: str):
    return load_settings("dev", {"wasApps": [{"name": "shop", "image": "r/shop:1.0", "minReplicas": 1,
                                              "springBootMajor": 3, **STORES[layout]}]})


class Switch:
    """One Redis holding SESSIONS sessions the old store wrote, switched to the new store."""

    def __init__(self, procs: Processes, old: str, new: str):
        self.stack = secure.start(procs, settings_for(old), sentinel=False, admin=True)
        self.procs, self.node = procs, self.stack.nodes[0]
        with self.stack.connect("shop") as c:
            self.ids = self.stack.writer("shop", c).create(SESSIONS)
        settings = settings_for(new)
        self.stack.settings, self.stack.apps = settings, stores_in_order(settings.was_apps)
        [self.store] = self.stack.apps
        self.stack.write_acl({"shop": [1], "exporter": [1]})
        assert self.node.client().acl_load()  # as the acl-reload sidecar does, as `default`
        with self.stack.admin_client(self.node) as c:
            events = redis_conf(settings).get("notify-keyspace-events", "")
            assert c.execute_command("CONFIG", "SET", "notify-keyspace-events", events) == "OK"

    def client(self):
        return self.stack.connect("shop")

    def admin(self):
        """The test's admin in the app's database: reads no user the program writes may make."""
        c = self.stack.admin_client(self.node)
        c.execute_command("SELECT", self.store.database)
        return c

    def count(self) -> str | None:
        """The count key the session counter writes."""
        with self.admin() as c:
            return c.get(names.SESSION_COUNT_KEY)

    def counted(self) -> int:
        """The session counter's first count for the new store (it must be one that SCAN counts)."""
        counter = start_counter(self.procs, [self.node.addr], [self.store], secure.client_password(names.COUNTER_USER),
                                redis_version=self.stack.redis_version)
        return int(wait_until(self.count, 15, what="counted", procs=(counter,)))

    def operator(self, *command: str) -> str:
        """A runbook line: redis-cli as the operator, in the app's database."""
        password = secure.client_password(names.OPERATOR_USER)
        out = subprocess.run(["redis-cli", "--user", names.OPERATOR_USER, "-h", HOST, "-p", str(self.node.port),
                              "-n", str(self.store.database), *command], env={"REDISCLI_AUTH": password},
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip()


@pytest.fixture
def procs(tmp_path):
    require_binaries()
    p = Processes(tmp_path)
    try:
        yield p
    finally:
        p.close()


@pytest.mark.parametrize(("old", "new"), [("default", "minute"), ("default", "sorted-set"), ("minute", "default"),
                                          ("sorted-set", "default"), ("minute", "sorted-set"),
                                          ("sorted-set", "minute")])
def test_the_new_repository_reads_every_session_the_old_one_wrote(procs, old, new):
    switch = Switch(procs, old, new)
    with switch.client() as c:
        writer = switch.stack.writer("shop", c)
        assert writer.repo.adopt(switch.ids) == switch.ids
        touched = [writer.touch(i) for i in switch.ids[:SESSIONS // 2]]  # the next request of half of them
        assert touched == switch.ids[:SESSIONS // 2]
        assert all(writer.read(i) for i in switch.ids), "a session the old repository wrote is gone"
    print(f"{old} -> {new}: {SESSIONS} of {SESSIONS} sessions read by the new repository")


def test_default_to_indexed_counts_a_session_from_its_next_request(procs):
    switch = Switch(procs, "default", "minute")
    assert switch.counted() == 0  # no session the default repository wrote has an `expires:` key
    with switch.client() as c:
        writer = switch.stack.writer("shop", c)
        writer.repo.adopt(switch.ids)
        for i in switch.ids[:50]:
            writer.touch(i)
    wait_until(lambda: switch.count() == "50", 10, what="50 counted")
    print(f"default -> indexed: count 0 of {SESSIONS} after the switch, 50 after 50 requests")


def test_indexed_to_default_counts_each_session_once(procs):
    switch = Switch(procs, "minute", "default")
    with switch.admin() as c:
        matched = sum(1 for _ in c.scan_iter(match=switch.store.scan_pattern, count=1000))
    # the default pattern also matches the indexed repository's shadow keys, left until they expire
    assert matched == 2 * SESSIONS
    assert switch.counted() == SESSIONS
    print(f"indexed -> default: {matched} keys match {switch.store.scan_pattern}, {SESSIONS} sessions counted")


def test_leaving_the_sorted_set_store_leaves_its_key_until_the_operator_deletes_it(procs):
    switch = Switch(procs, "sorted-set", "minute")
    key = switch.store.zset_key
    with switch.client() as c:
        writer = switch.stack.writer("shop", c)
        for i in writer.repo.adopt(switch.ids):
            writer.touch(i)
    # nothing removes a member any more: the exporter reads the key (check-single-keys) and the
    # store check flags it (SessionStoreMismatch, no count recorded) until it is deleted
    with switch.admin() as c:
        assert c.zcard(key) == SESSIONS
        assert switch.counted() == SESSIONS
        assert switch.operator("DEL", key) == "1"  # docs/runbooks.md, SessionStoreMismatch
        assert c.exists(key) == 0
    print(f"sorted-set -> minute: {SESSIONS} members left in {key} until the operator's DEL")
