"""Live Spring Session count per app, true under logins, logouts, touches and expiry, and
within the scrape budget at 1M sessions (docs/decisions.md "Session count", figures in
docs/benchmarks.md). Each WAS app keeps its sessions in its own logical DB and namespace.

A session is live while Spring has it: not expired and not deleted. Per store:

- indexed repository, `SortedSetRedisSessionExpirationStore` (Spring Session 3.4+, opt-in
  bean, `sessionExpirationStore: sorted-set`): one sorted set `<ns>:sessions:expirations`,
  score = lastAccessedTime + maxInactiveInterval (the writer's clock), kept exact by Spring
  on every save, id change (`saveChangeSessionId` ZREMs the old id) and delete. Counted by
  ZCOUNT over (now, +inf] in the exporter's Lua script on every scrape: O(log n).
- default repository (`RedisSessionRepository`: one hash `<ns>:sessions:<id>`, PEXPIREAT at
  expiry) and indexed repository with Spring's default per-minute expiry sets (every line,
  2.7 to 4.x): counted by SCAN of the live keys: `<ns>:sessions:*` (default) or
  `<ns>:sessions:expires:<id>` (indexed: the shadow key exists exactly while the session is
  live; RENAMEd at an id change, DELeted at logout, TTL = timeout). SCAN skips keys that
  are expired but not reclaimed yet, so this is exact where cheaper readings are not:
  INFO keyspace (`redis_db_keys`) counts unreclaimed keys (+2..+13 % under churn), and the
  minute sets keep `expires:<old id>` after every login (`saveChangeSessionId` never removes
  it: 2.7/3.0-3.3 do not try, 3.4+ looks the old id up after renaming it) and need an
  EXISTS per member of the current minute (O(sessions / timeout minutes) per scrape).
  The SCAN is O(keys in the app's DB): redis_exporter runs it (`/scrape?target=...&count-keys=`,
  SCAN ... COUNT 1000 per call: Redis is never blocked longer than one call) on a second,
  slower ServiceMonitor endpoint (`COUNT_INTERVAL`), so the regular scrape stays plain. Its
  cost (Redis CPU per count, exporter memory per session) is in docs/benchmarks.md; the
  reading is as of the end of the last SCAN, whose sessions created or ended while it ran may
  or may not be counted (bounded by the churn during one SCAN, measured there).

Every scrape the script also checks that the app's DB holds what the config says
(`<app>_mismatch`): no key outside the namespace, no indexed keys in a default store, the
sorted set present where configured and absent where not, and no sorted set under Spring's
DEFAULT_NAMESPACE (`spring:session`) when the app uses another (Spring's reference example
builds the store with DEFAULT_NAMESPACE: the store then writes where nobody counts). A store
that does not match records no count (it cannot be trusted) and SessionStoreMismatch fires;
a count that fails records `spring_session:count_failed 1` and SessionCountFailed fires.

redis_exporter contract (checked on 1.45 and in the 1.74 source): `--script <file>` is
evaluated on every scrape and each returned pair `{name, value}` becomes
`redis_script_values{key="<name>"}`; every element must be a bulk string, and a script error
fails the whole scrape (1.45: `redis_up 0`). So values are tostring()ed and each store is
checked under pcall (`<key>_error 1`). `count-keys` given as a /scrape parameter overrides
the flag for that request only (exporter/http.go, scrapeHandler) and yields
`redis_keys_count{db="db<N>",key="<pattern>"}`.

The recording rule `spring_session:active_sessions{namespace, job, app}` gives every store
one name, counted on the master only (replicas hold copies, and a stale replica must not win).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

RECORD = "spring_session:active_sessions"
"""Recorded series every consumer (dashboard, alerts, checklist) reads, label `app`."""
COUNT_FAILED = "spring_session:count_failed"
"""1 when the master is up but an app's sessions could not be counted, else 0 (label `app`)."""
METHOD_LABEL = "method"
"""Label of RECORD saying how it was counted: `zcount` (exact at every scrape) or `scan`
(exact as of the last SCAN; sessions created or ended during it may or may not be in it)."""
STORE_MISMATCH = "spring_session:store_mismatch"
"""1 when an app's session DB does not hold the store its config declares, else 0 (label `app`)."""
SCRIPT_METRIC = "redis_script_values"
"""Metric redis_exporter emits for the `--script` reply, one series per returned name."""
SCRIPT_LABEL = "key"
"""Label of SCRIPT_METRIC carrying the returned name."""
SCRIPT_FLAG = "--script"
"""redis_exporter flag taking the Lua file (Go flag: `-script` is the same)."""
COUNT_KEYS_METRIC = "redis_keys_count"
"""Metric of redis_exporter's count-keys (SCAN), labels `db="db<N>"`, `key="<pattern>"`."""
COUNT_KEYS_PARAM = "count-keys"
"""/scrape query parameter overriding --count-keys for one request."""
COUNT_JOB_SUFFIX = "-session-count"
"""The counting endpoint's `job` label is the exporter's + this: its `up` and its failures
stay apart from the regular scrape (RedisExporterDown, RedisMetricsAbsent)."""
COUNT_INTERVAL = "60s"
"""Scrape interval of the counting endpoint."""
COUNT_TIMEOUT = "55s"
"""Its scrape timeout: the longest SCAN it allows (docs/benchmarks.md: ~5.6 s at 1M indexed sessions)."""
DB_KEYS_METRIC = "redis_db_keys"
"""Per-DB key count from INFO keyspace, label `db="db<N>"` (counts keys, not sessions)."""
INSTANCE_INFO_METRIC = "redis_instance_info"
"""Carries `role` ("master" / "slave") per scraped Redis."""
REPOSITORY_TYPES = ("default", "indexed")
EXPIRATION_STORES = ("minute", "sorted-set")
SCRIPT_ERROR_SUFFIX = "_error"
"""`<script_key>_error` is 1 when the script could not check or count that store, else 0."""
SCRIPT_MISMATCH_SUFFIX = "_mismatch"
"""`<script_key>_mismatch` is 1 when the store's DB does not match its config, else 0."""
DEFAULT_NAMESPACE = "spring:session"
"""Spring's `RedisIndexedSessionRepository.DEFAULT_NAMESPACE`."""
SAMPLES = 32
"""Random keys the script checks per store and scrape (a layout that differs in a fifth of
the keys is seen with probability 1 - 0.8^32 > 99.9 % at each scrape)."""


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
    """`default` (one hash per session) or `indexed` (hash + expires key + expiry index + principal index)."""
    timeout_seconds: int
    """Session idle timeout."""
    expiration_store: str = "minute"
    """Indexed repository: `minute` (Spring's default per-minute sets) or `sorted-set`
    (`SortedSetRedisSessionExpirationStore`, 3.4+). Ignored for the default repository."""

    def __post_init__(self) -> None:
        if self.repository_type not in REPOSITORY_TYPES:
            raise ValueError(f"{self.app}: repository_type {self.repository_type!r} not in {REPOSITORY_TYPES}")
        if self.expiration_store not in EXPIRATION_STORES:
            raise ValueError(f"{self.app}: expiration_store {self.expiration_store!r} not in {EXPIRATION_STORES}")
        if not self.app or not self.namespace:
            raise ValueError(f"app and namespace must be non-empty: {self!r}")
        if self.database < 0:
            raise ValueError(f"{self.app}: database must be >= 0, got {self.database}")
        if self.timeout_seconds <= 0:
            raise ValueError(f"{self.app}: timeout_seconds must be > 0, got {self.timeout_seconds}")

    @property
    def layout(self) -> str:
        """`default`, `minute` or `sorted-set`: what the app's DB holds."""
        return "default" if self.repository_type == "default" else self.expiration_store

    @property
    def method(self) -> str:
        """`zcount` (script, every scrape) or `scan` (count-keys, counting endpoint)."""
        return "zcount" if self.layout == "sorted-set" else "scan"

    @property
    def scan_pattern(self) -> str:
        """The keys that exist exactly while a session is live (method `scan`)."""
        return f"{self.namespace}:sessions:" + ("*" if self.layout == "default" else "expires:*")


