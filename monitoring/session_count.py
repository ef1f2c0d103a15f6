"""Exact live Spring Session count, cheap enough to scrape every 30 s at 1M sessions.

`redis_db_keys` counts every key; the indexed repository writes several keys per
session (hash, expires string, minute sets, principal index), so the seed's query was
wrong. Each WAS app keeps its sessions in a dedicated logical DB and key namespace:

- repository `default`: one hash `<ns>:sessions:<id>` per session (TTL = timeout) and
  nothing else in that DB, so the DB's key count is the session count:
  `redis_db_keys{db="dbN"}`, free (INFO keyspace). Caveat, measured on Redis 7.0.15:
  INFO also counts keys that have expired but that Redis has not reclaimed yet (active
  expiry samples and stops at ~10 % stale), so under churn the count reads high: +3 % at
  10 expiries/s, +8 % at 50/s, +13 % at 200/s, +18-25 % at 500-2000/s (+6 % at 2000/s
  with `active-expire-effort 10`). At the seed's scale (~100 sessions, 30 min timeout:
  0.05 expiries/s) it is exact in practice; at 100k+ sessions it is an upper bound.
- repository `indexed`: live sessions are the `<ns>:sessions:expires:<id>` strings.
  Counting them by SCAN is O(all keys) per scrape. Instead a Lua script, run by
  redis_exporter's `--script` flag on every scrape, reads Spring's own expiry index:
  sessions expiring at minute K sit in set `<ns>:expirations:<K ms>` (K = expiry rounded
  UP to the next minute; a boundary expiry goes to the next minute). Every set after the
  current minute holds only live sessions (SCARD, O(1) each); only the current minute's
  set may hold expired or logged-out ones, so its members alone are checked with EXISTS
  (which also reclaims them if expired). Cost: O(timeout minutes + sessions expiring this
  minute). The opt-in `SortedSetRedisSessionExpirationStore` (Spring Session 3.4+) keeps
  one sorted set `<ns>:sessions:expirations` (score = expiry ms) instead: ZCOUNT over
  (now, +inf] counts it in O(log n); an absent key adds 0, so both stores are covered.
  Known limits: two concurrent saves of one session whose expiries round to different
  minutes can leave it in two future sets (Spring removes only the set it loaded), so
  it counts twice until the earlier minute passes; app clocks ahead of Redis by s seconds
  count a just-expired session for up to s seconds.

redis_exporter 1.45 contract (checked with the Debian binary): `--script <file>` is
evaluated on every scrape and exports each returned pair `{name, value}` as
`redis_script_values{key="<name>"}`. Every element must be a bulk string; a number in
the reply, or any script error, fails the whole scrape and the exporter reports
`redis_up 0`. So values are returned with tostring(), and each store is counted under
pcall: a failing store (e.g. a non-set at an expiry key) yields no count series but
`<key>_error 1`, never a fake "Redis down".

The recording rule `spring_session:active_sessions{namespace, job, app}` gives both one name,
counted on the master only (replicas hold copies, and a stale replica must not win).
"""
from __future__ import annotations

from dataclasses import dataclass

RECORD = "spring_session:active_sessions"
"""Recorded series every consumer (dashboard, alerts, checklist) reads, label `app`."""
SCRIPT_METRIC = "redis_script_values"
"""Metric redis_exporter emits for the `--script` reply, one series per returned name."""
SCRIPT_LABEL = "key"
"""Label of SCRIPT_METRIC carrying the returned name."""
SCRIPT_FLAG = "--script"
"""redis_exporter flag taking the Lua file (Go flag: `-script` is the same)."""
DB_KEYS_METRIC = "redis_db_keys"
"""Per-DB key count from INFO keyspace, label `db="db<N>"`."""
INSTANCE_INFO_METRIC = "redis_instance_info"
"""Carries `role` ("master" / "slave") per scraped Redis."""
REPOSITORY_TYPES = ("default", "indexed")
SCRIPT_ERROR_SUFFIX = "_error"
"""`<script_key>_error` is 1 when counting that store failed in the script, else 0."""
# Expiry sets read beyond the configured timeout: apps may lengthen single sessions a
# little, and app clocks may run ahead of Redis's.
EXTRA_MINUTES = 2


