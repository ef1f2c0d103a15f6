"""Live Spring Session count per app, within the scrape budget at 1M sessions, and with
no Lua: the exporter's Redis user has no EVAL (issue 20; docs/decisions.md "Session count",
figures in docs/benchmarks.md). Each WAS app keeps its sessions in its own logical DB and
namespace.

A session is live while Spring has it: not expired and not deleted. Per store:

- indexed repository, `SortedSetRedisSessionExpirationStore` (Spring Session 3.4+, opt-in
  bean, `sessionExpirationStore: sorted-set`): one sorted set `<ns>:sessions:expirations`,
  one member per session, ZADDed at every save, ZREMed at an id change
  (`saveChangeSessionId`), at logout (`deleteById`) and when an app instance receives the
  `expired`/`del` event of the session's `expires:` key (`onMessage`). Counted by ZCARD on
  every regular scrape: redis_exporter's `check-single-keys` (TYPE + ZCARD, plus MEMORY USAGE
  on 1.74; no SCAN), metric `redis_key_size{db,key}`, O(1). ZCARD also counts the members
  whose session has expired but whose removal has not happened yet: Redis reclaims the
  expired `expires:` key (active expiry, or a read), publishes `expired`, an app instance
  ZREMs. Spring's cleanup cron (every minute) only touches the 100 newest expired sessions'
  hashes, it removes nothing itself. So the count reads high by the expired-but-unreclaimed
  `expires:` keys plus the events in flight (measured in docs/benchmarks.md), and by every
  expiry no app instance heard (all instances down when it happened: such a member stays,
  the cron's touch reaches the session hash, not the `expires:` key); ZCOUNT over (now, +inf] would be exact but needs a
  client that sends it, and the exporter sends ZCOUNT only from a Lua script.
- default repository (`RedisSessionRepository`: one hash `<ns>:sessions:<id>`, PEXPIREAT at
  expiry) and indexed repository with Spring's default per-minute expiry sets (every line,
  2.7 to 4.x): counted by SCAN of the live keys: `<ns>:sessions:*` (default; leaving out the
  `<ns>:sessions:expires:*` shadow keys an app switched from the indexed repository leaves
  until they expire, each a second count of its session: SessionStore.scan_skip) or
  `<ns>:sessions:expires:<id>` (indexed: the shadow key exists exactly while the session is
  live; RENAMEd at an id change, DELeted at logout, TTL = timeout). SCAN skips keys that
  are expired but not reclaimed yet, so this is exact where cheaper readings are not:
  INFO keyspace (`redis_db_keys`) counts unreclaimed keys (+2..+13 % under churn), and the
  minute sets keep `expires:<old id>` after every login (`saveChangeSessionId` never removes
  it: 2.7/3.0-3.3 do not try, 3.4+ looks the old id up after renaming it) and need an
  EXISTS per member of the current minute (O(sessions / timeout minutes) per scrape).
  The SCAN is O(keys in the app's DB). The exporter never runs it (issue 20: whoever could
  ask a SCAN-capable exporter for `check-keys` got every key name in its log): a sidecar of
  the exporter pod, `session-counter` (components/exporter.py COUNTER_SCRIPT, ACL user
  `counter`, which accepts no request from anyone), runs `redis-cli -n <db> --scan --pattern
  <pattern> | wc -l` every COUNT_INTERVAL_SECONDS (SCAN ... MATCH like the exporter's count-keys,
  keys.go getKeysCount: Redis is never blocked longer than one call) and SETs the number into
  the store's database under names.SESSION_COUNT_KEY with a TTL of 3 intervals. The exporter
  reads that key on every regular scrape (`check-single-keys`: TYPE, then GET of a string,
  metric `redis_key_value{db,key}`). A counter that stops lets the key expire: no value, no
  count recorded, SessionCountFailed. Its cost (Redis CPU per count) is in docs/benchmarks.md;
  the reading is as of the end of the last SCAN, whose sessions created or ended while it ran
  may or may not be counted (bounded by the churn during one SCAN, measured there), and at
  most one interval plus a scrape old. SCAN returns key names, i.e. session ids: only the
  `counter` user may SCAN (components/config/acl.py, docs/security.md "Who can see session ids").

Every regular scrape also checks that the app's DB holds what the config says, from the
same `check-single-keys` readings (`redis_key_size` is 0 for a key that does not exist, 1.45
and 1.74): the sorted set present where the config says default repository or minute sets,
and present under Spring's DEFAULT_NAMESPACE (`spring:session`) when the app uses another (Spring's reference example
builds the store with DEFAULT_NAMESPACE: the store then writes where nobody counts). A store
that does not match records no count (it cannot be trusted) and SessionStoreMismatch fires;
a count that is missing records `spring_session:count_failed 1` and SessionCountFailed fires.
The previous script also sampled RANDOMKEY for keys outside the namespace, indexed keys in a
default store and live sessions without the sorted set: that needs key names, which the
exporter no longer reads (docs/decisions.md). "No sorted set while the DB holds keys" is no
substitute: an indexed store keeps each hash 5 min past its expiry, so a store whose sessions
all expired would read as miswired.

redis_exporter contract (checked on 1.45 and in the 1.74 source, exporter/keys.go and
exporter/http.go): `--check-single-keys db<N>=<key>,...` is read on every scrape (a /scrape
`check-single-keys` parameter overrides it for that request) and yields
`redis_key_size{db="db<N>",key="<key>"}`, and for a string whose value parses as a number
`redis_key_value{db="db<N>",key="<key>"}` (getKeyInfo / getKeyInfoPipelined, unless
`--disable-exporting-key-values`, which the exporter is never given).

The recording rule `spring_session:active_sessions{namespace, job, app}` gives every store
one name, counted on the master only (replicas hold copies, and a stale replica must not win).
"""
from __future__ import annotations

