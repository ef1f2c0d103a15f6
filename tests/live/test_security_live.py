"""Least privilege on real redis-server, redis-sentinel and redis_exporter (loopback), with
the ACL files the program writes (components/config/acl.py), its Redis config and its exporter
flags, once in plaintext and once with mutual TLS on every port:

- app A's user cannot read, write, select or subscribe to app B's keys, database or channels;
- each repository type's full session life cycle runs under its own user, driven by the
  Spring Session simulator: create, read, save, change session id, expire, delete, and the
  indexed repository's created/del/expired events;
- the exporter's user cannot write, yet every metric the platform reads is reported for
  every node and Sentinel, and so is the session count;
- the default user reaches no key; Sentinel serves the apps their master and nothing more;
- a failover still works under the restricted default user (replication, Sentinel);
- with TLS, a plaintext client and a client without a certificate are refused."""
from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import time

import pytest
import redis

from components.config import names
from components.config.sessions import stores_for, stores_in_order
from components.exporter import AUTH_DIR, TLS_DIR, exporter_containers
from components.monitoring.alerts import rule_groups
from components.monitoring.dashboard import dashboard_json
from components.monitoring.scope import scope_of
from components.monitoring.session_count import (
    KEY_SIZE_METRIC,
    KEY_VALUE_METRIC,
    check_single_keys,
)
from components.monitoring.targets import password_file
from components.redis import EXPORTER_PASSWORD_FILE, connection_for
from simulators import secure
from simulators.loopback import HOST, Processes, connect, master_from_sentinels, scrape, start_exporter, wait_until
from simulators.spring_session import Listener
from simulators.stack import start_counter
from tests.tools import require_binaries
from tools.stackfile import load_settings

