"""Redis ACL users: who may run which command on which keys and channels.

Pure functions (no Pulumi): the component writes their output into the ACL Secret, the
live tests load the very same text into real redis-server and redis-sentinel processes.

Users on every Redis node (`redis.acl`):
- `default`: the chart-internal credential (the chart's Secret, mounted only into the Redis
  pods): replication (`--masterauth`), Sentinel's links (`sentinel auth-pass`), the chart's
  health and preStop scripts, and the ACL reload sidecar. No key, one channel
  (`__sentinel__:hello`), exactly the commands those callers send (DEFAULT_USER_COMMANDS,
  each with its source; docs/security.md lists them).
- `was-<app>` per WAS app: its own key namespace, its own database (`+select|<db>`), its
  own Pub/Sub channels, and the commands its Spring Session repository type sends
  (see APP_COMMANDS for the sources).
- `exporter`: INFO, TYPE/ZCARD of the sorted-set keys and TYPE/GET of the session count key
  (read-only `%R~` selectors); no SCAN, no write command, no Lua, no RANDOMKEY: it can name no key.
- `counter`: the session counter sidecar (components/exporter.py COUNTER_SCRIPT): SCAN of the
  SCAN-counted stores' databases and SET of the count key only (a `%W~` selector); no read of a
  value, no Lua.
- `operator`: the humans following docs/runbooks.md (redis-cli in a Redis pod): exactly the
  commands the runbook lines send (OPERATOR_COMMANDS), key metadata but no key value, and
  DEL only of the sorted sets the runbooks tell to delete (a selector).

Users on every Sentinel (`sentinel.acl`): `default` (the chart's scripts and the peer
Sentinels authenticate with it: SENTINEL_DEFAULT_COMMANDS, each with its source),
`was-<app>` may only ask for the master (`SENTINEL get-master-addr-by-name`), `exporter`
only reads Sentinel state, `operator` reads Sentinel state and may start a failover (the
runbooks' Sentinel lines).

Each file follows the version of the process that loads it (an unknown command makes Redis
refuse the whole file, "Aborting Redis startup because of ACL errors"): redis.acl the Redis
image's (`redisImageTag`), sentinel.acl the Sentinel image's (`sentinelImageTag`);
image_version() parses a tag and refuses a version the rules are not written for.

Passwords appear only as SHA-256 hashes (`#<hex>`, Redis ACL syntax); a user holds one hash
per accepted password generation, which is what makes a rotation without downtime possible.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from . import names
from .sessions import DEFAULT_NAMESPACE, SessionStore

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
# The Redis `default` user: every command the chart's scripts (redis 23.1.1, rendered
# configmap-redis-scripts.yaml / configmap-redis-health.yaml; template lines of
# templates/scripts-configmap.yaml and templates/health-configmap.yaml), replication, Sentinel
# and our acl-reload sidecar send to a Redis node, with AUTH <password> as `default`:
# - replica -> master (redis/redis src/replication.c syncWithMaster, 7.0.15 and 7.4.1):
#   PING, REPLCONF (listening-port, ip-address, capa), PSYNC. SYNC only follows a PSYNC a
#   pre-2.8 master does not know (PSYNC_NOT_SUPPORTED): not granted.
# - Sentinel -> node (src/sentinel.c 7.0.15 = 7.4.1): CLIENT SETNAME (sentinelSetClientName),
#   PING (sentinelSendPing), INFO (sentinelSendPeriodicCommands), SUBSCRIBE and PUBLISH on
#   __sentinel__:hello (sentinelReconnectInstance, sentinelSendHello), and the failover
#   transaction MULTI, SLAVEOF, CONFIG REWRITE, CLIENT KILL TYPE normal|pubsub, EXEC
#   (sentinelSendSlaveOf). Sentinel sends SLAVEOF, never REPLICAOF: not granted.
#   SCRIPT KILL (sentinelPingReplyCallback) is sent only when a node answers BUSY, i.e. runs a
#   Lua script or function too long; no user of this program may run one (no EVAL, EVALSHA,
#   FCALL for anyone), so there is nothing to kill: not granted (a denial would be logged in
#   ACL LOG, where it would be a real finding).
# - chart scripts: PING (health ping_liveness_local.sh / ping_readiness_local.sh,
#   health-configmap.yaml lines 37 and 90), ROLE and CLIENT PAUSE <ms> WRITE (prestop-redis.sh,
#   scripts-configmap.yaml lines 689 and 807). INFO replication (line 48) only with
#   sentinel.replicaSyncCheck, which the program leaves off; INFO is granted for Sentinel anyway.
# - acl-reload sidecar (components/redis.py ACL_RELOAD_SCRIPT): ACL LOAD.
DEFAULT_USER_COMMANDS = ("ping", "replconf", "psync", "info", "role", "client|setname", "client|kill",
                         "client|pause", "config|rewrite", "slaveof", "multi", "exec", "publish", "subscribe",
                         "acl|load")
# The Sentinel `default` user: the chart's scripts and the peer Sentinels (sentinel.c
# sentinelSendAuthIfNeeded: without `sentinel sentinel-user/-pass` a Sentinel authenticates to
# its peers with its own requirepass, i.e. as `default`; the chart's start-sentinel.sh writes
# requirepass, scripts-configmap.yaml line 443):
# - peers (sentinel.c): CLIENT SETNAME (sentinelSetClientName), PING (sentinelSendPing),
#   PUBLISH __sentinel__:hello (sentinelSendHello, "to all the three kinds of instances"),
#   SENTINEL IS-MASTER-DOWN-BY-ADDR (sentinelAskMasterStateToOtherSentinels). A Sentinel sends
#   no INFO to Sentinels and subscribes only on masters and replicas (sentinelReconnectInstance).
# - chart scripts: PING (health ping_sentinel.sh, health-configmap.yaml line 126), SENTINEL
#   GET-MASTER-ADDR-BY-NAME (start-node.sh line 111, start-sentinel.sh lines 386/388,
#   prestop-sentinel.sh line 622, prestop-redis.sh line 767), SENTINEL FAILOVER (prestop-redis.sh
#   line 811). SENTINEL MASTER (start-node.sh validate_quorum, line 99) runs only with
#   sentinel.automateClusterRecovery, which the program leaves off: not granted.
# - acl-reload sidecar: ACL LOAD.
SENTINEL_DEFAULT_COMMANDS = ("ping", "client|setname", "publish", "sentinel|is-master-down-by-addr",
                             "sentinel|get-master-addr-by-name", "sentinel|failover", "acl|load")
SENTINEL_HELLO = "__sentinel__:hello"
# redis_exporter's scrape (oliver006/redis_exporter exporter/exporter.go scrapeRedisHost,
# v1.74.0 and v1.45.0): INFO ALL (fatal if refused), CLIENT SETNAME, LATENCY LATEST|HISTOGRAM,
# SLOWLOG LEN and SLOWLOG GET 1 (exporter/slowlog.go extractSlowLogMetrics: unconditional, no
# flag up to v1.88). Nothing is refused in a healthy scrape,
# so ACL LOG only ever shows real findings:
# - CONFIG GET * (it returns masterauth in clear: the default user's password) is never sent:
#   the exporter runs with --config-command=- (components/exporter.py; v1.74 main.go "set to
#   "-" to skip config metrics extraction"; v1.45 sends `- GET *`, an unknown command, which
#   Redis rejects before any ACL check, so nothing is logged);
# - SLOWLOG GET is granted because the Redis config disables the slow log
#   (`slowlog-log-slower-than -1`, components/redis.py): it can only ever return an empty list,
#   never a command's arguments (session ids, attribute values). No user could read the slow
#   log before either (no SLOWLOG GET for anyone), so nothing that worked is lost.
EXPORTER_COMMANDS = ("ping", "client|setname", "info", "latency|latest", "latency|histogram", "slowlog|len",
                     "slowlog|get")
# The session count and store check (components/monitoring/session_count.py), no Lua (issue 20):
# check-single-keys (exporter/keys.go extractCheckKeyMetrics: SELECT <db>, TYPE, then ZCARD for
# a sorted set; 1.74 pipelines MEMORY USAGE with TYPE) on the sorted-set keys only, through
# read-only selectors. The SCAN-counted stores' count is a string the counter writes
# (names.SESSION_COUNT_KEY): for a string 1.74 pipelines PFCOUNT, STRLEN and GET
# (keys.go getKeyInfoPipelined), 1.45 sends GET, PFCOUNT, STRLEN (getKeyInfo). PFCOUNT's key
# spec is RW ("it may change the internal representation of the key", src/commands/pfcount.json
# 7.0 and 8.x), so a `%R~` selector would refuse it on every scrape (an ACL LOG entry each
# time): it has its own selector with write access to that one key and no other command; on
# the counter's numeric string it only ever answers WRONGTYPE. The exporter never SCANs: SCAN
# has no key argument, ACL key patterns cannot limit it and it returns key names, i.e.
# session ids, which the exporter would then log and label metrics with when asked
# (`check-keys`, `check-streams`; docs/security.md "What the exporter can see"). Never
# EVAL/EVALSHA/FCALL (CVE-2025-49844 and the other Lua CVEs), RANDOMKEY or KEYS.
EXPORTER_KEY_COMMANDS = ("type", "zcard", "memory|usage")
EXPORTER_COUNT_KEY_COMMANDS = ("type", "get", "strlen", "memory|usage")
EXPORTER_COUNT_KEY_PFCOUNT = ("pfcount",)
# The session counter sidecar (components/exporter.py COUNTER_SCRIPT, redis-cli): AUTH from
# REDISCLI_AUTH (NO_AUTH, never checked), `-n <db>` SELECT (redis-cli.c cliSelect), `--scan
# --pattern` SCAN ... MATCH [COUNT] (sendScan), then SET <count key> <n> EX <ttl>: without GET
# its key is OW (db.c setGetKeys, 7.0 and 8.x), so a `%W~` selector on that key suffices.
# It reads no value (no GET, no HGETALL, no TYPE) and runs no Lua; SCAN returns key names
# (session ids), which only this user's password holders and Redis admins can see.
COUNTER_COMMANDS = ("select", "scan")
COUNTER_WRITE = ("set",)
# The operator: what the redis-cli lines of docs/runbooks.md send (tests/live/test_runbooks_live.py
# runs each of them under this user, and shows every command here is needed by one of them).
# redis-cli (redis/redis src/redis-cli.c): AUTH from REDISCLI_AUTH (NO_AUTH, never checked),
# `-n <db>` SELECT (cliSelect), `--scan` SCAN ... MATCH ... COUNT (getScanReply), `--memkeys`
# DBSIZE, SCAN, TYPE and MEMORY USAGE per key (findBigKeys, getKeyTypes, getKeySizes).
# Read: INFO, CLIENT LIST (addresses and last command names, no arguments), MEMORY DOCTOR,
# DBSIZE, SCAN, TYPE, EXISTS, MEMORY USAGE: key names and sizes, never a value.
# Change: CONFIG SET (RedisFragmentationHigh's activedefrag; ACL cannot narrow it to one
# parameter: "Allowing first-arg of a subcommand is not supported", acl.c ACLSetSelector),
# REPLICAOF (RedisMultipleMasters' stray master), BGSAVE (the backup before deleting data on
# purpose: Redis writes the RDB file, the operator copies it out of the pod). Not granted:
# CONFIG GET (returns masterauth), SLOWLOG GET and MONITOR (arguments: session ids), SYNC/PSYNC
# (the whole data), KEYS (blocks), any read of a value, FLUSH*, EVAL/FCALL, ACL.
# docs/security.md "Redis users" says why each one.
OPERATOR_COMMANDS = ("info", "client|list", "memory|doctor", "select", "dbsize", "scan", "type",
                     "exists", "memory|usage", "config|set", "replicaof", "bgsave")
OPERATOR_DELETE = ("del",)
"""Granted only on the sorted sets the runbooks tell the operator to delete (SessionStoreMismatch,
SessionCountFailed): each app's `<ns>:sessions:expirations` and Spring's default namespace's."""
SENTINEL_OPERATOR_COMMANDS = ("sentinel|masters", "sentinel|ckquorum", "sentinel|get-master-addr-by-name",
                              "sentinel|failover")
