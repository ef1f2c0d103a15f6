"""A Redis topology on loopback locked down the way the program deploys it: the ACL files
components/config/acl.py writes (loaded by every redis-server and redis-sentinel through
`aclfile`), the Redis config the chart gets, and optionally mutual TLS on every port with
certificates made like the program's (simulators/certs.py). Used by the security live
tests, the rotation test and the failover benchmark."""
from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from components.config import acl, names, sessions
from simulators import certs
from simulators.certs import TlsFiles
from simulators.loopback import HOST, Processes, Redis, Sentinel, connect, master_from_sentinels, wait_until
from simulators.spring_session import SessionWriter
from simulators.stack import redis_conf

DEFAULT_PASSWORD = "loopback-default-password-0"
FAST = {"repl-diskless-sync-delay": "0"}  # loopback only: no 5 s wait before the first sync


ADMIN_USER = "loopback-admin"
"""A user only the live tests add (SecureStack.admin), to read ACL LOG: no user the program
writes may (the `default` users least of all)."""
ADMIN_PASSWORD = "loopback-admin-password"


def local_redis_version(binary: str = "redis-server") -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"v=(\d+)\.(\d+)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def client_password(client: str, generation: int = 1) -> str:
    """A deterministic test password per client and generation."""
    return f"loopback-{client}-g{generation}-pw"


@dataclass
class SecureStack:
    """Processes, users and the files they read."""

    settings: object
    nodes: list[Redis]
    sentinels: list[Sentinel]
    acl_dir: Path
    apps: tuple[sessions.SessionStore, ...]
    redis_version: tuple[int, int]
    sentinel_version: tuple[int, int]
    tls: TlsFiles | None = None
    client_tls: dict[str, TlsFiles] = field(default_factory=dict)
    admin: bool = False
    """Append ADMIN_USER to both files (tests that read ACL LOG)."""

    @property
    def master_set(self) -> str:
        return self.settings.redis.sentinel.master_set if self.sentinels else ""  # type: ignore[attr-defined]

    def sentinel_addrs(self) -> list[tuple[str, int]]:
        return [(HOST, s.port) for s in self.sentinels]

    def write_acl(self, generations: dict[str, list[int]], defaults: Sequence[str] = (DEFAULT_PASSWORD,)) -> None:
        """Write both ACL files accepting, per client (app name or `exporter`), the given
        password generations, and for `default` the `defaults` passwords (the program's
        acl_files with these passwords)."""
        def hashes(client: str) -> list[str]:  # the operator keeps generation 1 unless given
            return [acl.password_hash(client_password(client, g)) for g in generations.get(client, [1])]
        files = acl.acl_files([acl.password_hash(p) for p in defaults], {a.app: hashes(a.app) for a in self.apps},
                              hashes("exporter"), self.apps, self.redis_version, self.sentinel_version,
                              operator_hashes=hashes(names.OPERATOR_USER), counter_hashes=hashes(names.COUNTER_USER))
        admin = f"user {ADMIN_USER} on >{ADMIN_PASSWORD} ~* &* +@all\n" if self.admin else ""
        for name, text in files.items():
            (self.acl_dir / name).write_text(text + admin)

    def admin_client(self, target: Redis | Sentinel) -> redis.Redis:
        assert self.admin, "started without the admin user"
        return connect(HOST, target.port, ADMIN_PASSWORD, username=ADMIN_USER, tls=self.tls)

    def acl_log(self, target: Redis | Sentinel) -> list[dict]:
        """ACL LOG of one process (every entry: without a count it shows 10), each entry as a dict
        (reason, context, object, username, ...)."""
        with self.admin_client(target) as c:
            return c.execute_command("ACL", "LOG", "1000")  # RESP3: one map per entry

    def user_tls(self, user: str) -> TlsFiles | None:
        return self.client_tls.get(user) if self.tls else None

    def connect(self, app: str, generation: int = 1, node: Redis | None = None) -> redis.Redis:
        """A connection as app's user to the master (asked from the Sentinels as that user),
        its database selected: what Lettuce does for Spring."""
        a = next(x for x in self.apps if x.app == app)
        password, tls = client_password(app, generation), self.user_tls(a.user)
        if node is None and self.sentinels:
            host, port = master_from_sentinels(self.sentinel_addrs(), self.master_set, password, username=a.user, tls=tls)
        else:
            host, port = HOST, (node or self.nodes[0]).port
        return connect(host, port, password, a.database, username=a.user, tls=tls)

    def writer(self, app: str, client: redis.Redis) -> SessionWriter:
        a = next(x for x in self.apps if x.app == app)
        s = next(x for x in self.settings.was_apps if x.name == app)  # type: ignore[attr-defined]
        return SessionWriter(client, a.namespace, a.repository_type, s.session_timeout_seconds, 256,
                             a.expiration_store, database=a.database)

    def operator_password_file(self) -> Path:
        """The operator's password as a file, as its Secret is mounted in a Redis pod."""
        path = self.acl_dir.parent / "operator-password"
        path.write_text(client_password(names.OPERATOR_USER))
        return path

    def replicas_in_sync(self) -> bool:
        """Every other node a replica of node-0, linked and at its replication offset."""
        info = self.nodes[0].client().info("replication")
        replicas = [v for k, v in info.items() if re.fullmatch(r"slave\d+", k)]
        return len(replicas) == len(self.nodes) - 1 and \
            {int(v["offset"]) for v in replicas} == {info["master_repl_offset"]}

    def pod_sentinel(self, procs: Processes, name: str, monitored: int, password: str = DEFAULT_PASSWORD,
                     tls: TlsFiles | None = None) -> Sentinel:
        """A restarted pod's Sentinel, started: the stack's Sentinel settings and ACL file,
        watching node `monitored` at its own address (a `node_ips` stack)."""
        s = self.settings.redis.sentinel  # type: ignore[attr-defined]
        node = self.nodes[monitored]
        return Sentinel(procs, name, password, node, s.master_set, s.quorum, s.down_after_ms, s.failover_timeout_ms,
                        f"aclfile {self.acl_dir / names.SENTINEL_ACL_FILE}\n", tls=tls, master_host=node_ip(monitored)
                        ).start()

    def exporter_client(self, target: Redis | Sentinel, generation: int = 1) -> redis.Redis:
        return connect(HOST, target.port, client_password("exporter", generation),
                      username=names.EXPORTER_USER, tls=self.user_tls(names.EXPORTER_USER))