def stores_for(apps) -> tuple[SessionStore, ...]:
    """SessionStore per WasAppSettings, by app name: the order of wasApps changes nothing."""
    return tuple(SessionStore(a.name, a.session_database, a.session_namespace, a.repository_type,
                              a.session_timeout_seconds, a.expiration_store or "minute")
                 for a in sorted(apps, key=lambda a: a.name))


def script_key(store: SessionStore) -> str:
    """The `key` label of the script metric holding a store's live-session count (zcount)."""
    return f"sessions_{store.app}"


def script_error_key(store: SessionStore) -> str:
    """The `key` label of the script metric flagging a failed check or count for a store."""
    return script_key(store) + SCRIPT_ERROR_SUFFIX


def script_mismatch_key(store: SessionStore) -> str:
    """The `key` label of the script metric flagging a store that does not match its config."""
    return script_key(store) + SCRIPT_MISMATCH_SUFFIX


def count_keys(stores) -> str | None:
    """The `count-keys` value for the counting endpoint (`db<N>=<pattern>,...`), or None
    when no store is counted by SCAN. Namespaces hold no ',', '=', '%' or '+' (config rule),
    which the exporter would split on or URL-unescape."""
    pairs = [f"db{s.database}={s.scan_pattern}" for s in stores if s.method == "scan"]
    return ",".join(pairs) or None


