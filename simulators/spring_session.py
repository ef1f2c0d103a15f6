"""Spring Session's Redis traffic, command for command, so the session count, memory sizing
and eviction behaviour are measured against what Spring really leaves in Redis.

Sources, read in spring-projects/spring-session at the tags named (R =
spring-session-data-redis/src/main/java/org/springframework/session/data/redis, C =
spring-session-core/src/main/java/org/springframework/session/web/http):

- `RedisSessionRepository` (R/RedisSessionRepository.java, the same commands in 2.7.4, 3.0.4,
  3.3.7, 3.4.7, 4.0.4): the default repository (Boot 3/4's default; Boot 2 never
  auto-configures it). One hash per session with an absolute PEXPIREAT.
- `RedisIndexedSessionRepository` (R/RedisIndexedSessionRepository.java) with, by line:
  - "2.7" (2.7.4; Boot 2.7) and "3.0" (3.0.4-3.3.7; Boot 3.0-3.3): expiry bookkeeping by
    `RedisSessionExpirationPolicy` (R/RedisSessionExpirationPolicy.java); 2.7 publishes the
    created event from `save(RedisSession)` after `session.save()` (empty delta), 3.0+ from
    `saveDelta()`.
  - "3.4" (3.4.7; identical in 3.5.7 and 4.0.4, i.e. Boot 3.4+ and Boot 4): a
    `RedisSessionExpirationStore`, either the private `MinuteBasedRedisSessionExpirationStore`
    (default) or `SortedSetRedisSessionExpirationStore` (R/SortedSetRedisSessionExpirationStore.java,
    opt-in bean). `saveChangeSessionId()` and `onMessage()` call `expirationStore.remove(id)`.
- `SessionRepositoryFilter` (C/SessionRepositoryFilter.java 3.4.7, same flow in 2.7.4): every
  request that resolves its session calls `setLastAccessedTime(now)`; `commitSession()` saves
  at the end of the request; `HttpSessionWrapper.invalidate()` calls `deleteById`.
- Spring Security's `ChangeSessionIdAuthenticationStrategy` (5.7-7.0, the default session
  fixation protection) calls `request.changeSessionId()` at login when the request came with a
  valid session; the security context is then stored as attribute `SPRING_SECURITY_CONTEXT`.

Spring Data Redis sends `expire(t, unit)` as PEXPIRE, `expireAt` as PEXPIREAT and `putAll` as
HMSET; so does this, so the Redis ACL users (components/config/acl.py) are judged live against the
commands Spring really sends.

The writer keeps a mirror of what it stored (`StoredSession`): it decides what Spring would
decide after a read (the session exists, its last access, its principal) from the mirror, and
it is the ground truth of which sessions are live on the writer's clock (`live_count`).
Operations take `at` (epoch ms, default now): an operation in the past writes the state it
would have left by now (TTLs shortened by its age), which is how `steady_state` builds a store
that has run for longer than the timeout without waiting for it.

Values are plain text (Spring serializes with JDK serialization: a few dozen bytes more per
field); `payload_bytes` stands in for the serialized SPRING_SECURITY_CONTEXT.
"""
from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from simulators.loopback import connect, master_from_sentinels, wait_until

PRINCIPAL_INDEX = "org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME"
SECURITY_CONTEXT = "SPRING_SECURITY_CONTEXT"
DEFAULT_NAMESPACE = "spring:session"
"""`RedisIndexedSessionRepository.DEFAULT_NAMESPACE` (no trailing colon)."""
INDEXED_EXTRA_SECONDS = 300
"""Hash and minute-set TTL beyond maxInactiveInterval (`fiveMinutesAfterExpires`)."""
SORTED_SET_CLEANUP_COUNT = 100
"""`SortedSetRedisSessionExpirationStore.cleanupCount`."""
USER_ATTRIBUTE = "sessionAttr:user"
"""Where this simulator keeps the principal name in the hash (Spring resolves it from the
serialized SPRING_SECURITY_CONTEXT; plain text here so a reader can find it)."""
LINES = ("2.7", "3.0", "3.4")
"""Spring Session lines whose Redis commands differ (see the module docstring)."""
BOOT_LINE = {2: "2.7", 3: "3.4", 4: "3.4"}
"""The line of each Boot major's latest release (Boot 3.0-3.3 ship line "3.0")."""
EXPIRATION_STORES = ("minute", "sorted-set")
REPOSITORY_TYPES = ("default", "indexed")
FLUSH_MODES = ("on_save", "immediate")


def round_up_to_next_minute(ms: int) -> int:
    """Spring's roundUpToNextMinute: always the NEXT minute, even on a boundary."""
    return ms - (ms % 60000) + 60000


def round_down_minute(ms: int) -> int:
    return ms - (ms % 60000)


def now_ms() -> int:
    return int(time.time() * 1000)


def no_such_key(error: Exception) -> bool:
    """"ERR no such key" (RENAME of a key already gone), which Spring ignores."""
    return isinstance(error, redis.ResponseError) and str(error) == "no such key"