@dataclass(frozen=True)
class SessionStore:
    """Where one app's sessions live."""

    app: str
    """WAS app name (label `app` of the recorded series)."""
    database: int
    """Dedicated Redis logical DB (`spring.data.redis.database`); nothing else writes there."""
    namespace: str
    """Spring Session key namespace (`spring.session.redis.namespace`), e.g. spring:session:petclinic."""
    repository_type: str
    """`default` (one hash per session) or `indexed` (hash + expires key + expiry sets + principal index)."""
    timeout_seconds: int
    """Session idle timeout; bounds the expiry-minute sets the script reads."""

    def __post_init__(self) -> None:
        if self.repository_type not in REPOSITORY_TYPES:
            raise ValueError(f"{self.app}: repository_type {self.repository_type!r} not in {REPOSITORY_TYPES}")
        if not self.app or not self.namespace:
            raise ValueError(f"app and namespace must be non-empty: {self!r}")
        if self.database < 0:
            raise ValueError(f"{self.app}: database must be >= 0, got {self.database}")
        if self.timeout_seconds <= 0:
            raise ValueError(f"{self.app}: timeout_seconds must be > 0, got {self.timeout_seconds}")

    @property
    def script_minutes(self) -> int:
        """Future expiry-minute sets the script reads (SCARD) after the current one."""
        return -(-self.timeout_seconds // 60) + EXTRA_MINUTES


def stores_for(apps) -> tuple[SessionStore, ...]:
    """SessionStore per WasAppSettings."""
    return tuple(SessionStore(a.name, a.session_database, a.session_namespace, a.repository_type,
                              a.session_timeout_seconds) for a in apps)


def script_key(store: SessionStore) -> str:
    """The `key` label of the script metric holding a store's live-session count."""
    return f"sessions_{store.app}"


def script_error_key(store: SessionStore) -> str:
    """The `key` label of the script metric flagging a failed count for a store."""
    return script_key(store) + SCRIPT_ERROR_SUFFIX


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lua_script(stores) -> str | None:
    """Lua for redis_exporter `--script`, counting live sessions of the indexed stores
    (None when no store is indexed: the exporter then runs without `--script`)."""
    indexed = [s for s in stores if s.repository_type == "indexed"]
    if not indexed:
        return None
    entries = ",\n".join(
        f"  {{{_lua_string(script_key(s))}, {s.database}, {_lua_string(s.namespace)}, {s.script_minutes}}}"
        for s in indexed)
    return f"""-- Generated by monitoring/session_count.py: exact live Spring Session count
-- (indexed repository) from Spring's expiry index; no keyspace scan. Read-only.
-- {{metric key, database, namespace, future minutes to read}}
local stores = {{
{entries}
}}
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Spring's roundUpToNextMinute(now): the set of sessions expiring in this minute.
local current = now_ms - (now_ms % 60000) + 60000
local function ms(n) return string.format('%.0f', n) end

local function count(s)
  redis.call('SELECT', s[2])  -- Redis 7+: does not change the caller's DB
  local prefix = s[3] .. ':expirations:'
  local live = 0
  for m = 1, s[4] do  -- later minutes: every member is live
    live = live + redis.call('SCARD', prefix .. ms(current + m * 60000))
  end
  for _, member in ipairs(redis.call('SMEMBERS', prefix .. ms(current))) do
    live = live + redis.call('EXISTS', s[3] .. ':sessions:' .. member)  -- member = expires:<id>
  end
  -- SortedSetRedisSessionExpirationStore: score = expiry ms, absent key counts 0
  live = live + redis.call('ZCOUNT', s[3] .. ':sessions:expirations', '(' .. ms(now_ms), '+inf')
  return live
end

local out = {{}}
for _, s in ipairs(stores) do
  local ok, live = pcall(count, s)
  if ok then
    table.insert(out, s[1])
    table.insert(out, tostring(live))
  end
  table.insert(out, s[1] .. '{SCRIPT_ERROR_SUFFIX}')
  table.insert(out, ok and '0' or '1')
end
return out
"""


def session_count_expr(store: SessionStore, selector: str = "") -> str:
    """PromQL for one store's live sessions on the master. `selector` is a label
    matcher list without braces (e.g. `namespace="petclinic"`) to scope the series.

    `A and on(instance) B` keeps A's samples (values and labels) whose `instance` also
    has a B sample: here, only the series scraped from the node that is master now."""
    sep = "," if selector else ""
    if store.repository_type == "default":
        source = f'{DB_KEYS_METRIC}{{{selector}{sep}db="db{store.database}"}}'
    else:
        source = f'{SCRIPT_METRIC}{{{selector}{sep}{SCRIPT_LABEL}="{script_key(store)}"}}'
    master = f'{INSTANCE_INFO_METRIC}{{{selector}{sep}role="master"}}'
    return (f'max(label_replace({source}, "app", "{store.app}", "", "") '
            f"and on(instance) {master}) by (namespace, job, app)")


def recording_rules(stores, selector: str = "") -> list[dict]:
    """Recording rules giving `spring_session:active_sessions{app}` for every store."""
    return [{"record": RECORD, "expr": session_count_expr(s, selector), "labels": {"app": s.app}}
            for s in stores]
