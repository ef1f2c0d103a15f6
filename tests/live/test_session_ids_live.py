"""Issue 20, item 2: whoever can ask the exporter learns no session id.

A real redis-server with the program's ACL file and the real redis_exporter (Debian 1.45)
run with exactly the args the program generates (components.exporter.exporter_containers),
under the `exporter` user, and the exporter pod's session-counter sidecar (COUNTER_SCRIPT,
unchanged, under bash with Debian's redis-cli 7.0) under the `counter` user. Sessions are
written the Spring way (simulators/spring_session.py) for each store, then hostile
`/scrape?target=...` requests ask for `check-keys`, `check-single-keys`, `count-keys` and
`check-streams` on every session DB, as Prometheus can (the web endpoint in plain HTTP here
stands for a client holding the scrape certificate). No session id may appear in any metric
line or in the exporter's log (stdout and stderr), the exporter's credential may not run
Lua, SCAN, RANDOMKEY or KEYS, and the count the platform reads is there all the same: ZCARD
of the sorted set, and for the default and minute-set stores the counter's count key, equal
to the live sessions.

Two stacks: only sorted-set stores (no counter: nothing is counted by SCAN), and every store
(default repository, minute sets, sorted set). The exporter can name no key in either."""
from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest
import redis

from components.config import names
from components.config.sessions import stores_for, stores_in_order
from components.exporter import AUTH_DIR, exporter_containers
from components.monitoring.session_count import check_single_keys, counted_by_scan
from components.monitoring.targets import password_file
from components.redis import EXPORTER_PASSWORD_FILE, connection_for
from simulators import secure
from simulators.loopback import HOST, Processes, connect, start_exporter, wait_until
from simulators.stack import start_counter
from tests.tools import require_binaries
from tools.stackfile import load_settings

pytestmark = pytest.mark.live

ZSET_APP = {"name": "cart", "image": "r/cart:1.0", "minReplicas": 1, "repositoryType": "indexed",
            "sessionExpirationStore": "sorted-set", "sessionDatabase": 3}
