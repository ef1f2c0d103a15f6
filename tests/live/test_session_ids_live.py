"""Issue 20, item 2: whoever can ask the exporter learns no session id.

A real redis-server with the program's ACL file and the real redis_exporter (Debian 1.45)
run with exactly the args the program generates (components.exporter.exporter_containers),
under the `exporter` user. Sessions are written the Spring way (simulators/spring_session.py)
for each store, then hostile `/scrape?target=...` requests ask for `check-keys`,
`check-single-keys`, `count-keys` and `check-streams` on every session DB. No session id may
appear in any metric line or in the exporter's log (stdout and stderr), and the exporter's
credential may not run Lua, RANDOMKEY or KEYS.

Two stacks: only sorted-set stores (the exporter has no SCAN: it cannot list a single key
name, and no request makes one appear anywhere), and every store (default and minute-set
stores are counted by SCAN, so the credential lists names, and a `check-streams` or (1.74)
`check-keys` request makes the exporter log each key it could not read: the residual
docs/security.md states, kept here as a strict xfail so that its end shows)."""
from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from components.config.sessions import stores_for
from components.exporter import AUTH_DIR, AUTH_FILE, exporter_containers, password_file
from components.monitoring.session_count import check_single_keys
from components.redis import connection_for
from simulators import secure
from simulators.loopback import HOST, Processes, start_exporter
from simulators.resp import RedisError
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
        stack = secure.start(procs, settings, sentinel=False)
        conn = connection_for(settings.redis.release_name, settings.redis, settings.namespace)
        work = procs.workdir
        master = f"redis://{HOST}:{stack.nodes[0].port}"
        url = f"{conn.scheme}://{conn.node_hosts[0]}:{conn.port}"
        # the Secret's password file, its cluster address mapped to loopback
        file_map = json.loads(password_file(conn, secure.client_password("exporter")))
        (work / AUTH_FILE).write_text(json.dumps({k.replace(url, master): v for k, v in file_map.items()}))
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
        yield request.param, stack, port, exporter, master, ids, {}
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
    # the count the platform reads is there all the same
    cart = next(a for a in stack.apps if a.app == "cart")
    assert f'redis_key_size{{db="db{cart.database}",key="{cart.namespace}:sessions:expirations"}} 40' in text


def test_no_request_makes_a_session_id_appear_in_the_log(env, request):
    variant, _, _, exporter, _, ids, _ = env
    if variant == "every store":
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "SCAN-counted stores: the exporter may SCAN, and check-streams (1.45, 1.74) / check-keys (1.74) "
            "log every key they could not read (docs/security.md)")))
    scrapes(env)
    log = exporter.log.read_text(errors="replace")
    leaked = sorted(i for i in ids if i in log)
    assert not leaked, f"{variant}: {len(leaked)} session ids in the exporter's log, e.g. {leaked[:3]}"
    assert "NOPERM this user has no permissions to run the 'scan' command" in log  # what was asked was refused


def test_the_exporter_credential_runs_no_lua_and_lists_no_key(env):
    variant, stack, *_ = env
    with stack.exporter_client(stack.nodes[0]) as c:
        for command in (("EVAL", "return 1", 0), ("EVALSHA", "0" * 40, 0), ("FCALL", "f", 0),
                        ("SCRIPT", "LOAD", "return 1"), ("FUNCTION", "LIST"), ("RANDOMKEY",), ("KEYS", "*"),
                        ("TIME",)):
            with pytest.raises(RedisError, match="^NOPERM"):
                c.call(*command)
        cart = next(a for a in stack.apps if a.app == "cart")
        c.call("SELECT", cart.database)
        assert c.call("ZCARD", f"{cart.namespace}:sessions:expirations") == 40
        with pytest.raises(RedisError, match="^NOPERM"):
            c.call("ZRANGE", f"{cart.namespace}:sessions:expirations", 0, -1)  # the members are session ids
        if variant == "sorted-set only":
            with pytest.raises(RedisError, match="^NOPERM"):
                c.call("SCAN", 0)
        else:  # default and minute-set stores are counted by SCAN: the residual (docs/security.md)
            assert c.call("SCAN", 0, "COUNT", 1000)[1]
