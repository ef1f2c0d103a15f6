"""The narrowed `default` users and the exporter, on real redis-server and redis-sentinel
(Debian's 7.0) with the 7.0 ACL files the program writes (components/config/acl.py), 1 master + 2
replicas + 3 Sentinels on loopback; replication and every Sentinel link authenticate as
`default` (masterauth, `sentinel auth-pass`, requirepass), as the chart configures them.

The chart's own scripts run as rendered from the pinned chart (render/: helm template of
charts/redis-23.1.1.tgz), as the user they run as (`default`, REDISCLI_AUTH from the password
file): the health probes, the start scripts' Sentinel query, the acl-reload sidecar, then
(a) a failover through prestop-redis.sh and prestop-sentinel.sh, and (b) SIGKILL of the
master. Healthy exporter scrapes (the program's flags) run in between. After each step ACL
LOG of every process is empty: nothing those flows send is refused. Only the Bitnami shell
libraries the scripts source (/opt/bitnami/scripts/libos.sh, libvalidations.sh) are stood in
for by chart_scripts.BITNAMI_LIBS, and the rendered HEADLESS_SERVICE is replaced so that a node's "pod
name" is its own loopback address (secure.node_ip)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from components.config import names
from components.config.sessions import stores_for, stores_in_order
from components.exporter import NO_CONFIG_COMMAND, exporter_args, sentinel_exporter_args
from components.monitoring.session_count import check_single_keys
from components.monitoring.targets import password_file
from components.redis import ACL_RELOAD_SCRIPT, acl_reload_env, connection_for
from render import render_stack
from simulators import secure
from simulators.loopback import (
    HOST,
    ProcessDied,
    Processes,
    Redis,
    Sentinel,
    connect,
    master_from_sentinels,
    scrape,
    start_exporter,
    wait_until,
)
from simulators.stack import start_counter
from tests.harness import FAKE_PASSWORD, unwrap
from tests.live.chart_scripts import pod_env, rendered_scripts, runnable
from tests.tools import require_binaries, require_helm
from tools.stackfile import load_settings

SETTINGS = {"redisTls": False, "sentinelDownAfterMs": 1000, "sentinelFailoverTimeoutMs": 3000,
            "wasApps": [{"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0"}],
            # what Debian's binaries are: each file for its own process version
            "redisImageTag": "7.0.15-debian-12-r0", "sentinelImageTag": "7.0.15-debian-12-r0"}
SCRAPES = 20
"""Healthy scrapes of every node and Sentinel before ACL LOG is read."""

class Env:
    """The stack, the rendered scripts and the files they read."""

    def __init__(self, procs: Processes, stack: secure.SecureStack, scripts: dict[str, str], work: Path):
        self.procs, self.stack, self.scripts, self.work = procs, stack, scripts, work
        self.password_file = work / "redis-password"
        self.password_file.write_text(secure.DEFAULT_PASSWORD)

    def script(self, name: str, node: int) -> Path:
        """A rendered script, runnable here (tests/live/chart_scripts.py)."""
        text = self.scripts[name]
        for lib in ("/opt/bitnami/scripts/libvalidations.sh", "/opt/bitnami/scripts/libos.sh"):
            assert f". {lib}\n" in text or not name.startswith("prestop"), (name, lib)
        path = self.work / f"{name}.{node}"
        path.write_text(runnable(text, node, self.work / "bitnami-libs.sh"))
        return path

    def run(self, name: str, node: int, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a script as node `node`'s pod would: its ports, the password file, no TLS."""
        env = pod_env(self.password_file, REDIS_PORT=str(self.stack.nodes[node].port),
                      REDIS_SENTINEL_PORT=str(self.stack.sentinels[node].port))
        return subprocess.run(["bash", str(self.script(name, node)), *args], env=env, capture_output=True,
                              text=True, timeout=timeout)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    require_binaries()
    work = tmp_path_factory.mktemp("acl")
    scripts = rendered_scripts(work, "prod", SETTINGS)
    procs = Processes(work / "procs")
    try:
        stack = secure.start(procs, load_settings("prod", SETTINGS), admin=True, node_ips=True)
        yield Env(procs, stack, scripts, work)
    finally:
        procs.close()