SENTINEL_APP_COMMANDS = ("ping", "client|setname", "sentinel|get-master-addr-by-name")
SENTINEL_EXPORTER_COMMANDS = ("ping", "client|setname", "info", "sentinel|masters", "sentinel|master",
                              "sentinel|sentinels", "sentinel|slaves", "sentinel|replicas", "sentinel|ckquorum")


def password_hash(password: str) -> str:
    """Redis ACL password hash: SHA-256 hex of the password."""
    return hashlib.sha256(password.encode()).hexdigest()


OLDEST_VERSION = (7, 0)
"""The ACL syntax used here (`+cmd|sub`, selectors, `%R~`) needs Redis 7.0 (redis/redis src/acl.c 7.0)."""
NEWEST_MAJOR = 8
"""The newest major whose command table the rules were checked against (src/commands/*.json)."""
VERSIONS_ALLOWED = ("a tag that starts with the Redis version <major>.<minor>, 7.0 or later up to 8.x "
                    "(e.g. 8.2.1-debian-12-r0, 7.0.15-debian-12-r0): the ACL file needs Redis 7.0 syntax "
                    "and names only commands of the versions it was checked against")


def image_version(tag: str) -> tuple[int, ...]:
    """(major, minor) of a Redis or Sentinel image tag such as 8.2.1-debian-12-r0; a tag
    without a version, or a version the ACL rules are not written for, is refused
    (ValueError with the allowed values): Redis refuses a whole ACL file over one unknown
    command, so a guess would crash every pod."""
    m = re.match(r"^v?(\d+)\.(\d+)(?:[.-]|$)", tag)
    version = (int(m.group(1)), int(m.group(2))) if m else None
    if version is None or version < OLDEST_VERSION or version[0] > NEWEST_MAJOR:
        raise ValueError(VERSIONS_ALLOWED)
    return version


