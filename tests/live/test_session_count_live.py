"""`spring_session:active_sessions{app}` against real redis-server + the real
redis_exporter (Debian 1.45, `--script`) + real Prometheus evaluating the rules
`monitoring.session_count.recording_rules` generates, with sessions written in Spring
Session's real key layout (simulators/spring_session.py).

One module stack: a master, a replica (writable, so it can diverge), one exporter
scraping both through /scrape?target= with the password from REDIS_PASSWORD, one
Prometheus (0.5 s scrape and rule interval). Each test uses its own logical DBs.
"""
from __future__ import annotations

import time

import pytest

from monitoring.session_count import (
    DB_KEYS_METRIC,
    RECORD,
    SCRIPT_METRIC,
    SessionStore,
    lua_script,
    recording_rules,
    script_error_key,
    script_key,
)
from simulators.loopback import HOST, Prometheus, Redis, prometheus_config, start_exporter, wait_until
from simulators.resp import Client
from simulators.spring_session import SessionWriter, round_up_to_next_minute

pytestmark = pytest.mark.live

PASSWORD = "session-count-live-password"
INTERVAL = "500ms"
N = 37
LOGOUTS = 5
SHORT_TIMEOUT = 3  # seconds; Spring's own unit (maxInactiveInterval is whole seconds)

# case -> (long-timeout store, short-timeout store, indexed expiration store)
STORES = {
    "default": (SessionStore("web-default", 1, "spring:session:web-default", "default", 1800),
                SessionStore("short-default", 2, "spring:session:short-default", "default", SHORT_TIMEOUT),
                "minute"),
    "indexed": (SessionStore("web-indexed", 3, "spring:session:web-indexed", "indexed", 1800),
                SessionStore("short-indexed", 4, "spring:session:short-indexed", "indexed", SHORT_TIMEOUT),
                "minute"),
    # Spring Session 3.4+ opt-in SortedSetRedisSessionExpirationStore
    "indexed-sorted-set": (SessionStore("web-zset", 10, "spring:session:web-zset", "indexed", 1800),
                           SessionStore("short-zset", 11, "spring:session:short-zset", "indexed", SHORT_TIMEOUT),
                           "sorted-set"),
}
NOISE_DB = 5
BROKEN = SessionStore("broken", 8, "spring:session:broken", "indexed", 1800)
REPLICATED = SessionStore("replicated", 9, "spring:session:replicated", "default", 1800)
ALL_STORES = [s for case in STORES.values() for s in case[:2]] + [BROKEN, REPLICATED]


class Stack:
    def __init__(self, owner):
        self.master = Redis(owner, "master", PASSWORD, {}).start()
        self.replica = Redis(owner, "replica", PASSWORD, {
            "replicaof": f"{HOST} {self.master.port}", "replica-read-only": "no"}).start()
        script = lua_script(ALL_STORES)
        assert script is not None
        script_file = owner.workdir / "sessions.lua"
        script_file.write_text(script)
        exporter, port = start_exporter(owner, [f"--redis.addr=redis://{self.master.addr}", f"--script={script_file}"],
                                        env={"REDIS_PASSWORD": PASSWORD})
        targets = [(name, f"redis://{node.addr}", port) for name, node in (("master", self.master),
                                                                           ("replica", self.replica))]
        self.prometheus = Prometheus(owner, prometheus_config(targets, {"namespace": "petclinic"}, None, INTERVAL),
                                     [{"name": "spring-session", "interval": INTERVAL,
                                       "rules": recording_rules(ALL_STORES)}])
        self.procs = (self.master.proc, self.replica.proc, exporter, self.prometheus.proc)
        wait_until(lambda: self.value('count(redis_up{instance=~"master|replica"} == 1)') == 2,
                   20, what="both nodes scraped and up", procs=self.procs)
        wait_until(lambda: set(self.prometheus.rule_health().values()) == {"ok"}, 10, what="rules evaluated",
                   procs=self.procs)

    def value(self, expr: str):
        result = self.prometheus.query(expr)
        assert len(result) <= 1, f"{expr} returned {len(result)} series: {result}"
        return float(result[0]["value"][1]) if result else None

    def sessions(self, store: SessionStore):
        return self.value(f'{RECORD}{{app="{store.app}"}}')

    def wait_sessions(self, store: SessionStore, expected: int, timeout: float = 15, stable: int = 3) -> None:
        """Wait until the recorded count equals `expected`, then require it for `stable`
        more rule evaluations (no flapping)."""
        seen: list = []

        def reached() -> bool:
            seen.append(self.sessions(store))
            return seen[-1] == expected

        try:
            wait_until(reached, timeout, interval=0.1, what=f"{RECORD}{{app={store.app}}} == {expected}",
                       procs=self.procs)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; last values seen: {seen[-5:]}") from None
        for _ in range(stable):
            time.sleep(0.5)
            assert self.sessions(store) == expected, store.app

    def client(self, db: int, node=None) -> Client:
        return (node or self.master).client(db)

    def writer(self, store: SessionStore, client: Client, **kw) -> SessionWriter:
        return SessionWriter(client, store.namespace, store.repository_type, store.timeout_seconds, **kw)