def processes(env: Env) -> list:
    return [*env.stack.nodes, *env.stack.sentinels]


def denials(env: Env, alive: list | None = None) -> dict[str, list[dict]]:
    """Non-empty ACL LOGs by process name."""
    logs = {p.name: env.stack.acl_log(p) for p in (alive if alive is not None else processes(env))}
    return {name: log for name, log in logs.items() if log}


def master(env: Env, sentinel: int = -1) -> tuple[str, int]:
    with env.stack.admin_client(env.stack.sentinels[sentinel]) as c:
        host, port = c.execute_command("SENTINEL", "get-master-addr-by-name", env.stack.master_set)
    return host, int(port)


def agreed_master(env: Env) -> tuple[str, int] | None:
    """The master every Sentinel names, or None while they differ (after a failover the
    others learn it from the leader's hello messages, every 2 s)."""
    named = {master(env, i) for i in range(len(env.stack.sentinels))}
    return named.pop() if len(named) == 1 else None


def test_the_files_are_the_70_ones_and_acl_log_catches_a_denial(env):
    """Both processes load the 7.0 files (no CLIENT SETINFO) and an empty ACL LOG means
    something: a refused command of `default` shows up, on a node and on a Sentinel."""
    for name in (names.REDIS_ACL_FILE, names.SENTINEL_ACL_FILE):
        assert "client|setinfo" not in (env.stack.acl_dir / name).read_text()
    assert env.stack.sentinel_version == (7, 0) and env.stack.redis_version == (7, 0)
    for p in (env.stack.nodes[0], env.stack.sentinels[0]):
        with p.client() as default:
            with pytest.raises(redis.exceptions.NoPermissionError):
                default.execute_command("ACL", "SETUSER", "intruder", "on", ">x", "+@all")
        [entry] = env.stack.acl_log(p)
        assert entry["username"] == "default" and entry["object"] == "acl|setuser"
        with env.stack.admin_client(p) as admin:
            admin.execute_command("ACL", "LOG", "RESET")
    assert not denials(env)


def test_sentinels_default_user_may_no_longer_reconfigure_anything(env):
    """Issue 20 item 3: with the chart password, SENTINEL SET / CONFIG SET / ACL SETUSER were open."""
    with env.stack.sentinels[0].client() as default:
        for command in (("SENTINEL", "SET", env.stack.master_set, "quorum", "1"), ("SENTINEL", "RESET", "*"),
                        ("SENTINEL", "MASTERS"), ("ACL", "SETUSER", "x", "on", ">y", "+@all"),
                        ("SENTINEL", "CONFIG", "SET", "resolve-hostnames", "no"), ("INFO",)):
            with pytest.raises(redis.exceptions.NoPermissionError):
                default.execute_command(*command)
        assert default.ping()
    with env.stack.admin_client(env.stack.sentinels[0]) as admin:
        assert len(admin.execute_command("ACL", "LOG")) >= 6
        admin.execute_command("ACL", "LOG", "RESET")