from collections.abc import Mapping

from ..config.names import SESSION_COUNT_KEY
from ..config.sessions import SessionStore
from .promql import Promql, matchers, promql

RECORD = "spring_session:active_sessions"
"""Recorded series every consumer (dashboard, alerts, checklist) reads, label `app`."""
COUNT_FAILED = "spring_session:count_failed"
"""1 when the master is up but an app's sessions could not be counted, else 0 (label `app`)."""
METHOD_LABEL = "method"
"""Label of RECORD saying how it was counted: `zcard` (every scrape; reads high by the
expired members Spring has not removed yet) or `scan` (exact as of the last SCAN; sessions
created or ended during it may or may not be in it)."""
STORE_MISMATCH = "spring_session:store_mismatch"
"""1 when an app's session DB does not hold the store its config declares, else 0 (label `app`)."""
KEY_SIZE_METRIC = "redis_key_size"
"""redis_exporter's check-single-keys metric (ZCARD of a sorted set; 0 when the key does not
exist), labels `db="db<N>"`, `key="<key>"`."""
CHECK_SINGLE_KEYS_FLAG = "--check-single-keys"
"""redis_exporter flag naming the keys it reads on every scrape (Go flag: `-check-single-keys`)."""
KEY_VALUE_METRIC = "redis_key_value"
"""redis_exporter's check-single-keys metric for a numeric string (the counter's count key)."""
COUNT_INTERVAL_SECONDS = 60
"""How often the session counter counts the SCAN-counted stores."""
COUNT_TTL_SECONDS = 3 * COUNT_INTERVAL_SECONDS
"""TTL of the count key: a counter that stopped leaves no count after 3 intervals (SessionCountFailed)."""
COUNT_TIMEOUT_SECONDS = 55
"""The longest SCAN the counter allows per store (docs/benchmarks.md: 5.6-12.3 s at 1M indexed sessions)."""
DB_KEYS_METRIC = "redis_db_keys"
"""Per-DB key count from INFO keyspace, label `db="db<N>"` (counts keys, not sessions)."""
INSTANCE_INFO_METRIC = "redis_instance_info"
"""Carries `role` ("master" / "slave") per scraped Redis."""
def counted_by_scan(stores) -> tuple[SessionStore, ...]:
    """The stores the session counter counts (method `scan`), by database."""
    return tuple(sorted((s for s in stores if s.method == "scan"), key=lambda s: s.database))


def check_single_keys(stores) -> str | None:
    """The `--check-single-keys` value (`db<N>=<key>,...`, each pair once, by database): every
    store's sorted-set keys, and the count key of each store counted by SCAN; None without a
    store. Namespaces hold no ',', '=', '%' or '+' (config rule), which the exporter would
    split on or URL-unescape."""
    pairs = {(s.database, k) for s in stores for k in s.checked_keys}
    pairs |= {(s.database, SESSION_COUNT_KEY) for s in counted_by_scan(stores)}
    return ",".join(f"db{db}={k}" for db, k in sorted(pairs)) or None  # reordering apps changes nothing


def selectors(job: str, namespace: str | None = None) -> dict[str, str]:
    """The values `recording_rules` reads: `store` (the exporter's series: `job`, and
    `namespace` when given)."""
    scope = {"namespace": namespace} if namespace is not None else {}
    return {"store": matchers(**scope, job=job)}


MASTER = promql('${info}{${store},role="master"}', info=INSTANCE_INFO_METRIC)
"""The store's node that is master now (value 1, labels namespace, job, instance, role)."""


def _on_master(expr: Promql) -> Promql:
    return promql("(${expr} and on(instance) ${master})", expr=expr, master=MASTER)