def pipeline(client: redis.Redis, commands: list[tuple], raise_on_error: bool = True) -> list[Any]:
    """The commands pipelined (no MULTI), their replies in order."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe.execute(raise_on_error=raise_on_error)


class Listener:
    """RedisMessageListenerContainer's connection: a redis-py PubSub subscribed to `channels`
    and `patterns` (confirmed before this returns). `messages(wait)` returns (channel, body)
    of what has arrived, waiting at most `wait` seconds for the first."""

    def __init__(self, client: redis.Redis, channels: tuple[str, ...], patterns: tuple[str, ...] = ()):
        self.client, self.pubsub = client, client.pubsub()
        self.pending: list[dict] = []
        if channels:
            self.pubsub.subscribe(*channels)
        if patterns:
            self.pubsub.psubscribe(*patterns)
        expected = len(channels) + len(patterns)

        def confirmed() -> bool:
            while (m := self.pubsub.get_message(timeout=0.1)) is not None:
                self.pending.append(m)
            return sum(m["type"] in ("subscribe", "psubscribe") for m in self.pending) == expected
        wait_until(confirmed, 5, what="the subscriptions confirmed")
        self.pending = [m for m in self.pending if m["type"] in ("message", "pmessage")]

    def messages(self, wait: float = 0.0) -> list[tuple[str, str]]:
        got, self.pending = self.pending, []
        if not got and (m := self.pubsub.get_message(timeout=wait)) is not None:
            got.append(m)
        while (m := self.pubsub.get_message(timeout=0)) is not None:  # what is already there
            got.append(m)
        return [(m["channel"], m["data"]) for m in got if m["type"] in ("message", "pmessage")]

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@dataclass(slots=True)
class StoredSession:
    """What Redis holds for one session id, as the writer knows it."""

    id: str
    creation_ms: int
    last_accessed_ms: int
    max_inactive_s: int
    principal: str | None
    hash_expires_ms: int
    """When Redis drops the hash (indexed: last save + maxInactive + 300 s)."""

    @property
    def expires_ms(self) -> int:
        return self.last_accessed_ms + self.max_inactive_s * 1000


@dataclass(slots=True)
class RedisSession:
    """`RedisIndexedSessionRepository.RedisSession` / `RedisSessionRepository.RedisSession`:
    the in-memory session of one request, with its delta of changed fields."""

    id: str
    original_id: str
    creation_ms: int
    last_accessed_ms: int
    max_inactive_s: int
    principal: str | None
    original_principal: str | None
    original_last_accessed_ms: int | None
    """Set only when loaded from Redis (`getSession`), never updated by a save."""
    is_new: bool
    delta: dict[str, Any] = field(default_factory=dict)


class SpringSessionRepository:
    """One app's Spring Session repository. `client` must have the app's database selected;
    `database` names the keyspace-event channels. `store_namespace` is the namespace the
    app passed to `new SortedSetRedisSessionExpirationStore(ops, namespace)` (default: the
    repository's; Spring's reference example passes DEFAULT_NAMESPACE)."""

    def __init__(self, client: redis.Redis, namespace: str, repository_type: str = "default",
                 timeout_seconds: int = 1800, *, line: str = "3.4", store: str = "minute",
                 flush_mode: str = "on_save", store_namespace: str | None = None, database: int = 0,
                 payload_bytes: int = 512, clock=now_ms):
        if repository_type not in REPOSITORY_TYPES:
            raise ValueError(f"repository_type must be one of {REPOSITORY_TYPES}, got {repository_type!r}")
        if line not in LINES:
            raise ValueError(f"line must be one of {LINES}, got {line!r}")
        if store not in EXPIRATION_STORES:
            raise ValueError(f"store must be one of {EXPIRATION_STORES}, got {store!r}")
        if store == "sorted-set" and (line != "3.4" or repository_type != "indexed"):
            raise ValueError("SortedSetRedisSessionExpirationStore exists from Spring Session 3.4, indexed repository only")
        if flush_mode not in FLUSH_MODES:
            raise ValueError(f"flush_mode must be one of {FLUSH_MODES}, got {flush_mode!r}")
        self.client, self.namespace, self.repository_type = client, namespace, repository_type
        self.timeout_seconds, self.line, self.store, self.flush_mode = timeout_seconds, line, store, flush_mode
        self.store_namespace = store_namespace or namespace
        self.database, self.payload_bytes, self.clock = database, payload_bytes, clock
        self.stored: dict[str, StoredSession] = {}
        self.ended: list[tuple[int, int]] = []
        """(creation ms, logout ms) of every session deleteById ended: with `stored`, what
        was live at any past moment (`live_at`)."""
        self.renamed_ms: list[int] = []
        """When each session id change was saved (a SCAN running then may see the session
        under both ids, or under neither)."""
        self.max_send_lag_ms = 0
        """Longest time between the writer's decision on a pipelined command and its reply:
        Redis applied the change at most that much after the writer's clock says it happened."""
        self._pending: list[tuple] | None = None
        self._pending_since = 0
        self._reads = True
        self._batch = 1000

    # ------------------------------------------------------------------ key names
    def session_key(self, session_id: str) -> str:
        return f"{self.namespace}:sessions:{session_id}"

    def expires_key(self, session_id: str) -> str:
        return f"{self.namespace}:sessions:expires:{session_id}"

    def expirations_key(self, rounded_ms: int) -> str:
        return f"{self.namespace}:expirations:{rounded_ms}"

    def sorted_expirations_key(self) -> str:
        """SortedSetRedisSessionExpirationStore.setNamespace: `namespace + ":sessions:expirations"`."""
        return f"{self.store_namespace}:sessions:expirations"

    def principal_key(self, user: str) -> str:
        return f"{self.namespace}:index:{PRINCIPAL_INDEX}:{user}"

    def created_channel(self, session_id: str) -> str:
        """`sessionCreatedChannelPrefix + id` = `<ns>:event:<db>:created:<id>`."""
        return f"{self.namespace}:event:{self.database}:created:{session_id}"

    def event_channels(self) -> tuple[str, str]:
        """The keyspace-event channels the indexed repository subscribes to."""
        return f"__keyevent@{self.database}__:del", f"__keyevent@{self.database}__:expired"

    # ------------------------------------------------------------------ transport
    @contextmanager
    def pipelined(self, batch: int = 1000, reads: bool = True) -> Iterator[None]:
        """Send every command of the block pipelined, in batches of about `batch`.
        `reads=False` leaves out Spring's reads (HGETALL, EXISTS): they change nothing the
        count sees (bulk fills use it)."""
        self._pending, self._reads, self._batch = [], reads, batch
        try:
            yield
            self._flush()
        finally:
            self._pending, self._reads = None, True

    def _flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            # RENAME of a key that is already gone answers "ERR no such key", which Spring
            # ignores (handleErrNoSuchKeyError); any other error is a bug here.
            replies = pipeline(self.client, pending, raise_on_error=False)
            # Redis applied every command of the batch before its reply came back: measured then,
            # not when the batch was sent (a 6000-command fill takes tens of ms to apply, and a
            # TTL counted from the enqueue ran that much later in Redis than on this clock).
            self.max_send_lag_ms = max(self.max_send_lag_ms, self.clock() - self._pending_since)
            for reply in replies:
                if isinstance(reply, redis.RedisError) and not no_such_key(reply):
                    raise reply

    def _cmd(self, *args: Any) -> None:
        if self._pending is None:
            try:
                self.client.execute_command(*args)
            except redis.ResponseError as exc:
                if not no_such_key(exc):
                    raise
            return
        if not self._pending:
            self._pending_since = self.clock()
        self._pending.append(args)
        if len(self._pending) >= self._batch:
            self._flush()

    def _read(self, *args: Any) -> None:
        """A read Spring sends whose answer the mirror already knows."""
        if self._reads:
            self._cmd(*args)

    def _ttl_ms(self, at: int, seconds: int) -> int:
        """PEXPIRE argument for `expire(seconds)` sent at `at`: as sent when `at` is now,
        shortened by the operation's age otherwise (<= 0 deletes the key, as time would have)."""
        return seconds * 1000 - max(0, self.clock() - at)

    def _payload(self) -> str:
        return os.urandom(self.payload_bytes // 2 + 1).hex()[: self.payload_bytes]

    # ------------------------------------------------------------------ repository API
    def create_session(self, at: int) -> RedisSession:
        """createSession(): a MapSession (new id, default maxInactiveInterval); writes only
        under FlushMode.IMMEDIATE (`flushImmediateIfNecessary` / `flushIfRequired`)."""
        sid = str(uuid.uuid4())
        session = RedisSession(sid, sid, at, at, self.timeout_seconds, None, None, None, True,
                               {"creationTime": at, "maxInactiveInterval": self.timeout_seconds,
                                "lastAccessedTime": at})
        self._flush_if_immediate(session, at)
        return session

    def find_by_id(self, session_id: str, at: int) -> RedisSession | None:
        """findById: HGETALL; an expired session is None (the default repository also DELs it)."""
        self._read("HGETALL", self.session_key(session_id))
        stored = self._get_stored(session_id, at)
        if stored is None:
            return None
        if stored.max_inactive_s >= 0 and stored.expires_ms <= at:
            if self.repository_type == "default":
                self.delete_by_id(session_id, at)
            return None
        return self._loaded(stored)

    def adopt(self, session_ids: Iterable[str], at: int | None = None) -> list[str]:
        """A new pod of this repository meeting sessions another repository wrote (the app's
        repositoryType or expiration store changed): findById's read from Redis, not from this
        writer's mirror. Both repositories read the hash `<namespace>:sessions:<id>`
        (RedisSessionRepository.getSessionKey and RedisIndexedSessionRepository.getSessionKey,
        3.4.7) through the same RedisSessionMapper: creationTime, lastAccessedTime and
        maxInactiveInterval must be there, and an expired session is not found. Each session
        found live joins the mirror (as an anonymous one: the principal is not read back); the
        ids found are returned."""
        at = self.clock() if at is None else at
        found = []
        for sid in session_ids:
            entries = self.client.hgetall(self.session_key(sid))
            if not entries:
                continue
            last, max_inactive = int(entries["lastAccessedTime"]), int(entries["maxInactiveInterval"])
            expires = last + max_inactive * 1000
            if max_inactive >= 0 and expires <= at:
                continue  # MapSession.isExpired
            # Spring reads no TTL; the hash lives at least until the session expires
            self.stored[sid] = StoredSession(sid, int(entries["creationTime"]), last, max_inactive, None, expires)
            found.append(sid)
        return found

    def save(self, session: RedisSession, at: int) -> None:
        """Repository save(session): the commit at the end of a request."""
        if self.repository_type == "default":
            # RedisSessionRepository.save: EXISTS on the original key unless new
            if not session.is_new:
                self._read("EXISTS", self.session_key(session.original_id))
                if self._get_stored(session.original_id, at) is None:
                    raise RuntimeError("Session was invalidated")  # IllegalStateException in Spring
            self._session_save(session, at)
            session.is_new = False
            return
        self._session_save(session, at)
        if self.line == "2.7" and session.is_new:
            # 2.7.4 save(RedisSession): convertAndSend(created, session.delta) after the
            # delta was cleared by saveDelta: an empty map.
            self._cmd("PUBLISH", self.created_channel(session.id), "{}")
            session.is_new = False

    def delete_by_id(self, session_id: str, at: int) -> None:
        """deleteById (logout, HttpSession.invalidate())."""
        if self.repository_type == "default":
            self._cmd("DEL", self.session_key(session_id))  # RedisSessionRepository.deleteById
            stored = self._get_stored(session_id, at)
            if stored is not None:
                del self.stored[session_id]
                if stored.expires_ms > at:
                    self.ended.append((stored.creation_ms, at))
            return
        # RedisIndexedSessionRepository.deleteById (3.4.7 L545-559; 2.7.4 L492-506)
        self._read("HGETALL", self.session_key(session_id))  # getSession(id, true)
        stored = self._get_stored(session_id, at)
        if stored is None:
            return
        session = self._loaded(stored)
        if stored.max_inactive_s != 0 and stored.expires_ms > at:
            self.ended.append((stored.creation_ms, at))
        if session.principal:  # cleanupPrincipalIndex
            self._cmd("SREM", self.principal_key(session.principal), session_id)
        if self.line == "3.4":
            self._store_remove(session_id, at)  # expirationStore.remove(sessionId)
        else:  # expirationPolicy.onDelete(session)
            minute = round_up_to_next_minute(session.last_accessed_ms + session.max_inactive_s * 1000)
            self._cmd("SREM", self.expirations_key(minute), f"expires:{session_id}")
        self._cmd("DEL", self.expires_key(session_id))
        self.set_max_inactive(session, 0, at)
        self.save(session, at)

    def cleanup(self, at: int | None = None) -> int:
        """The cleanup cron ("0 * * * * *": every minute): `cleanupExpiredSessions` (2.7)
        / `cleanUpExpiredSessions` (3.0+) -> the policy's or store's cleanup. Real reads.
        Returns how many keys it touched."""
        if self.repository_type == "default":
            return 0
        self._flush()
        at = self.clock() if at is None else at
        if self.store == "sorted-set":
            # SortedSetRedisSessionExpirationStore.cleanupExpiredSessions: touches the
            # session HASH (`namespace + ":sessions:" + id`), not the expires key: Spring
            # Session issue #3468, fixed only after 4.1.0 (commit 12d174b4).
            ids: list[str] = self.client.zrevrangebyscore(  # type: ignore[assignment]  # str: decode_responses
                self.sorted_expirations_key(), at, 0, 0, SORTED_SET_CLEANUP_COUNT)
            if ids:
                pipeline(self.client, [("EXISTS", f"{self.store_namespace}:sessions:{i}") for i in ids])
            return len(ids or [])
        # RedisSessionExpirationPolicy.cleanExpiredSessions (2.7/3.0) and
        # MinuteBasedRedisSessionExpirationStore.cleanupExpiredSessions (3.4): SMEMBERS of
        # the previous minute's set, DEL it, EXISTS on each member's expires key.
        key = self.expirations_key(round_down_minute(at))
        members, _ = pipeline(self.client, [("SMEMBERS", key), ("DEL", key)])
        if members:
            pipeline(self.client, [("EXISTS", f"{self.namespace}:sessions:{m}") for m in members])
        return len(members or [])

    def on_message(self, channel: str, body: str, at: int | None = None) -> None:
        """onMessage for `__keyevent@<db>__:del` / `:expired` of an expires key: the
        principal index entry goes, and (3.4+) `expirationStore.remove(id)`."""
        if not body.startswith(f"{self.namespace}:sessions:expires:") or channel not in self.event_channels():
            return
        at = self.clock() if at is None else at
        session_id = body.rsplit(":", 1)[1]
        self._read("HGETALL", self.session_key(session_id))  # getSession(id, true)
        stored = self._get_stored(session_id, at)
        if stored is None:
            return  # "Unable to publish SessionDestroyedEvent"
        if stored.principal:
            self._cmd("SREM", self.principal_key(stored.principal), session_id)
        if self.line == "3.4":
            self._store_remove(session_id, at)

    # ------------------------------------------------------------------ RedisSession methods
    def set_last_accessed(self, session: RedisSession, at: int) -> None:
        session.last_accessed_ms = at
        session.delta["lastAccessedTime"] = at
        self._flush_if_immediate(session, at)

    def set_attribute(self, session: RedisSession, name: str, value: Any, at: int, principal: str | None = None) -> None:
        session.delta[f"sessionAttr:{name}"] = value
        if principal is not None:
            session.principal = principal
            session.delta[USER_ATTRIBUTE] = principal
        self._flush_if_immediate(session, at)

    def set_max_inactive(self, session: RedisSession, seconds: int, at: int) -> None:
        session.max_inactive_s = seconds
        session.delta["maxInactiveInterval"] = seconds
        self._flush_if_immediate(session, at)

    @staticmethod
    def change_session_id(session: RedisSession) -> str:
        """changeSessionId(): a new id in memory only; written by the next save."""
        session.id = str(uuid.uuid4())
        return session.id

    def _flush_if_immediate(self, session: RedisSession, at: int) -> None:
        if self.flush_mode == "immediate":
            self._session_save(session, at)  # session.save(), not the repository's save

    # ------------------------------------------------------------------ writes
    def _session_save(self, session: RedisSession, at: int) -> None:
        """RedisSession.save(): saveChangeSessionId(); saveDelta()."""
        if self.repository_type == "default":
            self._default_save(session, at)
            return
        self._save_change_session_id(session, at)
        self._save_delta(session, at)

    def _default_save(self, session: RedisSession, at: int) -> None:
        # RedisSessionRepository.RedisSession.saveChangeSessionId (3.4.7 L312-321)
        if session.id != session.original_id:
            if not session.is_new:
                self._cmd("RENAME", self.session_key(session.original_id), self.session_key(session.id))
                self._rename_stored(session.original_id, session.id, at)
            session.original_id = session.id
        # saveDelta (L323-333): HMSET, then PEXPIREAT lastAccessedTime + maxInactiveInterval
        if session.delta:
            key = self.session_key(session.id)
            self._cmd("HMSET", key, *self._fields(session.delta))
            expires = session.last_accessed_ms + session.max_inactive_s * 1000
            self._cmd("PEXPIREAT", key, expires)
            session.delta = {}
            self._store(session, hash_expires_ms=expires)
        session.is_new = False

    def _save_change_session_id(self, session: RedisSession, at: int) -> None:
        """saveChangeSessionId (3.4.7 L964-997; 2.7.4 L839-866; 3.3.7 L914-941)."""
        if session.id == session.original_id:
            return
        if not session.is_new:
            old, new = session.original_id, session.id
            self._cmd("RENAME", self.session_key(old), self.session_key(new))
            self._cmd("RENAME", self.expires_key(old), self.expires_key(new))
            if session.original_principal:
                self._cmd("SREM", self.principal_key(session.original_principal), old)
                self._cmd("SADD", self.principal_key(session.original_principal), new)
            self._rename_stored(old, new, at)
            if self.line == "3.4":
                # expirationStore.remove(originalSessionId): the minute store looks the
                # OLD id up (HGETALL), which was just renamed away, so it removes nothing
                # and `expires:<old>` stays in its minute set; the sorted set ZREMs it.
                self._store_remove(old, at)
        session.original_id = session.id

    def _save_delta(self, session: RedisSession, at: int) -> None:
        """saveDelta (3.4.7 L898-938; 2.7.4 L807-837; 3.3.7 L880-912)."""
        if not session.delta:
            return
        sid = session.id
        self._cmd("HMSET", self.session_key(sid), *self._fields(session.delta))
        if f"sessionAttr:{SECURITY_CONTEXT}" in session.delta or USER_ATTRIBUTE in session.delta:
            if session.original_principal:
                self._cmd("SREM", self.principal_key(session.original_principal), sid)
            session.original_principal = session.principal
            if session.principal:
                self._cmd("SADD", self.principal_key(session.principal), sid)
        if self.line != "2.7" and session.is_new:
            self._cmd("PUBLISH", self.created_channel(sid), "delta")
            session.is_new = False
        seconds = session.max_inactive_s
        hash_ttl = self._ttl_ms(at, seconds + INDEXED_EXTRA_SECONDS)
        if self.line == "3.4":
            session.delta = {}
            self._shadow_key(sid, seconds, at)  # createShadowKey
            self._cmd("PEXPIRE", self.session_key(sid), hash_ttl)
            self._store_save(session, at)  # expirationStore.save(this)
        else:
            session.delta = {}
            self._policy_updated(session, at)  # expirationPolicy.onExpirationUpdated(originalExpiration, this)
        self._store(session, hash_expires_ms=at + (seconds + INDEXED_EXTRA_SECONDS) * 1000)

    def _shadow_key(self, sid: str, seconds: int, at: int) -> None:
        if seconds == 0:
            self._cmd("DEL", self.expires_key(sid))
        else:
            self._cmd("APPEND", self.expires_key(sid), "")
            self._cmd("PEXPIRE", self.expires_key(sid), self._ttl_ms(at, seconds))

    def _policy_updated(self, session: RedisSession, at: int) -> None:
        """RedisSessionExpirationPolicy.onExpirationUpdated (2.7.4/3.3.7 L76-113): SREM from
        the loaded minute if it moved, SADD + PEXPIRE the new minute, the shadow key, the hash."""
        sid, seconds = session.id, session.max_inactive_s
        member = f"expires:{sid}"
        to_expire = round_up_to_next_minute(session.last_accessed_ms + seconds * 1000)
        if session.original_last_accessed_ms is not None:
            original = round_up_to_next_minute(session.original_last_accessed_ms + seconds * 1000)
            if original != to_expire:
                self._cmd("SREM", self.expirations_key(original), member)
        ttl = self._ttl_ms(at, seconds + INDEXED_EXTRA_SECONDS)
        self._cmd("SADD", self.expirations_key(to_expire), member)
        self._cmd("PEXPIRE", self.expirations_key(to_expire), ttl)
        self._shadow_key(sid, seconds, at)
        self._cmd("PEXPIRE", self.session_key(sid), ttl)

    def _store_save(self, session: RedisSession, at: int) -> None:
        """RedisSessionExpirationStore.save (3.4+)."""
        seconds = session.max_inactive_s
        expires = session.last_accessed_ms + seconds * 1000
        if self.store == "sorted-set":
            self._cmd("ZADD", self.sorted_expirations_key(), expires, session.id)
            return
        # MinuteBasedRedisSessionExpirationStore.save (3.4.7 L1023-1045): PEXPIRE comes
        # before SADD, so a fresh minute set has no TTL until the next save into it.
        member = f"expires:{session.id}"
        to_expire = round_up_to_next_minute(expires)
        if session.original_last_accessed_ms is not None:
            original = round_up_to_next_minute(session.original_last_accessed_ms + seconds * 1000)
            if original != to_expire:
                self._cmd("SREM", self.expirations_key(original), member)
        self._cmd("PEXPIRE", self.expirations_key(to_expire), self._ttl_ms(at, seconds + INDEXED_EXTRA_SECONDS))
        self._cmd("SADD", self.expirations_key(to_expire), member)

    def _store_remove(self, session_id: str, at: int) -> None:
        """RedisSessionExpirationStore.remove (3.4+)."""
        if self.store == "sorted-set":
            self._cmd("ZREM", self.sorted_expirations_key(), session_id)
            return
        # MinuteBased...remove (L1048-1056): getSession(id, true), SREM only if found
        self._read("HGETALL", self.session_key(session_id))
        stored = self._get_stored(session_id, at)
        if stored is not None:
            minute = round_up_to_next_minute(stored.expires_ms)
            self._cmd("SREM", self.expirations_key(minute), f"expires:{session_id}")

    # ------------------------------------------------------------------ mirror
    @staticmethod
    def _fields(delta: dict[str, Any]) -> list[Any]:
        return [x for k, v in delta.items() for x in (k, v)]

    def _get_stored(self, session_id: str, at: int) -> StoredSession | None:
        stored = self.stored.get(session_id)
        return None if stored is None or stored.hash_expires_ms <= at else stored  # else Redis dropped it

    def _loaded(self, stored: StoredSession) -> RedisSession:
        return RedisSession(stored.id, stored.id, stored.creation_ms, stored.last_accessed_ms, stored.max_inactive_s,
                            stored.principal, stored.principal, stored.last_accessed_ms, False)

    def _store(self, session: RedisSession, hash_expires_ms: int) -> None:
        self.stored[session.id] = StoredSession(session.id, session.creation_ms, session.last_accessed_ms,
                                                session.max_inactive_s, session.principal, hash_expires_ms)

    def _rename_stored(self, old: str, new: str, at: int) -> None:
        self.renamed_ms.append(at)
        stored = self.stored.pop(old, None)
        if stored is not None:
            stored.id = new
            self.stored[new] = stored

    def live_ids(self, at: int | None = None) -> list[str]:
        """Sessions live on the writer's clock: saved, not deleted, not expired."""
        at = self.clock() if at is None else at
        return [s.id for s in self.stored.values() if s.max_inactive_s != 0 and s.expires_ms > at]

    def live_count(self, at: int | None = None) -> int:
        return len(self.live_ids(at))

    def _lifetimes(self) -> Iterator[tuple[int, int]]:
        """(created ms, end ms) of every session the writer knows: saved ones until their
        expiry (a session's expiry only moves forward, so its current expiry decides), logged
        out ones until their logout."""
        for s in self.stored.values():
            if s.max_inactive_s != 0:
                yield s.creation_ms, s.expires_ms
        yield from self.ended

    def live_at(self, times: list[int]) -> list[int]:
        """Sessions live at each past moment: created by then, not yet expired, not yet
        logged out."""
        counts = [0] * len(times)
        for created, until in self._lifetimes():
            for i, t in enumerate(times):
                counts[i] += created <= t < until
        return counts

    def live_through(self, start: int, end: int) -> int:
        """Sessions live for the whole of [start, end]."""
        return sum(created <= start and end < until for created, until in self._lifetimes())

    # ------------------------------------------------------------------ requests
    def commit(self, session: RedisSession, at: int) -> str:
        self.save(session, at)  # SessionRepositoryFilter.commitSession
        return session.id

    def new_session(self, user: str | None = None, at: int | None = None, attributes: int = 1) -> str:
        """A request without a session that creates one (getSession(true): createSession,
        setLastAccessedTime(now)), sets attributes (a login in this same request stores the
        security context: no fixation, the session is new), and commits. Returns its id."""
        at = self.clock() if at is None else at
        session = self.create_session(at)
        self.set_last_accessed(session, at)
        for i in range(attributes - 1):
            self.set_attribute(session, f"attr{i}", "v", at)
        if user is not None:
            self.set_attribute(session, SECURITY_CONTEXT, self._payload(), at, principal=user)
        else:
            self.set_attribute(session, "SPRING_SECURITY_SAVED_REQUEST", self._payload(), at)
        return self.commit(session, at)

    def touch(self, session_id: str, at: int | None = None, attribute: tuple[str, Any] | None = None) -> str | None:
        """A request with a session cookie: load, setLastAccessedTime(now), set `attribute`
        (name, value) if given, commit. None if the session is gone (the app would create a
        new one)."""
        at = self.clock() if at is None else at
        session = self.find_by_id(session_id, at)
        if session is None:
            return None
        self.set_last_accessed(session, at)
        if attribute is not None:
            self.set_attribute(session, attribute[0], attribute[1], at)
        return self.commit(session, at)

    def login(self, session_id: str, user: str, at: int | None = None) -> str | None:
        """The login POST of a visitor who has a session: session fixation protection
        changes the id (ChangeSessionIdAuthenticationStrategy), the security context is
        stored, the commit renames and saves. Returns the new id (None if the session is gone)."""
        at = self.clock() if at is None else at
        session = self.find_by_id(session_id, at)
        if session is None:
            return None
        self.set_last_accessed(session, at)
        self.change_session_id(session)
        self.set_attribute(session, SECURITY_CONTEXT, self._payload(), at, principal=user)
        return self.commit(session, at)

    def logout(self, session_id: str, at: int | None = None) -> bool:
        """The logout request: load, setLastAccessedTime (saved at once under IMMEDIATE),
        invalidate() -> deleteById; nothing is committed after. False if already gone."""
        at = self.clock() if at is None else at
        session = self.find_by_id(session_id, at)
        if session is None:
            return False
        self.set_last_accessed(session, at)
        self.delete_by_id(session_id, at)
        return True

    # ------------------------------------------------------------------ workloads
    def listener(self, host: str, port: int, password: str | None) -> Listener:
        """The indexed repository's subscriptions (RedisIndexedHttpSessionConfiguration):
        SUBSCRIBE `__keyevent@<db>__:del` and `:expired`, PSUBSCRIBE `<ns>:event:<db>:created:*`.
        Feed what it receives to `on_message`."""
        return Listener(connect(host, port, password), self.event_channels(),
                        (f"{self.namespace}:event:{self.database}:created:*",))

    def steady_state(self, count: int, users: int = 0, login_share: float = 0.5, logout_share: float = 0.1,
                     seed: int = 1, batch: int = 6000) -> None:
        """`count` live sessions as a store that has served them for longer than the timeout
        leaves them: last accesses spread evenly over the past timeout (so the current
        minute holds its share, count / timeout minutes), `login_share` of them created
        anonymous and logged in later (session id changed: what a login leaves behind stays),
        touched since; plus `logout_share` x count sessions logged out in the last 5 minutes
        (their hashes linger; the app's listener has handled their `del` events: 3.4 removed
        them from the sorted set). Principals user0..user{users-1}. Reads are left out."""
        rng = random.Random(seed)
        now = self.clock()
        span = self.timeout_seconds * 1000
        with self.pipelined(batch=batch, reads=False):
            for i in range(count):
                last = now - int(span * (i + 0.5) / count)  # expiry spread over the next timeout
                user = f"user{i % users}" if users else None
                if user is not None and rng.random() < login_share:
                    created = last - rng.randint(2000, span // 2)  # anonymous visit, login, later requests
                    sid = self.new_session(None, at=created)
                    sid = self.login(sid, user, at=created + (last - created) // 2) or sid
                    self.touch(sid, at=last)
                else:
                    self.new_session(user, at=last)
            for i in range(int(count * logout_share)):
                logged_out = now - rng.randint(1000, INDEXED_EXTRA_SECONDS * 1000 - 1000)
                sid = self.new_session(f"user{i % users}" if users else None, at=logged_out - 60000)
                self.logout(sid, at=logged_out)
                if self.repository_type == "indexed":  # the app's listener handled the logout's `del` event
                    self.on_message(self.event_channels()[0], self.expires_key(sid), at=logged_out)


class SessionWriter:
    """Bulk writer of live sessions (benchmarks, sizing, alert tests): sessions created by
    one request each through SpringSessionRepository's real code paths, pipelined."""

    def __init__(self, client: redis.Redis, namespace: str, repository_type: str, timeout_seconds: int,
                 payload_bytes: int = 512, expiration_store: str = "minute", line: str = "3.4", database: int = 0):
        if repository_type == "indexed" and expiration_store == "sorted-set":
            line = "3.4"
        self.repo = SpringSessionRepository(client, namespace, repository_type, timeout_seconds, line=line,
                                            store=expiration_store, payload_bytes=payload_bytes, database=database)
        self.expiries_ms: list[int] = []
        """Expiry (epoch ms) of every session `create` wrote: the ground truth of what is live when."""

    @property
    def client(self) -> redis.Redis:
        return self.repo.client

    @client.setter
    def client(self, client: redis.Redis) -> None:
        """A reconnected pod keeps its sessions: only the connection changes."""
        self.repo.client = client

    @property
    def timeout_seconds(self) -> int:
        return self.repo.timeout_seconds

    def read(self, session_id: str) -> dict[str, str]:
        """What Redis holds for a session (HGETALL; {} when gone)."""
        return self.client.hgetall(self.session_key(session_id))  # type: ignore[return-value]  # decode_responses

    def touch(self, session_id: str, attribute: tuple[str, str] | None = None) -> str:
        """A request with the session's cookie that sets `attribute` (name, value), if any.
        KeyError when the session is gone."""
        return self._found(session_id, self.repo.touch(session_id, attribute=attribute))

    def login(self, session_id: str, user: str) -> str:
        """The login of the session's visitor: the id changes (session fixation protection).
        Returns the new id; KeyError when the session is gone."""
        return self._found(session_id, self.repo.login(session_id, user))

    @staticmethod
    def _found(session_id: str, result: str | None) -> str:
        if result is None:
            raise KeyError(f"session {session_id} is gone")
        return result

    def session_key(self, session_id: str) -> str:
        return self.repo.session_key(session_id)

    def expires_key(self, session_id: str) -> str:
        return self.repo.expires_key(session_id)

    def create(self, count: int, users: int = 0, batch: int = 1000, timeout_seconds: int | None = None,
               spread_seconds: int = 0) -> list[str]:
        """Create `count` live sessions. `spread_seconds` spreads their last access over the
        past N seconds (N < timeout), as real traffic does; `users` > 0 logs them in (in the
        request that creates them) as user0..user{users-1}."""
        repo = self.repo
        timeout = timeout_seconds if timeout_seconds is not None else repo.timeout_seconds
        if spread_seconds >= timeout:
            raise ValueError("spread_seconds must be shorter than the timeout, or sessions are already expired")
        ids: list[str] = []
        start = repo.clock()
        saved, repo.timeout_seconds = repo.timeout_seconds, timeout
        try:
            with repo.pipelined(batch=batch, reads=False):
                for i in range(count):
                    last = start - (i * 1000 * spread_seconds // count if spread_seconds else 0)
                    ids.append(repo.new_session(f"user{i % users}" if users else None, at=last))
                    self.expiries_ms.append(last + timeout * 1000)
        finally:
            repo.timeout_seconds = saved
        return ids

    def delete_sessions(self, session_ids: Iterable[str], batch: int = 1000) -> int:
        """Logout of many sessions (deleteById after the request touched them). Returns how
        many existed."""
        with self.repo.pipelined(batch=batch):
            return sum(self.repo.logout(s) for s in session_ids)

    def delete_session(self, session_id: str) -> bool:
        return self.delete_sessions([session_id]) == 1

    def delete(self, session_id: str, user: str | None = None) -> None:
        """Compatibility name for delete_session; the user is read from the session."""
        self.delete_session(session_id)


def connect_master(sentinels: list[tuple[str, int]], master_set: str, password: str | None, db: int = 0,
                   timeout: float = 2.0) -> redis.Redis:
    """Connect to the current master the way Lettuce does: ask the Sentinels for the
    master's address (SENTINEL get-master-addr-by-name), connect, and check ROLE says
    master (a just-demoted node is refused). `password` serves Sentinels and Redis."""
    host, port = master_from_sentinels(sentinels, master_set, password, timeout=timeout)
    client = connect(host, port, password, db, timeout=timeout)
    try:
        role = client.role()[0]
    except (OSError, redis.RedisError):
        client.close()
        raise
    if role != "master":
        client.close()
        raise redis.ConnectionError(f"{host}:{port} named master of {master_set!r} by Sentinel but has role {role!r}")
    return client