def test_redis_default_user_runs_no_lua_and_nothing_beyond_its_callers(env):
    """No `default` may run Lua (issue 20: CVE-2025-49844 and friends) or send what no caller does."""
    node = env.stack.nodes[1]
    with node.client() as default:
        for command in (("EVAL", "return 1", "0"), ("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"),
                        ("FCALL", "f", "0"), ("FUNCTION", "LIST"), ("SCRIPT", "KILL"), ("SCRIPT", "LOAD", "return 1"),
                        ("SYNC",), ("REPLICAOF", "NO", "ONE"), ("CONFIG", "GET", "*"), ("SET", "k", "v"),
                        ("KEYS", "*"), ("SUBSCRIBE", "other"), ("ACL", "LOG")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                default.execute_command(*command)
    logged = {e["object"] for e in env.stack.acl_log(node)}
    assert {"eval", "evalsha", "fcall", "script|kill", "sync", "replicaof", "config|get"} <= logged, logged
    with env.stack.admin_client(node) as admin:
        admin.execute_command("ACL", "LOG", "RESET")


def test_the_charts_probes_start_queries_and_the_acl_reload_sidecar_are_never_refused(env):
    stack = env.stack
    for node in range(len(stack.nodes)):
        for probe in ("ping_liveness_local.sh", "ping_readiness_local.sh", "ping_sentinel.sh"):
            result = env.run(probe, node, "5")
            assert result.returncode == 0, (probe, node, result.stdout, result.stderr)
    # start-node.sh / start-sentinel.sh: `REDISCLI_AUTH=$REDIS_PASSWORD timeout 90 redis-cli -h <service>
    # -p <sentinel port> sentinel get-master-addr-by-name <set>` (the rendered line, service -> loopback)
    line = next(x for x in env.scripts["start-sentinel.sh"].splitlines()
                if "sentinel get-master-addr-by-name" in x and "--tls" not in x)
    assert 'REDISCLI_AUTH="\\$REDIS_PASSWORD" timeout 90 redis-cli -h $REDIS_SERVICE -p $SENTINEL_SERVICE_PORT' in line
    out = subprocess.run(["timeout", "90", "redis-cli", "-h", HOST, "-p", str(stack.sentinels[1].port), "sentinel",
                          "get-master-addr-by-name", stack.master_set], capture_output=True, text=True, timeout=95,
                         env={**os.environ, "REDISCLI_AUTH": secure.DEFAULT_PASSWORD}).stdout.split()
    assert out == [secure.node_ip(0), str(stack.nodes[0].port)]
    # the acl-reload sidecar: ACL LOAD as `default` on a node's Redis and Sentinel ports
    ports = [stack.nodes[1].port, stack.sentinels[1].port]
    reload_env = acl_reload_env(ports, False, acl_dir=str(stack.acl_dir), password_file=str(env.password_file),
                                interval=1, heartbeat=str(env.work / "alive"))
    reloader = env.procs.start("acl-reload", ["bash", "-c", ACL_RELOAD_SCRIPT], env=reload_env)
    try:
        wait_until(lambda: "acl-reload: loaded digest=" in reloader.log.read_text(), 20, what="ACL LOAD on both ports",
                   procs=(reloader,))
    finally:
        reloader.stop()
    assert "acl-reload: port" not in reloader.log.read_text()  # no port refused it
    wait_until(lambda: all(n.client().info("replication")["master_link_status"] == "up"
                           for n in stack.nodes[1:]), 30, what="replicas in sync after ACL LOAD")
    assert not denials(env)


def test_healthy_exporter_scrapes_leave_acl_log_empty(env):
    """Issue 20 item 5: CONFIG GET * and SLOWLOG GET were refused on every scrape. The
    exporter runs with the program's flags (Debian's 1.45 here) as the exporter user."""
    stack, work = env.stack, env.work
    settings = stack.settings
    conn = connection_for(settings.redis.release_name, settings.redis, settings.namespace, stores_in_order(settings.was_apps))
    nodes, sentinels = stack.nodes, stack.sentinels
    urls = {f"redis://{h}:{conn['port']}": f"redis://{HOST}:{n.port}" for h, n in zip(conn['node_hosts'], nodes, strict=True)}
    urls |= {f"redis://{h}:{conn['sentinel_port']}": f"redis://{HOST}:{s.port}"
             for h, s in zip(conn['node_hosts'], sentinels, strict=True)}
    file_map: dict[str, str] = json.loads(password_file(conn, secure.client_password("exporter")))
    (work / "passwords.json").write_text(json.dumps(
        {k.replace(url, urls[url]): v for k, v in file_map.items() for url in urls if k.endswith(url.split("://")[1])}))
    ports = []
    single_keys = check_single_keys(stores_for(settings.was_apps))  # the count's key reads: TYPE (+ ZCARD)
    for name, args in (("node-exporter", exporter_args(conn, single_keys)),
                       ("sentinel-exporter", sentinel_exporter_args(conn))):
        assert NO_CONFIG_COMMAND in args
        # plain HTTP here; the web endpoint's client-certificate TLS: test_exporter_auth_live.py
        args = [f"--redis.password-file={work / 'passwords.json'}" if a.startswith("--redis.password-file=") else
                f"--redis.addr={urls[a.split('=', 1)[1]]}" if a.startswith("--redis.addr=") else a
                for a in args if not a.startswith("--tls-server-")]
        ports.append(start_exporter(env.procs, args, name=name)[1])
    with stack.connect("petclinic") as c:  # some traffic, so the scrapes have something to see
        stack.writer("petclinic", c).create(20)
    # The session counter (COUNTER_SCRIPT, as `counter`), given the replicas first: they answer
    # its SET with READONLY, it keeps the master. The exporter then reads a count key that
    # exists (TYPE, GET, PFCOUNT, STRLEN; MEMORY USAGE on 1.74).
    stores = stores_for(settings.was_apps)
    counter = start_counter(env.procs, [n.addr for n in [*nodes[1:], nodes[0]]], stores,
                            secure.client_password(names.COUNTER_USER), redis_version=stack.redis_version)
    [store] = stores
    try:
        with stack.admin_client(nodes[0]) as a:
            a.execute_command("SELECT", store.database)
            wait_until(lambda: a.execute_command("GET", names.SESSION_COUNT_KEY) == "20", 15, what="counted", procs=(counter,))
        started = time.monotonic()
        for _ in range(SCRAPES):
            for port, targets in ((ports[0], nodes), (ports[1], sentinels)):
                for p in targets:
                    metrics = scrape(port, f"redis://{HOST}:{p.port}")
                    assert metrics["redis_up"] == [("", 1.0)], p.name
                    if p in nodes:  # the master's count key, replicated to every node
                        assert (f'{{db="db{store.database}",key="{names.SESSION_COUNT_KEY}"}}', 20.0) \
                            in metrics["redis_key_value"], p.name
        elapsed = time.monotonic() - started
    finally:
        counter.stop()
    log = counter.log.read_text()
    assert f"counting on {nodes[0].addr}" in log and "READONLY" in log, log
    print(f"\nexporter: {SCRAPES * len(processes(env))} scrapes of {len(processes(env))} processes in {elapsed:.1f}s")
    assert not denials(env), f"after {SCRAPES} scrapes of {len(processes(env))} processes in {elapsed:.0f}s"
    for n in nodes:  # the slow log is off: SLOWLOG GET, now granted, can return nothing
        with stack.exporter_client(n) as e:
            assert e.execute_command("SLOWLOG", "GET", "128") == [] and e.execute_command("SLOWLOG", "LEN") == 0


def test_a_failover_through_the_charts_prestop_scripts(env):
    """(a) The master's pod is stopped: prestop-redis.sh (ROLE, SENTINEL get-master-addr-by-name,
    CLIENT PAUSE, SENTINEL FAILOVER as `default`), then prestop-sentinel.sh on its Sentinel."""
    stack = env.stack
    assert master(env) == (secure.node_ip(0), stack.nodes[0].port)
    started = time.monotonic()
    result = env.run("prestop-redis.sh", 0, timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Issuing failover" in result.stdout and "NOPERM" not in result.stdout + result.stderr
    new = wait_until(lambda: (m := agreed_master(env)) and m[1] != stack.nodes[0].port and m, 30,
                     what="every Sentinel to name the new master")
    assert new[0] in (secure.node_ip(1), secure.node_ip(2)) and took < 25
    print(f"\npreStop failover: prestop-redis.sh returned after {took:.1f}s, new master {new[0]}")
    sentinel_stop = env.run("prestop-sentinel.sh", 0, timeout=60)
    assert sentinel_stop.returncode == 0 and "NOPERM" not in sentinel_stop.stdout + sentinel_stop.stderr
    with stack.connect("petclinic") as c:  # the app finds and writes to the new master
        assert stack.writer("petclinic", c).create(3)
    # the old master follows the new one (Sentinel's SLAVEOF transaction as `default`)
    wait_until(lambda: stack.nodes[0].role() == "slave", 30, what="the old master to become a replica")
    assert not denials(env)


def test_killing_the_master_elects_another(env):
    """(b) SIGKILL of the master: the Sentinels agree (IS-MASTER-DOWN-BY-ADDR between them as
    `default`), promote a replica, reconfigure the other one."""
    stack = env.stack
    host, port = wait_until(lambda: agreed_master(env), 30, what="the Sentinels to agree on the master")
    victim = next(n for n in stack.nodes if n.port == port)
    before = denials(env)  # read the victim's log while it lives
    victim.kill(signal.SIGKILL)
    started = time.monotonic()
    password = secure.client_password("petclinic")
    app = stack.apps[0]
    wait_until(lambda: master_from_sentinels(stack.sentinel_addrs(), stack.master_set, password,
                                             username=app.user)[1] != port, 30, what="a new master")
    took = time.monotonic() - started
    print(f"\nmaster killed: a new master after {took:.1f}s")
    alive = [n for n in stack.nodes if n is not victim]
    new_port = wait_until(lambda: (m := agreed_master(env)) and m[1] != port and m[1], 30,
                          what="every Sentinel to name the new master")
    others = [n for n in alive if n.port != new_port]
    wait_until(lambda: all(n.client().info("replication")["master_link_status"] == "up" for n in others), 30,
               what="the other replica to follow the new master")
    with connect(HOST, new_port, password, app.database, username=app.user) as c:
        assert stack.writer("petclinic", c).create(1)
    assert not before and not denials(env, [*alive, *stack.sentinels]), took


@pytest.mark.parametrize("key,tag,loads", [("sentinelImageTag", "7.0.15-debian-12-r0", True),
                                          ("sentinelImageTag", "8.2.1-debian-12-r0", False),
                                          ("redisImageTag", "7.0.15-debian-12-r0", True),
                                          ("redisImageTag", "8.2.1-debian-12-r0", False)])
def test_a_rendered_acl_file_loads_in_the_version_it_was_rendered_for(procs, tmp_path, key, tag, loads):
    """Issue 20 item 4, with the renderer: one image tag set, the other left at 8.2. Debian's
    redis-sentinel / redis-server 7.0 load the file rendered for 7.0 and abort on the one
    rendered for 8.2 ("Aborting Redis startup because of ACL errors"): before the files followed
    their own image, sentinelImageTag=7.0.x got the 8.2 file and every Sentinel did that."""
    require_helm()
    run, _ = render_stack("prod", tmp_path / "out", {key: tag})
    files = unwrap(run.one("kubernetes:core/v1:Secret", "redis-acl").inputs["stringData"])
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    redis_acl = {"aclfile": str(tmp_path / names.REDIS_ACL_FILE)} if key == "redisImageTag" else {}
    node = Redis(procs, "node", FAKE_PASSWORD, redis_acl)
    if key == "redisImageTag" and not loads:
        with pytest.raises(ProcessDied, match="ACL errors"):
            node.start()
        return
    node.start()
    if key == "redisImageTag":  # `default` with the chart password: what the probes send
        assert node.ping() and node.role() == "master"
        return
    sentinel = Sentinel(procs, "sentinel", FAKE_PASSWORD, node, "mymaster", 1, 1000, 3000,
                        f"aclfile {tmp_path / names.SENTINEL_ACL_FILE}\n")
    if loads:
        sentinel.start()
        with connect(HOST, sentinel.port, FAKE_PASSWORD) as c:  # `default`, the chart password
            assert c.execute_command("SENTINEL", "get-master-addr-by-name", "mymaster") == [HOST, str(node.port)]
    else:
        with pytest.raises(ProcessDied, match="ACL errors"):
            sentinel.start()