@pytest.fixture(scope="module")
def stack(module_procs):
    return Stack(module_procs)


def _flush(stack: Stack, *dbs: int) -> None:
    for db in dbs:
        with stack.client(db) as c:
            c.call("FLUSHDB")


def _noise(stack: Stack) -> None:
    """Keys that are not this app's sessions: a cache in DB 0, another app's sessions in DB 5."""
    with stack.client(0) as c:
        c.pipeline([("SET", f"cache:{i}", "x") for i in range(25)])
    with stack.client(NOISE_DB) as c:
        SessionWriter(c, "spring:session:other", "indexed", 1800, 64).create(13, users=3)


# ------------------------------------------------------------------ a + b
@pytest.mark.parametrize("case", list(STORES))
def test_active_sessions_equals_live_sessions_through_logout_and_expiry(stack, case):
    long_store, short_store, expiration_store = STORES[case]
    repository = long_store.repository_type
    _flush(stack, 0, NOISE_DB, long_store.database, short_store.database)
    _noise(stack)
    with stack.client(long_store.database) as c, stack.client(short_store.database) as cs:
        writer = stack.writer(long_store, c, payload_bytes=256, expiration_store=expiration_store)
        ids = writer.create(N, users=7)
        stack.wait_sessions(long_store, N)

        # b: the seed's query counts keys, which is not sessions for the indexed layout
        keys = stack.value(f'{DB_KEYS_METRIC}{{db="db{long_store.database}",instance="master"}}')
        if repository == "indexed":
            assert keys is not None and keys != N and keys > N, keys
        else:
            assert keys == N

        # logout of k sessions
        assert writer.delete_sessions(ids[:LOGOUTS]) == LOGOUTS
        stack.wait_sessions(long_store, N - LOGOUTS)
        if repository == "indexed":
            # Spring keeps the logged-out hash 300 s and re-files it as expiring at its
            # last access (current-minute set, or a past score in the sorted set):
            # the count must not depend on either being gone.
            assert 0 < c.call("TTL", writer.session_key(ids[0])) <= 300
            assert c.call("EXISTS", writer.expires_key(ids[0])) == 0

        # short sessions appear, then fall back to 0 once their TTL has passed
        short = stack.writer(short_store, cs, payload_bytes=64, expiration_store=expiration_store)
        written = time.monotonic()
        short.create(11, users=2)
        stack.wait_sessions(short_store, 11, timeout=SHORT_TIMEOUT - 0.5, stable=0)
        assert time.monotonic() - written < SHORT_TIMEOUT  # seen while they were alive
        stack.wait_sessions(short_store, 0, timeout=SHORT_TIMEOUT + 15)
        assert stack.sessions(long_store) == N - LOGOUTS  # untouched by the other store and the noise