def _commands(commands: Iterable[str]) -> str:
    return "-@all " + " ".join(f"+{c}" for c in commands)


def _connection(version: tuple[int, ...]) -> tuple[str, ...]:
    return CONNECTION + ((SETINFO,) if version >= (7, 2) else ())


def app_permissions(app: SessionStore, version: tuple[int, ...]) -> str:
    """ACL rules (after the passwords) of an app's user on the Redis nodes."""
    ns, db = app.namespace, app.database
    if app.repository_type == "default":
        keys, channels = f"~{ns}:sessions:*", ""
    else:
        keys = f"~{ns}:*"
        channels = f" &{ns}:event:{db}:created:* &__keyevent@{db}__:del &__keyevent@{db}__:expired"
    commands = _connection(version) + (f"select|{db}",) + APP_COMMANDS[app.repository_type]
    return f"resetkeys {keys} resetchannels{channels} {_commands(commands)}"


def _plus(commands: Iterable[str]) -> str:
    return " ".join(f"+{c}" for c in commands)


def exporter_permissions(stores: Sequence[SessionStore], version: tuple[int, ...]) -> str:
    """The exporter's rules on the Redis nodes: read-only, and only what its scrape, the
    sorted-set reads (every store: counted, or checked absent, plus Spring's DEFAULT_NAMESPACE
    one) and, when a store is counted by SCAN, the reads of the counter's count key send
    (components/monitoring/session_count.py). No SCAN."""
    commands = EXPORTER_COMMANDS + ((SETINFO,) if version >= (7, 2) else ()) + (("select",) if stores else ())
    zsets = dict.fromkeys(k for s in stores for k in s.checked_keys)
    selectors = "".join(f" (%R~{key} {_plus(EXPORTER_KEY_COMMANDS)})" for key in zsets)
    if any(s.method == "scan" for s in stores):
        key = names.SESSION_COUNT_KEY
        selectors += f" (%R~{key} {_plus(EXPORTER_COUNT_KEY_COMMANDS)}) (~{key} {_plus(EXPORTER_COUNT_KEY_PFCOUNT)})"
    return f"resetkeys resetchannels {_commands(commands)}{selectors}"