APPS = [
    {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0", "minReplicas": 3, "sessionDatabase": 1},
    {"name": "shop", "image": "registry.example.com/shop:2.1.0", "repositoryType": "indexed", "minReplicas": 2,
     "sessionDatabase": 2},
]


def settings_for(tls: bool):
    return load_settings("prod", {"wasApps": APPS, "redisTls": tls, "sentinelDownAfterMs": 1000,
                                  "sentinelFailoverTimeoutMs": 3000})


@pytest.fixture(scope="module", params=[False, True], ids=["plaintext", "tls"])
def stack(request, tmp_path_factory):
    require_binaries()
    procs = Processes(tmp_path_factory.mktemp("tls" if request.param else "plain"))
    try:
        yield secure.start(procs, settings_for(request.param), tls=request.param)
    finally:
        procs.close()


def refused(call, *args) -> str:
    """The NOPERM error a command gets (redis-py: NoPermissionError)."""
    with pytest.raises(redis.exceptions.NoPermissionError) as err:
        call(*args)
    return str(err.value)


def test_app_users_cannot_touch_each_others_keys_channels_or_database(stack):
    a, b = stack.apps  # petclinic (default repository), shop (indexed)
    with stack.connect(a.app) as ca, stack.connect(b.app) as cb:
        [sid_a] = stack.writer(a.app, ca).create(1)
        [sid_b] = stack.writer(b.app, cb).create(1, users=1)
        key_a, key_b = f"{a.namespace}:sessions:{sid_a}", f"{b.namespace}:sessions:{sid_b}"
        for client, other_key in ((ca, key_b), (cb, key_a)):
            refused(client.execute_command, "HGETALL", other_key)
            refused(client.execute_command, "HMSET", other_key, "sessionAttr:x", "1")
            refused(client.execute_command, "DEL", other_key)
            refused(client.execute_command, "EXISTS", other_key)
            refused(client.execute_command, "RENAME", other_key, other_key + "x")
            for forbidden in (("KEYS", "*"), ("SCAN", "0"), ("FLUSHALL",), ("CONFIG", "GET", "*"), ("ACL", "LIST"),
                              ("SET", "x", "1"), ("EVAL", "return 1", "0"), ("MONITOR",)):
                refused(client.execute_command, *forbidden)
        refused(ca.execute_command, "SELECT", b.database)  # its own database only
        refused(cb.execute_command, "SELECT", a.database)
        # b's channels: neither the keyspace events of b's database nor b's created events
        for channel in (f"__keyevent@{b.database}__:expired", f"__keyevent@{b.database}__:del"):
            refused(ca.execute_command, "SUBSCRIBE", channel)
        refused(ca.execute_command, "PSUBSCRIBE", f"{b.namespace}:event:{b.database}:created:*")
        refused(ca.execute_command, "PUBLISH", f"{b.namespace}:event:{b.database}:created:x", "forged")
        refused(cb.execute_command, "SUBSCRIBE", f"__keyevent@{a.database}__:del")
        refused(cb.execute_command, "PSUBSCRIBE", "__keyevent@*")
        refused(cb.execute_command, "PSUBSCRIBE", "*")
        # and each still owns its own
        assert ca.execute_command("HGETALL", key_a) and cb.execute_command("HGETALL", key_b)


def test_default_and_exporter_users_reach_no_session_data(stack):
    a = stack.apps[0]
    with stack.connect(a.app) as ca:
        [sid] = stack.writer(a.app, ca).create(1)
    key = f"{a.namespace}:sessions:{sid}"
    with stack.nodes[0].client() as default:  # (it may not even SELECT)
        refused(default.execute_command, "HGETALL", key)
        refused(default.execute_command, "DEL", key)
        refused(default.execute_command, "CONFIG", "GET", "*")
        assert default.ping()  # the chart's probes
    with stack.exporter_client(stack.nodes[0]) as exporter:
        for command in (("SET", "x", "1"), ("DEL", key), ("HGETALL", key), ("HMSET", key, "a", "b"), ("FLUSHALL",),
                        ("CONFIG", "GET", "*"), ("CONFIG", "SET", "maxmemory", "1"), ("KEYS", "*")):
            refused(exporter.execute_command, *command)
        assert exporter.execute_command("SLOWLOG", "GET", "1") == []  # granted: the slow log is off (no arguments kept)
        # no Lua at all (issue 20: CVE-2025-49844 and the other Lua CVEs), nor key names
        for command in (("EVAL", f"return redis.call('HGETALL', '{key}')", "0"), ("EVALSHA", "0" * 40, "0"),
                        ("FCALL", "f", "0"), ("SCRIPT", "LOAD", "return 1"), ("RANDOMKEY",)):
            refused(exporter.execute_command, *command)


def test_sentinel_gives_apps_their_master_and_nothing_else(stack):
    a = stack.apps[0]
    with connect(HOST, stack.sentinels[0].port, secure.client_password(a.app), username=a.user,
                tls=stack.user_tls(a.user)) as s:
        assert int(s.execute_command("SENTINEL", "get-master-addr-by-name", stack.master_set)[1]) == stack.nodes[0].port
        for command in (("SENTINEL", "masters"), ("SENTINEL", "set", stack.master_set, "quorum", "1"),
                        ("SENTINEL", "failover", stack.master_set), ("SENTINEL", "reset", "*"),
                        ("SENTINEL", "config", "get", "*"), ("ACL", "LIST")):
            refused(s.execute_command, *command)
    with pytest.raises(redis.AuthenticationError):  # WRONGPASS
        connect(HOST, stack.sentinels[0].port, "wrong", username=a.user, tls=stack.user_tls(a.user))


@pytest.mark.parametrize("app", ["petclinic", "shop"])
def test_each_repository_types_life_cycle_under_its_own_user(stack, app):
    a = next(x for x in stack.apps if x.app == app)
    indexed = a.repository_type == "indexed"
    # the listener RedisIndexedHttpSessionConfiguration registers
    events = Listener(stack.connect(app), (f"__keyevent@{a.database}__:del", f"__keyevent@{a.database}__:expired"),
                      (f"{a.namespace}:event:{a.database}:created:*",)) if indexed else None
    try:
        with stack.connect(app) as c:
            w = stack.writer(app, c)
            [sid] = w.create(1, users=1 if indexed else 0)
            assert w.read(sid)["maxInactiveInterval"] == str(w.timeout_seconds)
            w.touch(sid, ("cart", "3 items"))  # save of a changed attribute
            assert w.read(sid)["sessionAttr:cart"] == "3 items"
            new = w.login(sid, "alice")  # login: session fixation protection changes the id
            assert w.read(sid) == {} and w.read(new)["sessionAttr:cart"] == "3 items"
            assert w.delete_session(new)  # logout
            if indexed:  # the hash lingers 5 minutes with maxInactiveInterval 0; the shadow key is gone
                assert w.read(new)["maxInactiveInterval"] == "0"
                assert not c.execute_command("EXISTS", w.expires_key(new))
            else:
                assert w.read(new) == {}
            [short] = w.create(1, timeout_seconds=1)  # expiry
            key = w.expires_key(short) if indexed else w.session_key(short)
            wait_until(lambda: not c.execute_command("EXISTS", key), 10, what="the session to expire")
            if indexed:
                seen: list[tuple[str, str]] = []

                def event(match) -> bool:
                    """Read messages until one (channel, body) satisfies `match`."""
                    while not any(match(ch, body) for ch, body in seen):
                        assert events is not None
                        got = events.messages(0.5)
                        if not got:
                            return False
                        seen.extend(got)
                    return True
                created = f"{a.namespace}:event:{a.database}:created:"
                assert wait_until(lambda: event(lambda ch, body: ch.startswith(created)), 5, what="created event")
                assert wait_until(lambda: event(lambda ch, body: ch == f"__keyevent@{a.database}__:del"
                                                and body == w.expires_key(new)), 5, what="del event of the logout")
                assert wait_until(lambda: event(lambda ch, body: ch == f"__keyevent@{a.database}__:expired"
                                                and body == w.expires_key(short)), 5, what="expired event")
    finally:
        if events:
            events.close()


def platform_metrics(settings) -> set[str]:
    """Every redis_* metric the alerts, recording rules and dashboard read."""
    scope = scope_of(settings)
    text = json.dumps(rule_groups(scope)) + dashboard_json(scope)
    # metric names, not recording-rule names (`level:metric:operation` contain colons)
    return {m for m in re.findall(r"(?<![:\w])redis_[a-z_]+(?![:\w])", text) if not m.startswith("redis_exporter")}


def test_exporter_user_reports_every_metric_and_the_session_count(stack):
    settings = stack.settings
    conn = connection_for(settings.redis.release_name, settings.redis, settings.namespace, stores_in_order(settings.was_apps))
    shop = stack.apps[1]
    work = stack.nodes[0].procs.workdir
    processes = [*stack.nodes, *stack.sentinels]
    scheme = "rediss" if stack.tls else "redis"
    # the Secret's file and the container args, cluster addresses mapped to loopback
    local = {f"{scheme}://{h}:{p}": f"{scheme}://{HOST}:{x.port}"
             for x, (h, p) in zip(processes, [(h, conn['port']) for h in conn['node_hosts']]
                                  + [(h, conn['sentinel_port']) for h in conn['node_hosts']], strict=True)}
    file_map = json.loads(password_file(conn, secure.client_password("exporter")))
    (work / EXPORTER_PASSWORD_FILE).write_text(json.dumps({
        k.replace(url, local[url]): v for k, v in file_map.items() for url in local if url.split("://")[1] in k}))
    if stack.tls:
        files = stack.client_tls[names.EXPORTER_USER]
        (work / "tls.crt").write_text(open(files.cert).read())
        (work / "tls.key").write_text(open(files.key).read())
        (work / "ca.crt").write_text(open(files.ca).read())
    ports = {}
    for container in exporter_containers(conn, "unused", check_single_keys(stores_for(settings.was_apps))):
        # The web endpoint's client-certificate TLS: tests/live/test_exporter_auth_live.py.
        args = [a.replace(f"{AUTH_DIR}/", f"{work}/").replace(f"{TLS_DIR}/", f"{work}/") for a in container["args"]
                if not a.startswith("--tls-server-")]
        args = [f"--redis.addr={local[a.split('=', 1)[1]]}" if a.startswith("--redis.addr=") else a for a in args]
        assert f"--redis.user={names.EXPORTER_USER}" in args
        _, ports[container["ports"][0]["name"]] = start_exporter(stack.nodes[0].procs, args,
                                                                  name=f"{container['name']}-{scheme}")
    stores = stores_for(settings.was_apps)
    shop_store = next(s for s in stores if s.app == shop.app)
    assert shop_store.method == "scan"
    count_series = f'{{db="db{shop_store.database}",key="{names.SESSION_COUNT_KEY}"}}'
    master_target = f"{scheme}://{HOST}:{stack.nodes[0].port}"
    # The session counter as `counter`, with TLS the exporter's client certificate (the pod's
    # /tls), the nodes in the program's order (the master first here).
    counter = start_counter(stack.nodes[0].procs, [n.addr for n in stack.nodes], stores,
                            secure.client_password(names.COUNTER_USER), redis_version=stack.redis_version,
                            tls_dir=work if stack.tls else None, name=f"session-counter-{scheme}")

    seen: set[str] = set()

    def sessions() -> float | None:
        """The counter's count key as the exporter reads it on the regular scrape of the master."""
        master = scrape(ports["metrics"], master_target)
        seen.update(master)
        return dict(master.get(KEY_VALUE_METRIC, [])).get(count_series)
    wait_until(lambda: sessions() is not None, 15, what="counted", procs=(counter,))
    before = sessions()
    assert before is not None
    with stack.connect(shop.app) as c:
        stack.writer(shop.app, c).create(7, users=2)
    for i, x in enumerate(processes):
        is_node = i < len(stack.nodes)
        metrics = scrape(ports["metrics" if is_node else "sentinel-metrics"], f"{scheme}://{HOST}:{x.port}")
        assert metrics["redis_up"] == [("", 1.0)], (x.name, metrics.get("redis_exporter_last_scrape_error"))
        seen |= set(metrics)
        if i == 0:  # the master: every store's sorted-set keys read (TYPE + ZCARD) under the read-only user
            sizes = dict(metrics[KEY_SIZE_METRIC])
            for store in stores:
                for key in store.checked_keys:  # no sorted-set store here: each key absent, read as 0
                    assert sizes[f'{{db="db{store.database}",key="{key}"}}'] == 0, (store.app, key)
    # the exact count, through the counter's SCAN, read by the read-only user
    wait_until(lambda: sessions() == before + 7, 15, what="7 more counted", procs=(counter,))
    counter.stop()
    assert "NOPERM" not in counter.log.read_text()
    missing = platform_metrics(settings) - seen
    assert not missing, f"metrics the platform reads but the exporter user does not get: {sorted(missing)}"


def test_failover_works_under_the_restricted_default_user(stack):
    """Replication and Sentinel run as `default` (no keys, only their commands): kill the
    master, a replica is promoted, the app finds and writes to it through Sentinel."""
    a = stack.apps[0]
    old = stack.nodes[0]
    old.kill(signal.SIGKILL)
    started = time.monotonic()
    addrs = stack.sentinel_addrs()

    def promoted():
        with stack.connect(a.app) as c:
            return stack.writer(a.app, c).create(1)
    wait_until(lambda: master_from_sentinels(addrs, stack.master_set, secure.client_password(a.app),
                                                    username=a.user, tls=stack.user_tls(a.user))[1] != old.port,
               30, what="a new master")
    assert wait_until(promoted, 20, what="writes on the new master")
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("how", ["plaintext", "no client certificate"])
def test_tls_refuses_a_plaintext_client_and_one_without_a_certificate(stack, how):
    if not stack.tls:
        pytest.skip("TLS variant only")
    a = stack.apps[0]
    for port in (stack.nodes[1].port, stack.sentinels[0].port):
        with pytest.raises((OSError, ConnectionError, redis.RedisError)):
            if how == "plaintext":
                with connect(HOST, port, secure.client_password(a.app), username=a.user, timeout=3) as c:
                    c.execute_command("PING")
            else:
                ctx = ssl.create_default_context(cafile=stack.tls.ca)
                with socket.create_connection((HOST, port), timeout=3) as raw, \
                        ctx.wrap_socket(raw, server_hostname=HOST) as s:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    if not s.recv(64):
                        raise ConnectionError("closed")
