"""Writes sessions in Spring Session's real Redis key layout (both repository types), so
the session count, memory sizing and eviction behaviour are measured on the real thing.

default repository (RedisSessionRepository): hash `<ns>:sessions:<id>` with
  creationTime, lastAccessedTime, maxInactiveInterval, sessionAttr:<name>; TTL = timeout.
  Logout: DEL of the hash.
indexed repository (RedisIndexedSessionRepository, default minute-based expiration
  store): the same hash with TTL timeout+300 s, string `<ns>:sessions:expires:<id>` (""
  value, TTL = timeout), set `<ns>:expirations:<expiry ms rounded up to the next minute>`
  with member `expires:<id>` (TTL timeout+300 s), and, for a logged-in user, the principal
  index set
  `<ns>:index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME:<user>`
  (member `<id>`, no TTL). With `expiration_store="sorted-set"` (Spring Session 3.4+
  SortedSetRedisSessionExpirationStore) the minute sets are replaced by one sorted set
  `<ns>:sessions:expirations` (member `<id>`, score = expiry ms, no TTL).
  Logout (deleteById): SREM from the principal index, SREM `expires:<id>` from its minute
  set (ZREM for the sorted set), DEL of the expires key, then the session is saved once
  more with maxInactiveInterval 0: the hash keeps 300 s of TTL and `expires:<id>` goes
  into the set of roundUpToNextMinute(lastAccessedTime) (TTL 300 s).

Commands are the ones Spring Session sends through Lettuce (so the Redis ACL users are
judged against the real command list, components/acl.py): HMSET (Spring Data Redis
putAll), PEXPIREAT (default repository), APPEND + PEXPIRE of the shadow key, PUBLISH of the
created event, HGETALL to load, RENAME on changeSessionId.

Values are written as plain text (Spring serializes with JDK serialization by default:
a few dozen bytes more per field); `payload_bytes` stands in for the serialized
SPRING_SECURITY_CONTEXT. Commands are pipelined in batches (1M sessions in one call).
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from simulators.resp import Client, RedisError, master_from_sentinels

PRINCIPAL_INDEX = "org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME"
INDEXED_EXTRA_SECONDS = 300
USER_ATTRIBUTE = "sessionAttr:user"
EXPIRATION_STORES = ("minute", "sorted-set")


def round_up_to_next_minute(ms: int) -> int:
    """Spring's roundUpToNextMinute: always the NEXT minute, even on a boundary."""
    return ms - (ms % 60000) + 60000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class SessionWriter:
    """Writes and deletes sessions of one app, like Spring Session would. `client` must
    already have the app's database selected."""

    client: Client
    namespace: str
    repository_type: str
    timeout_seconds: int
    payload_bytes: int = 512
    expiration_store: str = "minute"
    database: int = 0
    """The logical DB the client selected: part of the indexed repository's channel names."""
    expiries_ms: list[int] = field(default_factory=list, repr=False)
    """Expiry (epoch ms) of every session `create` wrote: the ground truth of what is live when."""

    def __post_init__(self) -> None:
        if self.repository_type not in ("default", "indexed"):
            raise ValueError(f"repository_type must be default or indexed, got {self.repository_type!r}")
        if self.expiration_store not in EXPIRATION_STORES:
            raise ValueError(f"expiration_store must be one of {EXPIRATION_STORES}, got {self.expiration_store!r}")

    # ------------------------------------------------------------------ key names
    def session_key(self, session_id: str) -> str:
        return f"{self.namespace}:sessions:{session_id}"

    def expires_key(self, session_id: str) -> str:
        return f"{self.namespace}:sessions:expires:{session_id}"

    def expirations_key(self, rounded_ms: int) -> str:
        return f"{self.namespace}:expirations:{rounded_ms}"

    def sorted_expirations_key(self) -> str:
        return f"{self.namespace}:sessions:expirations"

    def principal_key(self, user: str) -> str:
        return f"{self.namespace}:index:{PRINCIPAL_INDEX}:{user}"

    def created_channel(self, session_id: str) -> str:
        """RedisIndexedSessionRepository: `<ns>:event:<db>:created:<id>`."""
        return f"{self.namespace}:event:{self.database}:created:{session_id}"

    def _payload(self) -> bytes:
        return os.urandom(self.payload_bytes // 2 + 1).hex().encode()[: self.payload_bytes]

    # ---------------------------------------------------------------------- save
    def commands(self, session_id: str, user: str | None, last_access_ms: int | None = None,
                 timeout_seconds: int | None = None, new: bool = True, fields: list | None = None) -> list[tuple]:
        """The commands Spring Session issues to save a session last accessed at
        `last_access_ms` (default now): it expires at last access + timeout. A new session
        writes every field (and, indexed, publishes the created event); a saved one only
        `fields` (the delta, default lastAccessedTime)."""
        now = now_ms()
        last_access_ms = now if last_access_ms is None else last_access_ms
        timeout = timeout_seconds if timeout_seconds is not None else self.timeout_seconds
        expiry = last_access_ms + timeout * 1000
        ttl_ms = max(1, expiry - now)
        key = self.session_key(session_id)
        if new:
            delta = ["creationTime", last_access_ms, "lastAccessedTime", last_access_ms, "maxInactiveInterval", timeout,
                     "sessionAttr:SPRING_SECURITY_CONTEXT", self._payload()]
            if user:
                delta += [USER_ATTRIBUTE, user]
        else:
            delta = fields if fields is not None else ["lastAccessedTime", last_access_ms]
        cmds: list[tuple] = [("HMSET", key, *delta)]
        if self.repository_type == "default":  # RedisSessionRepository.saveDelta: expireAt
            return cmds + [("PEXPIREAT", key, expiry)]
        extra_ms = INDEXED_EXTRA_SECONDS * 1000
        if user and new:
            cmds.append(("SADD", self.principal_key(user), session_id))
        if new:
            cmds.append(("PUBLISH", self.created_channel(session_id), "delta"))
        cmds += [("APPEND", self.expires_key(session_id), ""), ("PEXPIRE", self.expires_key(session_id), ttl_ms),
                 ("PEXPIRE", key, ttl_ms + extra_ms)]
        if self.expiration_store == "minute":  # SADD, then PEXPIRE (2.7-3.3 order; 3.4 swaps them)
            bucket = self.expirations_key(round_up_to_next_minute(expiry))
            cmds += [("SADD", bucket, f"expires:{session_id}"), ("PEXPIRE", bucket, ttl_ms + extra_ms)]
        else:
            cmds.append(("ZADD", self.sorted_expirations_key(), expiry, session_id))
        return cmds

    # ------------------------------------------------------- one session's life
    def read(self, session_id: str) -> dict[str, str]:
        """findById / getSession: HGETALL of the hash ({} when gone)."""
        flat = self.client.call("HGETALL", self.session_key(session_id)) or []
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def touch(self, session_id: str, fields: list | None = None) -> None:
        """A request that uses the session (setLastAccessedTime + commitSession): the default
        repository checks the session still exists (EXISTS) first."""
        if self.repository_type == "default" and not self.client.call("EXISTS", self.session_key(session_id)):
            raise KeyError(f"session {session_id} was invalidated")
        self.client.pipeline(self.commands(session_id, None, new=False, fields=fields))

    def change_session_id(self, session_id: str) -> str:
        """Session fixation protection at login (ChangeSessionIdAuthenticationStrategy):
        saveChangeSessionId RENAMEs the keys, then saveDelta. Returns the new id."""
        new_id = str(uuid.uuid4())
        cmds: list[tuple] = []
        if self.repository_type == "default":
            if not self.client.call("EXISTS", self.session_key(session_id)):
                raise KeyError(f"session {session_id} was invalidated")
            cmds.append(("RENAME", self.session_key(session_id), self.session_key(new_id)))
        else:
            cmds += [("RENAME", self.session_key(session_id), self.session_key(new_id)),
                     ("RENAME", self.expires_key(session_id), self.expires_key(new_id)),
                     ("HGETALL", self.session_key(session_id))]  # 3.4+ expirationStore.remove(old): gone
            if self.expiration_store == "sorted-set":
                cmds.append(("ZREM", self.sorted_expirations_key(), session_id))
        self.client.pipeline(cmds + self.commands(new_id, None, new=False))
        return new_id

    def create(self, count: int, users: int = 0, batch: int = 1000, timeout_seconds: int | None = None,
               spread_seconds: int = 0) -> list[str]:
        """Create `count` live sessions, pipelined in batches of about `batch` commands.
        `spread_seconds` spreads their last access over the past N seconds (N < timeout),
        as real traffic does; `users` > 0 logs them in as user0..user{users-1}."""
        timeout = timeout_seconds if timeout_seconds is not None else self.timeout_seconds
        if spread_seconds >= timeout:
            raise ValueError("spread_seconds must be shorter than the timeout, or sessions are already expired")
        ids: list[str] = []
        start = now_ms()
        pending: list[tuple] = []
        for i in range(count):
            sid = str(uuid.uuid4())
            ids.append(sid)
            last_access = start - (i * 1000 * spread_seconds // count if spread_seconds else 0)
            self.expiries_ms.append(last_access + timeout * 1000)
            pending += self.commands(sid, f"user{i % users}" if users else None, last_access, timeout)
            if len(pending) >= batch:
                self.client.pipeline(pending)
                pending = []
        if pending:
            self.client.pipeline(pending)
        return ids

    # -------------------------------------------------------------------- logout
    def delete_sessions(self, session_ids: Iterable[str], batch: int = 1000) -> int:
        """Logout (Spring's deleteById) of many sessions, pipelined: one round trip to
        read each session's lastAccessedTime/maxInactiveInterval/user, one to delete.
        Returns how many existed."""
        ids = list(session_ids)
        found = 0
        for i in range(0, len(ids), batch):
            chunk = ids[i:i + batch]
            if self.repository_type == "default":
                found += sum(self.client.pipeline([("DEL", self.session_key(s)) for s in chunk]))
                continue
            rows = self.client.pipeline([("HGETALL", self.session_key(s)) for s in chunk])
            cmds: list[tuple] = []
            for sid, flat in zip(chunk, rows, strict=True):
                hash_ = dict(zip(flat[::2], flat[1::2], strict=True))
                last, interval = hash_.get("lastAccessedTime"), hash_.get("maxInactiveInterval")
                if last is None or interval is None:
                    continue  # gone already (deleteById returns when getSession finds nothing)
                found += 1
                cmds += self._delete_commands(sid, int(last), int(interval), hash_.get(USER_ATTRIBUTE))
            if cmds:
                self.client.pipeline(cmds)
        return found

    def _delete_commands(self, sid: str, last: int, interval: int, user: str | None) -> list[tuple]:
        cmds: list[tuple] = []
        if user:
            cmds.append(("SREM", self.principal_key(user), sid))
        member = f"expires:{sid}"
        if self.expiration_store == "minute":
            cmds.append(("SREM", self.expirations_key(round_up_to_next_minute(last + interval * 1000)), member))
        else:
            cmds.append(("ZREM", self.sorted_expirations_key(), sid))
        cmds.append(("DEL", self.expires_key(sid)))
        # save(session) with maxInactiveInterval = 0
        key = self.session_key(sid)
        extra_ms = INDEXED_EXTRA_SECONDS * 1000
        cmds += [("HMSET", key, "maxInactiveInterval", 0), ("PEXPIRE", key, extra_ms)]
        if self.expiration_store == "minute":
            bucket = self.expirations_key(round_up_to_next_minute(last))
            cmds += [("SADD", bucket, member), ("PEXPIRE", bucket, extra_ms)]
        else:
            cmds.append(("ZADD", self.sorted_expirations_key(), last, sid))
        return cmds

    def delete_session(self, session_id: str) -> bool:
        """Logout of one session (see delete_sessions). True if it existed."""
        return self.delete_sessions([session_id]) == 1

    def delete(self, session_id: str, user: str | None = None) -> None:
        """Compatibility name for delete_session; the user is read from the session."""
        self.delete_session(session_id)


def connect_master(sentinels: list[tuple[str, int]], master_set: str, password: str | None, db: int = 0,
                   timeout: float = 2.0) -> Client:
    """Connect to the current master the way Lettuce does: ask the Sentinels for the
    master's address (SENTINEL get-master-addr-by-name), connect, and check ROLE says
    master (a just-demoted node is refused). `password` serves Sentinels and Redis."""
    host, port = master_from_sentinels(sentinels, master_set, password, timeout=timeout)
    client = Client(host, port, password, db, timeout=timeout)
    try:
        role = client.call("ROLE")[0]
    except (OSError, RedisError, ConnectionError):
        client.close()
        raise
    if role != "master":
        client.close()
        raise ConnectionError(f"{host}:{port} named master of {master_set!r} by Sentinel but has role {role!r}")
    return client