def counter_permissions(apps: Sequence[SessionStore]) -> str:
    """The counter's rules on the Redis nodes: SELECT and SCAN, SET of the count key only; no
    command at all when no store is counted by SCAN (the sidecar is not deployed then). The same
    commands exist from 7.0 to 8.x (src/commands/*.json), so no version argument."""
    if not any(s.method == "scan" for s in apps):
        return "resetkeys resetchannels -@all"
    return (f"resetkeys resetchannels {_commands(COUNTER_COMMANDS)}"
            f" (%W~{names.SESSION_COUNT_KEY} {_plus(COUNTER_WRITE)})")


def operator_permissions(apps: Sequence[SessionStore]) -> str:
    """The operator's rules on the Redis nodes: metadata of every key (`%R~*` with commands that
    return names, types and sizes only), DEL of the stores' sorted sets (a selector). The same
    commands exist from 7.0 to 8.x (redis/redis src/commands/*.json), so no version argument."""
    zsets = dict.fromkeys([f"{a.namespace}:sessions:expirations" for a in apps]
                          + ([f"{DEFAULT_NAMESPACE}:sessions:expirations"] if apps else []))
    keys, deletes = " ".join(f"~{k}" for k in zsets), " ".join(f"+{c}" for c in OPERATOR_DELETE)
    selector = f" ({keys} {deletes})" if zsets and deletes else ""
    return f"resetkeys %R~* resetchannels {_commands(OPERATOR_COMMANDS)}{selector}"


