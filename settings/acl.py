"""Redis ACL users: who may run which command on which keys and channels.

Pure functions (no Pulumi): the component writes their output into the ACL Secret, the
live tests load the very same text into real redis-server and redis-sentinel processes.

Users on every Redis node (`redis.acl`):
- `default`: the chart-internal credential (the chart's Secret, mounted only into the Redis
  pods): replication (`--masterauth`), Sentinel's links (`sentinel auth-pass`), the chart's
  health and preStop scripts, and the ACL reload sidecar. No key access, one channel
  (`__sentinel__:hello`), only the commands those callers send:
  replica -> master PING, REPLCONF, PSYNC/SYNC (redis/redis src/replication.c
  syncWithMaster); Sentinel -> node PING, INFO, ROLE, CLIENT SETNAME|KILL, CONFIG REWRITE,
  SLAVEOF/REPLICAOF, MULTI/EXEC, SCRIPT KILL, PUBLISH/SUBSCRIBE __sentinel__:hello (the
  Sentinel ACL list of the Redis Sentinel documentation, "Redis Access Control List
  authentication"); chart scripts PING (health-configmap.yaml), ROLE and CLIENT PAUSE
  (prestop-redis.sh); ACL LOAD (our reload sidecar).
- `was-<app>` per WAS app: its own key namespace, its own database (`+select|<db>`), its
  own Pub/Sub channels, and the commands its Spring Session repository type sends
  (see APP_COMMANDS for the sources).
- `exporter`: INFO, the store-check script and the counting endpoint's SCAN; the only keys
  it reads are the sorted sets, read-only (`%R~`), through ACL selectors; no write command.

Users on every Sentinel (`sentinel.acl`): `default` (all commands: the chart's scripts and the
peer Sentinels authenticate with it; a Sentinel holds no session data), `was-<app>` may only
ask for the master (`SENTINEL get-master-addr-by-name`), `exporter` only reads Sentinel state.

Passwords appear only as SHA-256 hashes (`#<hex>`, Redis ACL syntax); a user holds one hash
per accepted password generation, which is what makes a rotation without downtime possible.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitoring.session_count import DEFAULT_NAMESPACE
from settings import names

# Commands per Spring Session repository type, as Lettuce puts them on the wire
# (docs/research/spring-session.md, section A5 and "Command lists for Redis ACL"):
# - handshake: HELLO and AUTH are NO_AUTH commands (redis/redis src/commands/hello.json,
#   auth.json), never checked; SELECT <db> for db > 0 and CLIENT SETINFO (Lettuce 6.3
#   RedisHandshake.applyPostHandshake fails the connection without it on Redis >= 7.2;
#   6.4+ sends it fire-and-forget), CLIENT SETNAME under RESP2 with a client name, PING
#   (validateConnection, Pub/Sub close: SDR LettuceSubscription.doClose).
# - health: Boot 3/4 RedisHealthIndicator / DataRedisHealthIndicator send INFO, Boot 2.7
#   and the reactive indicator INFO server.
# - RedisSessionRepository (spring-session-data-redis RedisSessionRepository.java): findById
#   HGETALL (+DEL when expired), save EXISTS, RENAME (changeSessionId), HMSET, PEXPIREAT
#   (EXPIREAT fallback in Spring Data Redis <= 3.x), deleteById DEL.
# - RedisIndexedSessionRepository (RedisIndexedSessionRepository.java saveDelta,
#   saveChangeSessionId, deleteById, onMessage, cleanUpExpiredSessions; the minute-based
#   store and SortedSetRedisSessionExpirationStore): HGETALL, HMSET, APPEND, PEXPIRE (EXPIRE
#   fallback), PERSIST (maxInactiveInterval < 0), EXISTS, RENAME, DEL, SADD/SREM/SMEMBERS
#   (principal index, minute sets), ZADD/ZREM/ZREVRANGEBYSCORE (sorted-set store), PUBLISH
#   of the created event, SUBSCRIBE __keyevent@<db>__:del|expired and PSUBSCRIBE
#   <ns>:event:<db>:created:* (RedisIndexedHttpSessionConfiguration), UNSUBSCRIBE/PUNSUBSCRIBE
#   on close. CONFIG GET/SET is not granted: apps run with configure-action=none and Redis
#   gets notify-keyspace-events from its config.
CONNECTION = ("ping", "client|setname", "info")
SETINFO = "client|setinfo"  # exists from Redis 7.2 (an unknown command fails the whole ACL file)
APP_COMMANDS = {
    "default": ("hgetall", "hmset", "exists", "rename", "del", "pexpireat", "expireat"),
    "indexed": ("hgetall", "hmset", "exists", "rename", "del", "pexpire", "expire", "append", "persist",
                "sadd", "srem", "smembers", "zadd", "zrem", "zrevrangebyscore",
                "publish", "subscribe", "psubscribe", "unsubscribe", "punsubscribe"),
}
DEFAULT_USER_COMMANDS = ("ping", "replconf", "psync", "sync", "info", "role", "client|setname", "client|kill",
                         "client|pause", "config|rewrite", "slaveof", "replicaof", "multi", "exec", "script|kill",
                         "publish", "subscribe", "acl|load")
SENTINEL_HELLO = "__sentinel__:hello"
# redis_exporter's scrape (oliver006/redis_exporter exporter.go scrapeRedisHost): INFO ALL
# (fatal if refused), CLIENT SETNAME, LATENCY LATEST|HISTOGRAM, SLOWLOG LEN, and EVAL of the
# store-check script. Refused on purpose, each logged by the exporter and the scrape goes on:
# CONFIG GET * (returns requirepass/masterauth in clear: the default user's password) and
# SLOWLOG GET (slow commands with their arguments: session ids).
EXPORTER_COMMANDS = ("ping", "client|setname", "info", "latency|latest", "latency|histogram", "slowlog|len")
# The script (monitoring/session_count.py lua_script): TIME, SELECT <app db>, RANDOMKEY (no
# key argument: the ACL key patterns do not apply), EXISTS and ZCOUNT on the sorted-set keys
# (selectors below). The counting endpoint (`count-keys`, exporter.go getKeysCount): SELECT,
# SCAN ... MATCH (no key argument either). RANDOMKEY and SCAN return key names, i.e. session
# ids, never values: docs/security.md "What the exporter can see".
EXPORTER_SCRIPT_COMMANDS = ("eval", "time", "select", "randomkey", "scan")
SENTINEL_APP_COMMANDS = ("ping", "client|setname", "sentinel|get-master-addr-by-name")
SENTINEL_EXPORTER_COMMANDS = ("ping", "client|setname", "info", "sentinel|masters", "sentinel|master",
                              "sentinel|sentinels", "sentinel|slaves", "sentinel|replicas", "sentinel|ckquorum")


@dataclass(frozen=True)
class AppAcl:
    """What one WAS app's user is confined to."""

    app: str
    """WAS app name (user `was-<app>`)."""
    namespace: str
    """Spring Session key namespace."""
    database: int
    """Its logical database."""
    repository_type: str
    """`default` or `indexed`."""

    @property
    def user(self) -> str:
        return names.app_user(self.app)