def _per_app(expr: Promql, app: str) -> Promql:
    return promql('label_replace(${expr}, "app", "${app}", "", "")', expr=expr, app=app)


def _key_size(store: SessionStore, key: str) -> Promql:
    return promql('${metric}{${store},db="${db}",key="${key}"}', metric=KEY_SIZE_METRIC, db=f"db{store.database}",
                  key=key)


def mismatch_flag_expr(store: SessionStore) -> Promql:
    """Per scraped node (`namespace, job, instance`): 1 when the store's DB does not match
    its config, else 0; absent when the exporter could not read the checked keys. Each
    condition is its own series (label `check`), so `or` keeps all of them and max takes
    the worst; the `0 * own` series makes a healthy store 0 rather than absent."""
    by = "max by (namespace, job, instance)"
    own = _key_size(store, store.zset_key)
    terms = [promql("${by} (0 * ${own})", by=by, own=own)]
    if store.layout != "sorted-set":  # the app registered the sorted-set store after all
        terms.append(promql("${by} (${own} > bool 0)", by=by, own=own))
    terms += [promql("${by} (${key} > bool 0)", by=by, key=_key_size(store, k))  # DEFAULT_NAMESPACE's store
              for k in store.checked_keys if k != store.zset_key]
    checks = [promql('label_replace(${term}, "check", "${i}", "", "")', term=term, i=i) for i, term in enumerate(terms)]
    return promql("${by} (${checks})", by=by, checks=Promql(" or ".join(c.template for c in checks)))


def session_count_expr(store: SessionStore) -> Promql:
    """PromQL for one store's live sessions on the master: `${store}` is the exporter's label
    matchers (`selectors`); the value is ZCARD of the sorted set (`zcard`) or the session
    counter's count key (`scan`, absent while the key is).

    `A and on(instance) B` keeps A's samples whose `instance` also has a B sample: here, only
    the series scraped from the node that is master now. No count is recorded while the
    store check says the DB does not match its config."""
    if store.method == "scan":
        on_master = _on_master(promql('${metric}{${store},db="${db}",key="${key}"}', metric=KEY_VALUE_METRIC,
                                      db=f"db{store.database}", key=SESSION_COUNT_KEY))
    else:
        on_master = _on_master(_key_size(store, store.zset_key))
    return promql("max by (namespace, job, app) (${count})"
                  " unless on(namespace, job) (max by (namespace, job) (${mismatch}) == 1)",
                  count=_per_app(on_master, store.app), mismatch=_on_master(mismatch_flag_expr(store)))


def store_mismatch_expr(store: SessionStore) -> Promql:
    """1 / 0 per app on the master: the store check (mismatch_flag_expr)."""
    return promql("max by (namespace, job, app) (${flag})",
                  flag=_per_app(_on_master(mismatch_flag_expr(store)), store.app))


def count_failed_expr(store: SessionStore) -> Promql:
    """1 when the master is up but no count was recorded (the count key missing: the counter
    stopped, its SCAN or SET refused or timed out for 3 intervals; the sorted set or the count
    key unreadable), unless the store mismatch explains it;
    else 0. Reads the rules above it in the same group."""
    app = lambda record: promql('${record}{${store},app="${app}"}', record=record, app=store.app)
    master_up = _per_app(promql("max by (namespace, job) (${master})", master=MASTER), store.app)
    failing = promql("((${master_up} unless on(namespace, job, app) ${count})"
                     " unless on(namespace, job, app) (${mismatch} == 1))",
                     master_up=master_up, count=app(RECORD), mismatch=app(STORE_MISMATCH))
    return promql("(0 * ${failing} + 1) or on(namespace, job, app) (0 * max by (namespace, job, app) (${count}))"
                  " or on(namespace, job, app) (0 * ${mismatch})",
                  failing=failing, count=app(RECORD), mismatch=app(STORE_MISMATCH))


def recording_rules(stores, values: Mapping[str, object]) -> list[dict]:
    """Per store: `spring_session:store_mismatch`, `spring_session:active_sessions` and
    `spring_session:count_failed` (in this order: the later read the earlier), rendered with
    `values` (`store`: `selectors`, or `Scope.values`). The count carries
    `method` (METHOD_LABEL)."""
    rules = []
    for s in stores:
        labels = {"app": s.app}
        rules += [{"record": STORE_MISMATCH, "expr": store_mismatch_expr(s).render(values), "labels": labels},
                  {"record": RECORD, "expr": session_count_expr(s).render(values),
                   "labels": {**labels, METHOD_LABEL: s.method}},
                  {"record": COUNT_FAILED, "expr": count_failed_expr(s).render(values), "labels": labels}]
    return rules