def sentinel_operator_permissions() -> str:
    return f"resetkeys resetchannels {_commands(SENTINEL_OPERATOR_COMMANDS)}"


def default_permissions() -> str:
    """The internal `default` user on the Redis nodes: no keys, Sentinel's hello channel."""
    return f"resetkeys resetchannels &{SENTINEL_HELLO} {_commands(DEFAULT_USER_COMMANDS)}"


def sentinel_default_permissions() -> str:
    """The `default` user on the Sentinels: no keys, the hello channel, SENTINEL_DEFAULT_COMMANDS."""
    return f"resetkeys resetchannels &{SENTINEL_HELLO} {_commands(SENTINEL_DEFAULT_COMMANDS)}"


def sentinel_app_permissions(version: tuple[int, ...]) -> str:
    return f"resetkeys resetchannels {_commands(SENTINEL_APP_COMMANDS + ((SETINFO,) if version >= (7, 2) else ()))}"


def sentinel_exporter_permissions(version: tuple[int, ...]) -> str:
    extra = (SETINFO,) if version >= (7, 2) else ()
    return f"resetkeys resetchannels {_commands(SENTINEL_EXPORTER_COMMANDS + extra)}"


def user_line(user: str, hashes: Iterable[str], permissions: str) -> str:
    """One ACL file line; a user without a hash gets none (and so cannot log in)."""
    passwords = " ".join(f"#{h}" for h in hashes)
    return f"user {user} on {passwords} {permissions}".replace("  ", " ")


def acl_files(default_hash: str | Sequence[str], app_hashes: dict[str, Sequence[str]], exporter_hashes: Sequence[str],
              apps: Sequence[SessionStore], redis_version: tuple[int, ...],
              sentinel_version: tuple[int, ...], *, operator_hashes: Sequence[str] = (),
              counter_hashes: Sequence[str] = ()) -> dict[str, str]:
    """{redis.acl, sentinel.acl} file contents. `app_hashes` maps app name -> accepted hashes;
    `default_hash` is one hash or, during a default-password rotation, every accepted one.
    redis.acl follows `redis_version` (the Redis image), sentinel.acl `sentinel_version`.
    The operator and the counter are always written; without their hashes they have no password
    (cannot log in). The counter has no user on the Sentinels: it finds the master by trying the
    Redis nodes (components/exporter.py COUNTER_SCRIPT)."""
    defaults = [default_hash] if isinstance(default_hash, str) else list(default_hash)
    redis = [user_line("default", defaults, default_permissions())]
    sentinel = [user_line("default", defaults, sentinel_default_permissions())]
    for a in apps:
        redis.append(user_line(a.user, app_hashes[a.app], app_permissions(a, redis_version)))
        sentinel.append(user_line(a.user, app_hashes[a.app], sentinel_app_permissions(sentinel_version)))
    redis.append(user_line(names.EXPORTER_USER, exporter_hashes, exporter_permissions(apps, redis_version)))
    sentinel.append(user_line(names.EXPORTER_USER, exporter_hashes, sentinel_exporter_permissions(sentinel_version)))
    redis.append(user_line(names.OPERATOR_USER, operator_hashes, operator_permissions(apps)))
    sentinel.append(user_line(names.OPERATOR_USER, operator_hashes, sentinel_operator_permissions()))
    redis.append(user_line(names.COUNTER_USER, counter_hashes, counter_permissions(apps)))
    return {names.REDIS_ACL_FILE: "\n".join(redis) + "\n", names.SENTINEL_ACL_FILE: "\n".join(sentinel) + "\n"}