def password_hash(password: str) -> str:
    """Redis ACL password hash: SHA-256 hex of the password."""
    return hashlib.sha256(password.encode()).hexdigest()


def redis_version(tag: str) -> tuple[int, int]:
    """(major, minor) of a Redis image tag such as 8.2.1-debian-12-r0; unknown -> newest."""
    m = re.match(r"^v?(\d+)\.(\d+)", tag)
    return (int(m.group(1)), int(m.group(2))) if m else (99, 0)


def _commands(commands: Iterable[str]) -> str:
    return "-@all " + " ".join(f"+{c}" for c in commands)


def _connection(version: tuple[int, int]) -> tuple[str, ...]:
    return CONNECTION + ((SETINFO,) if version >= (7, 2) else ())


def app_rules(app: AppAcl, version: tuple[int, int]) -> str:
    """ACL rules (after the passwords) of an app's user on the Redis nodes."""
    ns, db = app.namespace, app.database
    if app.repository_type == "default":
        keys, channels = f"~{ns}:sessions:*", ""
    else:
        keys = f"~{ns}:*"
        channels = f" &{ns}:event:{db}:created:* &__keyevent@{db}__:del &__keyevent@{db}__:expired"
    commands = _connection(version) + (f"select|{db}",) + APP_COMMANDS[app.repository_type]
    return f"resetkeys {keys} resetchannels{channels} {_commands(commands)}"