def count_job(job: str) -> str:
    """The counting endpoint's `job` label."""
    return job + COUNT_JOB_SUFFIX


def count_selector_of(selector: str) -> str:
    """The counting endpoint's label matchers, from the regular scrape's: the same with
    `job="<job>-session-count"` (e.g. `namespace="ns",job="redis-exporter"` ->
    `namespace="ns",job="redis-exporter-session-count"`)."""
    return re.sub(r'\bjob="([^"]*)"', lambda m: f'job="{count_job(m.group(1))}"', selector)


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lua_script(stores) -> str | None:
    """Lua for redis_exporter `--script`: per store, the store check and (sorted-set store)
    the count. None when there is no store."""
    if not stores:
        return None
    entries = ",\n".join(
        f"  {{{_lua_string(script_key(s))}, {s.database}, {_lua_string(s.namespace)}, {_lua_string(s.layout)}}}"
        for s in stores)
    return f"""-- Generated by monitoring/session_count.py: Spring Session store checks and the
-- sorted-set store's live-session count. Reads only (RANDOMKEY may reclaim an expired key,
-- as any read does).
-- {{metric key, database, namespace, layout: default | minute | sorted-set}}
local stores = {{
{entries}
}}
local DEFAULT_NAMESPACE = {_lua_string(DEFAULT_NAMESPACE)}
local SAMPLES = {SAMPLES}
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function starts(text, prefix) return string.sub(text, 1, #prefix) == prefix end

-- 1 when the DB does not hold what the config declares, else 0.
local function mismatch(s)
  local ns, layout = s[3] .. ':', s[4]
  if s[3] ~= DEFAULT_NAMESPACE and redis.call('EXISTS', DEFAULT_NAMESPACE .. ':sessions:expirations') == 1 then
    return 1  -- SortedSetRedisSessionExpirationStore built with DEFAULT_NAMESPACE: writes where nobody counts
  end
  local zset = redis.call('EXISTS', ns .. 'sessions:expirations') == 1
  if zset and layout ~= 'sorted-set' then return 1 end  -- the app registered the sorted-set store
  for _ = 1, SAMPLES do
    local key = redis.call('RANDOMKEY')
    if not key then break end
    if not starts(key, ns) then return 1 end  -- another namespace writes this DB
    local expires = starts(key, ns .. 'sessions:expires:')
    if layout == 'default' and (expires or starts(key, ns .. 'expirations:') or starts(key, ns .. 'index:')) then
      return 1  -- indexed repository keys in a default-repository store
    end
    if layout == 'sorted-set' and expires and not zset then return 1 end  -- live sessions, no sorted set
  end
  return 0
end

local function check(s)
  redis.call('SELECT', s[2])  -- Redis 7+: does not change the caller's DB
  local m = mismatch(s)
  local live = nil
  if m == 0 and s[4] == 'sorted-set' then
    -- score = lastAccessedTime + maxInactiveInterval: live while after now
    live = redis.call('ZCOUNT', s[3] .. ':sessions:expirations', '(' .. string.format('%.0f', now_ms), '+inf')
  end
  return m, live
end

local out = {{}}
for _, s in ipairs(stores) do
  local ok, m, live = pcall(check, s)
  if ok then
    table.insert(out, s[1] .. '{SCRIPT_MISMATCH_SUFFIX}')
    table.insert(out, tostring(m))
    if live then
      table.insert(out, s[1])
      table.insert(out, tostring(live))
    end
  end
  table.insert(out, s[1] .. '{SCRIPT_ERROR_SUFFIX}')
  table.insert(out, ok and '0' or '1')
end
return out
"""


def _on_master(expr: str, selector: str, sep: str) -> str:
    return f'({expr} and on(instance) {INSTANCE_INFO_METRIC}{{{selector}{sep}role="master"}})'