VARIANTS = {
    "sorted-set only": [ZSET_APP],
    "every store": [{"name": "petclinic", "image": "r/p:1.0", "minReplicas": 1, "sessionDatabase": 1},
                    {"name": "shop", "image": "r/s:1.0", "minReplicas": 1, "repositoryType": "indexed",
                     "sessionDatabase": 2}, ZSET_APP],
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def env(request, tmp_path_factory):
    require_binaries()
    procs = Processes(tmp_path_factory.mktemp(request.param.replace(" ", "-")))
    try:
        settings = load_settings("dev", {"wasApps": VARIANTS[request.param]})
        stack = secure.start(procs, settings, sentinel=False, admin=True)
        conn = connection_for(settings.redis.release_name, settings.redis, settings.namespace, stores_in_order(settings.was_apps))
        work = procs.workdir
        master = f"redis://{HOST}:{stack.nodes[0].port}"
        url = f"{conn['scheme']}://{conn['node_hosts'][0]}:{conn['port']}"
        # the Secret's password file, its cluster address mapped to loopback
        file_map = json.loads(password_file(conn, secure.client_password("exporter")))
        (work / EXPORTER_PASSWORD_FILE).write_text(json.dumps({k.replace(url, master): v for k, v in file_map.items()}))
        [container] = exporter_containers(conn, "unused", check_single_keys(stores_for(settings.was_apps)))
        # The web endpoint in plain HTTP: these requests stand for a client that holds the
        # client certificate (without it nothing is answered: test_exporter_auth_live.py).
        args = [a.replace(f"{AUTH_DIR}/", f"{work}/") for a in container["args"] if not a.startswith("--tls-server-")]
        args = [f"--redis.addr={master}" if a.startswith("--redis.addr=") else a for a in args]
        exporter, port = start_exporter(procs, args, name="redis-exporter")
        ids: set[str] = set()
        for app in stack.apps:
            with stack.connect(app.app) as c:
                w = stack.writer(app.app, c)
                w.create(40, users=6)  # half of the users log in: a session id change each
                ids |= set(w.repo.stored)
        stores = stores_for(settings.was_apps)
        counter = None
        if counted_by_scan(stores):
            counter = start_counter(procs, [stack.nodes[0].addr], stores, secure.client_password(names.COUNTER_USER),
                                    redis_version=stack.redis_version)
            for s in counted_by_scan(stores):
                with stack.admin_client(stack.nodes[0]) as c:
                    c.execute_command("SELECT", s.database)
                    wait_until(lambda c=c: c.execute_command("GET", names.SESSION_COUNT_KEY) == "40", 10,
                               what=f"{s.app} counted", procs=(counter,))
        yield request.param, stack, port, exporter, master, ids, {"counter": counter}
    finally:
        procs.close()


def hostile_requests(stack) -> list[dict[str, str]]:
    out = []
    for a in stack.apps:
        db = f"db{a.database}"
        out += [{"check-keys": f"{db}=*"}, {"check-keys": f"{db}={a.namespace}:sessions:*"},
                {"check-single-keys": f"{db}={a.namespace}:sessions:*"}, {"count-keys": f"{db}=*"},
                {"check-streams": f"{db}=*"}, {"check-single-keys": f"{db}={a.namespace}:sessions:expirations"},
                {"check-keys": f"{db}=*", "check-single-keys": f"{db}=*", "count-keys": f"{db}=*",
                 "check-streams": f"{db}=*", "check-single-streams": f"{db}=*"}]
    return out + [{"check-keys": "db0=*"}]


def scrapes(env) -> str:
    """Every hostile request once per stack (cached on the env): the metric text."""
    variant, stack, port, exporter, master, ids, cache = env
    if "text" not in cache:
        bodies = []
        for params in hostile_requests(stack):
            url = f"http://{HOST}:{port}/scrape?" + urllib.parse.urlencode({"target": master, **params})
            with urllib.request.urlopen(url, timeout=30) as r:
                body = r.read().decode()
            assert "\nredis_up 1\n" in body, params
            bodies.append(body)
        cache["text"] = "\n".join(bodies)
    return cache["text"]


def test_no_request_makes_a_session_id_appear_in_a_metric(env):
    variant, stack, *_, ids, _ = env
    assert len(ids) >= 40 * len(stack.apps)
    text = scrapes(env)
    leaked = sorted(i for i in ids if i in text)
    assert not leaked, f"{variant}: {len(leaked)} session ids in the metrics, e.g. {leaked[:3]}"
    # the count the platform reads is there all the same: ZCARD, or the counter's count key
    for a in stack.apps:
        if a.expiration_store == "sorted-set" and a.repository_type == "indexed":
            assert f'redis_key_size{{db="db{a.database}",key="{a.namespace}:sessions:expirations"}} 40' in text
        else:
            assert f'redis_key_value{{db="db{a.database}",key="{names.SESSION_COUNT_KEY}"}} 40' in text, a.app


def test_no_request_makes_a_session_id_appear_in_the_log(env):
    variant, _, _, exporter, _, ids, _ = env
    scrapes(env)
    log = exporter.log.read_text(errors="replace")
    leaked = sorted(i for i in ids if i in log)
    assert not leaked, f"{variant}: {len(leaked)} session ids in the exporter's log, e.g. {leaked[:3]}"
    assert "NOPERM this user has no permissions to run the 'scan' command" in log  # what was asked was refused


def test_the_counter_logs_no_session_id_and_leaves_no_acl_denial(env):
    """The sidecar prints only node, database and Redis's errors; its redis-cli sends only what
    the `counter` user may (AUTH, SELECT, SCAN, SET of the count key): no ACL LOG entry of it."""
    variant, stack, *_, ids, extra = env
    if extra["counter"] is None:
        pytest.skip("no store counted by SCAN: no counter")
    log = extra["counter"].log.read_text(errors="replace")
    assert not [i for i in ids if i in log] and "counting on" in log
    assert [e for e in stack.acl_log(stack.nodes[0]) if e["username"] == names.COUNTER_USER] == []


def test_the_exporter_credential_runs_no_lua_and_lists_no_key(env):
    variant, stack, *_ = env
    with stack.exporter_client(stack.nodes[0]) as c:
        for command in (("EVAL", "return 1", 0), ("EVALSHA", "0" * 40, 0), ("FCALL", "f", 0),
                        ("SCRIPT", "LOAD", "return 1"), ("FUNCTION", "LIST"), ("RANDOMKEY",), ("KEYS", "*"),
                        ("TIME",), ("SCAN", 0), ("SET", names.SESSION_COUNT_KEY, "1")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                c.execute_command(*command)
        cart = next(a for a in stack.apps if a.app == "cart")
        c.execute_command("SELECT", cart.database)
        assert c.execute_command("ZCARD", f"{cart.namespace}:sessions:expirations") == 40
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.execute_command("ZRANGE", f"{cart.namespace}:sessions:expirations", 0, -1)  # the members are session ids


def test_the_counter_credential_scans_and_writes_only_its_key(env):
    variant, stack, *_ = env
    scanned = [a for a in stack.apps if not (a.repository_type == "indexed" and a.expiration_store == "sorted-set")]
    if not scanned:
        pytest.skip("no store counted by SCAN")
    a = scanned[0]
    with connect(HOST, stack.nodes[0].port, secure.client_password(names.COUNTER_USER), a.database,
                username=names.COUNTER_USER) as c:
        assert c.execute_command("SCAN", 0, "COUNT", 1000)[1]  # the key names: the least an exact count needs
        assert c.set(names.SESSION_COUNT_KEY, "40", ex=60)
        some = c.execute_command("SCAN", 0, "MATCH", f"{a.namespace}:sessions:*", "COUNT", 1000)[1][0]
        for command in (("GET", some), ("HGETALL", some), ("TYPE", some), ("DEL", some), ("SET", some, "x"),
                        ("GET", names.SESSION_COUNT_KEY), ("SET", names.SESSION_COUNT_KEY, "1", "GET"),
                        ("EVAL", "return 1", 0), ("KEYS", "*"), ("RANDOMKEY",), ("INFO",)):
            with pytest.raises(redis.exceptions.NoPermissionError):
                c.execute_command(*command)
