"""Writes sessions in Spring Session's real Redis key layout (both repository types), so
the session count, memory sizing and eviction behaviour are measured on the real thing.

default repository (RedisSessionRepository): hash `<ns>:sessions:<id>` with
  creationTime, lastAccessedTime, maxInactiveInterval, sessionAttr:<name>; TTL = timeout.
indexed repository (RedisIndexedSessionRepository): the same hash with TTL timeout+300 s,
  string `<ns>:sessions:expires:<id>` ("" value, TTL = timeout), set
  `<ns>:expirations:<expiry ms rounded up to the next minute>` with member `expires:<id>`
  (TTL timeout+300 s), and the principal index set
  `<ns>:index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME:<user>`
  (no TTL).
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import Optional

from simulators.resp import Client

PRINCIPAL_INDEX = "org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME"
INDEXED_EXTRA_SECONDS = 300


def round_up_to_next_minute(ms: int) -> int:
    """Spring's rounding of an expiry (ms) to its expiration set key: always the next minute."""
    return ms - (ms % 60000) + 60000


@dataclass
class SessionWriter:
    """Writes and deletes sessions of one app, like Spring Session would."""

    client: Client
    namespace: str
    repository_type: str
    timeout_seconds: int
    payload_bytes: int = 512

    def _payload(self) -> bytes:
        return os.urandom(self.payload_bytes // 2).hex().encode()[: self.payload_bytes]

    def commands(self, session_id: str, user: Optional[str], last_access_ms: Optional[int] = None,
                 timeout_seconds: Optional[int] = None) -> list[tuple]:
        """The commands Spring Session issues to save a session last accessed at
        `last_access_ms` (default now): it expires at last access + timeout."""
        now_ms = int(time.time() * 1000)
        last_access_ms = now_ms if last_access_ms is None else last_access_ms
        timeout = timeout_seconds if timeout_seconds is not None else self.timeout_seconds
        expiry = last_access_ms + timeout * 1000
        ttl_ms = max(1, expiry - now_ms)
        key = f"{self.namespace}:sessions:{session_id}"
        fields = ["creationTime", last_access_ms, "lastAccessedTime", last_access_ms, "maxInactiveInterval", timeout,
                  "sessionAttr:SPRING_SECURITY_CONTEXT", self._payload()]
        if user:
            fields += ["sessionAttr:user", user]
        cmds = [("HSET", key, *fields)]
        if self.repository_type == "default":
            return cmds + [("PEXPIRE", key, ttl_ms)]
        bucket = f"{self.namespace}:expirations:{round_up_to_next_minute(expiry)}"
        extra_ms = INDEXED_EXTRA_SECONDS * 1000
        cmds += [
            ("PEXPIRE", key, ttl_ms + extra_ms),
            ("SET", f"{self.namespace}:sessions:expires:{session_id}", "", "PX", ttl_ms),
            ("SADD", bucket, f"expires:{session_id}"),
            ("PEXPIRE", bucket, ttl_ms + extra_ms),
        ]
        if user:
            cmds.append(("SADD", f"{self.namespace}:index:{PRINCIPAL_INDEX}:{user}", session_id))
        return cmds

    def create(self, count: int, users: int = 0, batch: int = 1000, timeout_seconds: Optional[int] = None,
               spread_seconds: int = 0) -> list[str]:
        """Create `count` live sessions (pipelined). `spread_seconds` spreads their last
        access over the past N seconds (N < timeout), as real traffic does; `users` > 0
        logs them in as user0..user{users-1}."""
        timeout = timeout_seconds if timeout_seconds is not None else self.timeout_seconds
        if spread_seconds >= timeout:
            raise ValueError("spread_seconds must be shorter than the timeout, or sessions are already expired")
        ids: list[str] = []
        now_ms = int(time.time() * 1000)
        pending: list[tuple] = []
        for i in range(count):
            sid = str(uuid.uuid4())
            ids.append(sid)
            last_access = now_ms - (i * 1000 * spread_seconds // count if spread_seconds else 0)
            pending += self.commands(sid, f"user{i % users}" if users else None, last_access, timeout)
            if len(pending) >= batch:
                self.client.pipeline(pending)
                pending = []
        if pending:
            self.client.pipeline(pending)
        return ids

    def delete(self, session_id: str, user: Optional[str] = None) -> None:
        """Logout: what Spring Session does on invalidate."""
        key = f"{self.namespace}:sessions:{session_id}"
        if self.repository_type == "default":
            self.client.call("DEL", key)
            return
        expires_key = f"{self.namespace}:sessions:expires:{session_id}"
        ttl_ms = self.client.call("PTTL", expires_key)
        cmds: list[tuple] = [("DEL", expires_key), ("DEL", key)]
        if ttl_ms and ttl_ms > 0:
            bucket = round_up_to_next_minute(int(time.time() * 1000) + ttl_ms)
            # The bucket was computed at save time; the PTTL round trip may cross a minute.
            for b in (bucket - 60000, bucket, bucket + 60000):
                cmds.append(("SREM", f"{self.namespace}:expirations:{b}", f"expires:{session_id}"))
        if user:
            cmds.append(("SREM", f"{self.namespace}:index:{PRINCIPAL_INDEX}:{user}", session_id))
        self.client.pipeline(cmds)