def exporter_rules(apps: Sequence[AppAcl], version: tuple[int, int]) -> str:
    """The exporter's rules on the Redis nodes: read-only, and only what its scrape, the
    store-check script and the counting endpoint (monitoring/session_count.py) send; the
    only keys it reads are the sorted sets (each app's and Spring's DEFAULT_NAMESPACE one,
    which the store check looks for), through read-only selectors."""
    commands = EXPORTER_COMMANDS + ((SETINFO,) if version >= (7, 2) else ()) + \
        (EXPORTER_SCRIPT_COMMANDS if apps else ())
    zsets = dict.fromkeys([f"{a.namespace}:sessions:expirations" for a in apps]
                          + ([f"{DEFAULT_NAMESPACE}:sessions:expirations"] if apps else []))
    selectors = "".join(f" (%R~{key} +exists +zcount)" for key in zsets)
    return f"resetkeys resetchannels {_commands(commands)}{selectors}"


def default_rules() -> str:
    """The internal `default` user on the Redis nodes: no keys, Sentinel's hello channel."""
    return f"resetkeys resetchannels &{SENTINEL_HELLO} {_commands(DEFAULT_USER_COMMANDS)}"


def sentinel_app_rules(version: tuple[int, int]) -> str:
    return f"resetkeys resetchannels {_commands(SENTINEL_APP_COMMANDS + ((SETINFO,) if version >= (7, 2) else ()))}"


def sentinel_exporter_rules(version: tuple[int, int]) -> str:
    extra = (SETINFO,) if version >= (7, 2) else ()
    return f"resetkeys resetchannels {_commands(SENTINEL_EXPORTER_COMMANDS + extra)}"


def user_line(user: str, hashes: Iterable[str], rules: str) -> str:
    """One ACL file line; a user without a hash gets none (and so cannot log in)."""
    passwords = " ".join(f"#{h}" for h in hashes)
    return f"user {user} on {passwords} {rules}".replace("  ", " ")


def acl_files(default_hash: str, app_hashes: dict[str, Sequence[str]], exporter_hashes: Sequence[str],
              apps: Sequence[AppAcl], version: tuple[int, int]) -> dict[str, str]:
    """{redis.acl, sentinel.acl} file contents. `app_hashes` maps app name -> accepted hashes."""
    redis = [user_line("default", [default_hash], default_rules())]
    sentinel = [user_line("default", [default_hash], "~* &* +@all")]
    for a in apps:
        redis.append(user_line(a.user, app_hashes[a.app], app_rules(a, version)))
        sentinel.append(user_line(a.user, app_hashes[a.app], sentinel_app_rules(version)))
    redis.append(user_line(names.EXPORTER_USER, exporter_hashes, exporter_rules(apps, version)))
    sentinel.append(user_line(names.EXPORTER_USER, exporter_hashes, sentinel_exporter_rules(version)))
    return {names.REDIS_ACL_FILE: "\n".join(redis) + "\n", names.SENTINEL_ACL_FILE: "\n".join(sentinel) + "\n"}


def app_acls(apps) -> tuple[AppAcl, ...]:
    """AppAcl per WasAppSettings."""
    return tuple(AppAcl(a.name, a.session_namespace, a.session_database, a.repository_type) for a in apps)