def node_ip(i: int) -> str:
    """A loopback address of its own for node i (127.0.0.0/8 all reaches lo): the chart's
    scripts tell nodes apart by host, as pods have their own names."""
    return f"127.0.0.{i + 2}"


def start(procs: Processes, settings, tls: bool = False, sentinel: bool = True, admin: bool = False,
          node_ips: bool = False) -> SecureStack:
    """Nodes (master first) and, for `sentinel`, one Sentinel per node, all on the ACL. With
    `node_ips`, node i also listens on node_ip(i) and announces it (replica-announce-ip, as
    the chart's start-node.sh announces the pod's name); Sentinels watch node_ip(0)."""
    acl_dir = procs.workdir / "acl"
    acl_dir.mkdir()
    apps = sessions.stores_in_order(settings.was_apps)
    server: TlsFiles | None = None
    clients: dict[str, TlsFiles] = {}
    if tls:
        clients_wanted = [a.user for a in apps] + [names.EXPORTER_USER]
        server, clients = certs.issue(procs.workdir / "certs", [node_ip(i) for i in range(settings.redis.sentinel.nodes)]
                                      if node_ips and sentinel else [], clients_wanted)
    stack = SecureStack(settings, [], [], acl_dir, apps, local_redis_version(), local_redis_version("redis-sentinel"),
                        server, clients, admin)
    stack.write_acl({**{a.app: [1] for a in apps}, "exporter": [1]})
    conf = {**redis_conf(settings, str(acl_dir / names.REDIS_ACL_FILE)), **FAST}
    s = settings.redis.sentinel
    count = s.nodes if sentinel else 1
    if not sentinel:  # standalone: no replica to wait for
        conf = {k: v for k, v in conf.items() if not k.startswith("min-replicas")}

    def own(i: int) -> dict[str, str]:
        return {"bind": f"{HOST} {node_ip(i)}", "replica-announce-ip": node_ip(i)} if node_ips else {}
    master_host = node_ip(0) if node_ips else HOST
    master = Redis(procs, "node-0", DEFAULT_PASSWORD, {**conf, **own(0)}, tls=server).start()
    stack.nodes.append(master)
    for i in range(1, count):
        stack.nodes.append(Redis(procs, f"node-{i}", DEFAULT_PASSWORD,
                                 {**conf, **own(i), "replicaof": f"{master_host} {master.port}"}, tls=server).start())
    if count > 1:
        wait_until(lambda: all(n.client().info("replication")["master_link_status"] == "up"
                               for n in stack.nodes[1:]), 30, what="replicas in sync")
    if sentinel:
        extra = f"aclfile {acl_dir / names.SENTINEL_ACL_FILE}\n"
        for i in range(count):
            stack.sentinels.append(Sentinel(procs, f"sentinel-{i}", DEFAULT_PASSWORD, master, s.master_set, s.quorum,
                                            s.down_after_ms, s.failover_timeout_ms, extra, tls=server,
                                            master_host=master_host).start())

        def known(x: Sentinel) -> bool:  # asked as the exporter: `default` may not list replicas
            with stack.exporter_client(x) as c:
                return len(c.execute_command("SENTINEL", "replicas", s.master_set)) == count - 1
        wait_until(lambda: all(known(x) for x in stack.sentinels), 30, what="sentinels know the replicas")
    return stack