# ----------------------------------------------------------------- script
def test_script_counts_only_live_members_of_the_expiry_index(stack):
    """The generated script on a hand-built expiry index, run by EVAL on the master
    (what the exporter runs): future minute sets count whole (SCARD), the current
    minute's set counts only members whose expires key exists, past sets and sets past
    timeout + margin never count, the sorted-set store counts scores after now."""
    store = SessionStore("unit", 6, "unit:ns", "indexed", 120)  # 2 timeout minutes + 2 margin
    broken = SessionStore("unit-broken", 7, "unit:broken", "indexed", 60)
    script = lua_script([store, broken])
    _flush(stack, store.database, broken.database)
    with stack.client(0) as c:
        sec, usec = c.call("TIME")
        now = int(sec) * 1000 + int(usec) // 1000
        if now % 60000 > 57000:  # keep the whole test inside one minute (bounded: < 3.1 s)
            time.sleep((60000 - now % 60000) / 1000 + 0.1)
            sec, usec = c.call("TIME")
            now = int(sec) * 1000 + int(usec) // 1000
    current = round_up_to_next_minute(now)
    ns = store.namespace
    with stack.client(store.database) as c:
        c.pipeline([
            ("SADD", f"{ns}:expirations:{current + 60000}", "expires:a", "expires:b", "expires:c"),
            ("SADD", f"{ns}:expirations:{current + store.script_minutes * 60000}", "expires:d", "expires:e"),
            ("SADD", f"{ns}:expirations:{current + (store.script_minutes + 1) * 60000}", "expires:x1", "expires:x2"),
            ("SADD", f"{ns}:expirations:{current}", "expires:f", "expires:g", "expires:gone"),
            ("SET", f"{ns}:sessions:expires:f", "", "PX", 50000),
            ("SET", f"{ns}:sessions:expires:g", "", "PX", 50000),
            ("SADD", f"{ns}:expirations:{current - 60000}", "expires:p"),
            ("SET", f"{ns}:sessions:expires:p", "", "PX", 50000),  # a past set is never read
            ("ZADD", f"{ns}:sessions:expirations", now + 30000, "z1", now + 600000, "z2", now - 1000, "z3"),
        ])
    with stack.client(broken.database) as c:
        c.call("SET", f"{broken.namespace}:sessions:expirations", "not a sorted set")
    with stack.client(0) as c:
        reply = c.call("EVAL", script, 0)
        assert c.call("CLIENT", "INFO").split(" db=")[1].split(" ")[0] == "0"  # script's SELECT stayed inside
    values = dict(zip(reply[::2], reply[1::2], strict=True))
    assert all(isinstance(v, str) for v in reply)  # the exporter rejects non-string replies
    assert values == {script_key(store): str(3 + 2 + 2 + 2), script_error_key(store): "0",
                      script_error_key(broken): "1"}


def test_a_failing_store_flags_itself_and_never_makes_redis_look_down(stack):
    _flush(stack, BROKEN.database)
    with stack.client(BROKEN.database) as c:
        c.call("SET", f"{BROKEN.namespace}:sessions:expirations", "wrong type")
    wait_until(lambda: stack.value(f'{SCRIPT_METRIC}{{key="{script_error_key(BROKEN)}",instance="master"}}') == 1,
               10, what="error flag", procs=stack.procs)
    wait_until(lambda: stack.prometheus.query(f'{RECORD}{{app="{BROKEN.app}"}}') == [], 5,
               what="no count recorded for the failing store", procs=stack.procs)
    assert stack.value('redis_up{instance="master"}') == 1
    assert stack.value(f'{SCRIPT_METRIC}{{key="{script_error_key(STORES["indexed"][0])}",instance="master"}}') == 0
    with stack.client(BROKEN.database) as c:
        c.call("DEL", f"{BROKEN.namespace}:sessions:expirations")
    stack.wait_sessions(BROKEN, 0)


# ------------------------------------------------------------ master only
def test_count_comes_from_the_master_even_when_a_replica_diverges(stack):
    db = REPLICATED.database
    _flush(stack, db)
    with stack.client(db) as c:
        stack.writer(REPLICATED, c, payload_bytes=64).create(5)
    keys = f'{DB_KEYS_METRIC}{{db="db{db}",instance="replica"}}'
    wait_until(lambda: stack.value(keys) == 5, 15, what="replica synced", procs=stack.procs)
    with stack.client(db, stack.replica) as c:  # writes only the replica holds
        stack.writer(REPLICATED, c, payload_bytes=64).create(4)
    wait_until(lambda: stack.value(keys) == 9, 15, what="replica diverged", procs=stack.procs)
    stack.wait_sessions(REPLICATED, 5)
    # Without the master filter the replica would win: the filter is what makes it 5.
    assert stack.value(f'max by (app) (label_replace({DB_KEYS_METRIC}{{db="db{db}"}}, "app", "x", "", ""))') == 9
    [series] = stack.prometheus.query(f'{RECORD}{{app="{REPLICATED.app}"}}')
    assert series["metric"] == {"__name__": RECORD, "app": REPLICATED.app, "namespace": "petclinic", "job": "redis-exporter"}