def _per_app(expr: str, app: str) -> str:
    return f'label_replace({expr}, "app", "{app}", "", "")'


def session_count_expr(store: SessionStore, selector: str = "", count_selector: str | None = None) -> str:
    """PromQL for one store's live sessions on the master. `selector` is a label matcher
    list without braces (e.g. `namespace="petclinic",job="redis-exporter"`) scoping the
    regular scrape's series, `count_selector` the counting endpoint's (default: derived
    from `selector`, count_selector_of).

    `A and on(instance) B` keeps A's samples whose `instance` also has a B sample: here, only
    the series scraped from the node that is master now. No count is recorded while the
    script reports that the store does not match its config."""
    sep = "," if selector else ""
    count_sel = count_selector_of(selector) if count_selector is None else count_selector
    csep = "," if count_sel else ""
    if store.method == "scan":
        # the counting endpoint's series carry its own job: namespace and job come from the
        # master's redis_instance_info (value 1; group_left keeps its labels), the value
        # from the count
        keys = f'{COUNT_KEYS_METRIC}{{{count_sel}{csep}db="db{store.database}",key="{store.scan_pattern}"}}'
        master = f'max by (namespace, job, instance) ({INSTANCE_INFO_METRIC}{{{selector}{sep}role="master"}})'
        on_master = f"({master} * on(instance) group_left max by (instance) ({keys}))"
    else:
        on_master = _on_master(f'{SCRIPT_METRIC}{{{selector}{sep}{SCRIPT_LABEL}="{script_key(store)}"}}', selector, sep)
    mismatch = f'{SCRIPT_METRIC}{{{selector}{sep}{SCRIPT_LABEL}="{script_mismatch_key(store)}"}}'
    return (f"max by (namespace, job, app) ({_per_app(on_master, store.app)})"
            f" unless on(namespace, job) (max by (namespace, job) ({_on_master(mismatch, selector, sep)}) == 1)")


def store_mismatch_expr(store: SessionStore, selector: str = "") -> str:
    """1 / 0 per app on the master: the script's store check."""
    sep = "," if selector else ""
    flag = f'{SCRIPT_METRIC}{{{selector}{sep}{SCRIPT_LABEL}="{script_mismatch_key(store)}"}}'
    return f"max by (namespace, job, app) ({_per_app(_on_master(flag, selector, sep), store.app)})"


def count_failed_expr(store: SessionStore, selector: str = "") -> str:
    """1 when the master is up but no count was recorded (counting scrape failed or timed
    out, SCAN or script error) or the script flags an error, unless the store mismatch
    explains it; else 0. Reads the rules above it in the same group."""
    sep = "," if selector else ""
    app = f'{selector}{sep}app="{store.app}"'
    master_up = _per_app(f'max by (namespace, job) ({INSTANCE_INFO_METRIC}{{{selector}{sep}role="master"}})', store.app)
    flag = f'{SCRIPT_METRIC}{{{selector}{sep}{SCRIPT_LABEL}="{script_error_key(store)}"}}'
    error = _per_app(f"max by (namespace, job) ({_on_master(flag, selector, sep)})", store.app)
    failing = (f"((({master_up} unless on(namespace, job, app) {RECORD}{{{app}}}) or on(namespace, job, app) ({error} == 1))"
               f" unless on(namespace, job, app) ({STORE_MISMATCH}{{{app}}} == 1))")
    return (f"(0 * {failing} + 1) or on(namespace, job, app) (0 * max by (namespace, job, app) ({RECORD}{{{app}}}))"
            f" or on(namespace, job, app) (0 * {STORE_MISMATCH}{{{app}}})")


def recording_rules(stores, selector: str = "", count_selector: str | None = None) -> list[dict]:
    """Per store: `spring_session:store_mismatch`, `spring_session:active_sessions` and
    `spring_session:count_failed` (in this order: the later read the earlier). The count
    carries `method` (METHOD_LABEL)."""
    rules = []
    for s in stores:
        labels = {"app": s.app}
        rules += [{"record": STORE_MISMATCH, "expr": store_mismatch_expr(s, selector), "labels": labels},
                  {"record": RECORD, "expr": session_count_expr(s, selector, count_selector),
                   "labels": {**labels, METHOD_LABEL: s.method}},
                  {"record": COUNT_FAILED, "expr": count_failed_expr(s, selector), "labels": labels}]
    return rules
