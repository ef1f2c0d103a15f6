"""ACL rules per user (components/config/acl.py): exact text, the version rule, and the ACL Secret the
component builds from the passwords (hashes only, one per accepted generation)."""
import hashlib
import re

import pytest

from components.config import acl, names
from components.config.config import ConfigError
from components.config.sessions import SessionStore, stores_in_order
from components.redis import RedisSessionStore, RedisSessionStoreArgs
from tests.harness import FAKE_PASSWORD, ROOT, load_settings, run_with_mocks, unwrap

DEFAULT_APP = SessionStore("petclinic", 1, "spring:session:petclinic", "default", 1800)
INDEXED_APP = SessionStore("shop", 2, "spring:session:shop", "indexed", 1800)
V82 = (8, 2)


def test_default_repository_user_is_confined_to_its_session_hashes():
    assert acl.app_permissions(DEFAULT_APP, V82) == (
        "resetkeys ~spring:session:petclinic:sessions:* resetchannels "
        "-@all +ping +client|setname +info +client|setinfo +select|1 "
        "+hgetall +hmset +exists +rename +del +pexpireat +expireat")


def test_indexed_repository_user_gets_its_namespace_and_channels_of_its_database():
    assert acl.app_permissions(INDEXED_APP, V82) == (
        "resetkeys ~spring:session:shop:* resetchannels &spring:session:shop:event:2:created:* "
        "&__keyevent@2__:del &__keyevent@2__:expired "
        "-@all +ping +client|setname +info +client|setinfo +select|2 "
        "+hgetall +hmset +exists +rename +del +pexpire +expire +append +persist +sadd +srem +smembers "
        "+zadd +zrem +zrevrangebyscore +publish +subscribe +psubscribe +unsubscribe +punsubscribe")


SORTED_SET_APP = SessionStore("cart", 3, "spring:session:cart", "indexed", 1800, "sorted-set")


def test_exporter_reads_only_the_sorted_sets_and_the_count_key_and_writes_nothing():
    rules = acl.exporter_permissions([DEFAULT_APP, INDEXED_APP], V82)
    commands = set(re.findall(r"(?<![(\w])\+([\w|]+)", rules.split("(")[0]))
    writes = {"set", "del", "hmset", "hset", "sadd", "srem", "zadd", "zrem", "rename", "append", "pexpire", "expire",
              "flushdb", "flushall", "config|set", "config|get", "acl|load"} & commands
    assert not writes and {"select", "info"} <= commands
    assert not {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "randomkey", "keys", "time",
                "scan"} & commands
    assert "~" not in rules.split("(")[0]  # no key outside the selectors
    selectors = re.findall(r"\(([^)]*)\)", rules)
    zsets = {f"%R~{a.namespace}:sessions:expirations" for a in (DEFAULT_APP, INDEXED_APP)} | {
        "%R~spring:session:sessions:expirations"}
    assert {s.split()[0] for s in selectors} == zsets | {f"%R~{names.SESSION_COUNT_KEY}", f"~{names.SESSION_COUNT_KEY}"}
    assert all(s.split()[1:] == ["+type", "+zcard", "+memory|usage"] for s in selectors if s.split()[0] in zsets)
    # the count key: what check-single-keys sends for a string (1.45 getKeyInfo, 1.74 getKeyInfoPipelined);
    # PFCOUNT's key spec is RW, so it alone has a selector with write access, to that one key
    assert f"(%R~{names.SESSION_COUNT_KEY} +type +get +strlen +memory|usage)" in rules
    assert f"(~{names.SESSION_COUNT_KEY} +pfcount)" in rules
    assert acl.exporter_permissions([], V82) == (
        "resetkeys resetchannels -@all +ping +client|setname +info +latency|latest +latency|histogram "
        "+slowlog|len +slowlog|get +client|setinfo")


EVERY_STORE_KIND = [
    ("dev", {}), ("prod", {}), ("dev", {"redisTopology": "sentinel"}),
    ("prod", {"wasApps": [{"name": "petclinic", "image": "r/p:1", "sessionDatabase": 1},
                          {"name": "shop", "image": "r/s:1", "repositoryType": "indexed", "sessionDatabase": 2},
                          {"name": "cart", "image": "r/c:1", "repositoryType": "indexed",
                           "sessionExpirationStore": "sorted-set", "sessionDatabase": 3}]}),
]
"""Both topologies, and a default, a minute-set and a sorted-set store side by side."""


@pytest.mark.parametrize("stack,overrides", EVERY_STORE_KIND)
def test_no_user_but_counter_and_operator_may_scan_and_counter_writes_only_its_key(stack, overrides):
    """SCAN returns key names (session ids) and has no key argument for ACL patterns to limit:
    of the users the component writes, only `counter` (the sidecar that accepts no request)
    and `operator` (humans in a Redis pod) may SCAN; nobody at all on the Sentinels. The
    counter writes nothing but the count key (OW: SET without GET) and reads no value."""
    s = load_settings(stack, overrides)
    files = acl.acl_files("d" * 64, {a.name: ["a" * 64] for a in s.was_apps}, ["e" * 64], stores_in_order(s.was_apps),
                          s.redis.redis_version, s.redis.sentinel_version, operator_hashes=["f" * 64],
                          counter_hashes=["c" * 64])
    for name, text in files.items():
        scanners = {line.split()[1] for line in text.splitlines() if may_run(line, "scan", "keyspace")}
        assert scanners == ({"counter", "operator"} if name == "redis.acl" else set()), name
    line = next(x for x in files["redis.acl"].splitlines() if x.startswith("user counter "))
    assert line == (f"user counter on #{'c' * 64} resetkeys resetchannels -@all +select +scan "
                    f"(%W~{names.SESSION_COUNT_KEY} +set)")
    for command in ("get", "hgetall", "type", "del", "hset", "eval", "keys", "randomkey", "zrange", "config|get"):
        assert not may_run(line, command, "other"), command


def test_counter_may_do_nothing_without_a_store_counted_by_scan():
    assert acl.counter_permissions([SORTED_SET_APP]) == "resetkeys resetchannels -@all"
    assert "+pfcount" not in acl.exporter_permissions([SORTED_SET_APP], V82)
    for app in (DEFAULT_APP, INDEXED_APP):
        assert "+scan" in acl.counter_permissions([SORTED_SET_APP, app])
        assert "+scan" not in acl.exporter_permissions([SORTED_SET_APP, app], V82)


def test_no_app_may_write_the_count_key():
    """The count key is outside every namespace an app's user is confined to: a namespace starts
    with a letter or digit (components/config/app.py), the key with `_`."""
    from components.config.app import _session_namespace
    assert names.SESSION_COUNT_KEY.startswith("_")
    with pytest.raises(ValueError):
        _session_namespace(names.SESSION_COUNT_KEY.split(":")[0])
    for app in (DEFAULT_APP, INDEXED_APP, SORTED_SET_APP):
        keys = re.findall(r"~(\S+)", acl.app_permissions(app, V82))
        assert keys and not any(re.fullmatch(k.replace("*", ".*"), names.SESSION_COUNT_KEY) for k in keys)


SCRIPTING = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "function|load", "script|load")


def may_run(rules: str, command: str, category: str = "scripting") -> bool:
    """Whether ACL rules (root and every selector) let a user run `command` of `category`,
    read the way Redis applies them: left to right, the last matching rule wins; `-@all`,
    `+@all`/`allcommands`, `nocommands`, categories and (sub)commands."""
    def allowed(tokens: list[str]) -> bool:
        ok = False
        for t in tokens:
            if t in ("+@all", "allcommands", f"+@{category}", f"+{command}", f"+{command.split('|')[0]}"):
                ok = True
            elif t in ("-@all", "nocommands", f"-@{category}", f"-{command}", f"-{command.split('|')[0]}"):
                ok = False
        return ok
    selectors = re.findall(r"\(([^)]*)\)", rules)
    root = re.sub(r"\([^)]*\)", " ", rules).split()
    return allowed(root) or any(allowed(s.split()) for s in selectors)


def test_may_run_reads_rules_as_redis_does():
    assert may_run("~* +@all", "eval") and may_run("-@all +eval", "eval") and may_run("-@all (+@scripting)", "fcall")
    assert not may_run("+@all -@scripting", "eval") and not may_run("-@all +get", "eval")
    assert not may_run("+eval -@all +get", "eval")


@pytest.mark.parametrize("stack,overrides", EVERY_STORE_KIND)
def test_no_user_on_any_process_may_run_lua(stack, overrides):
    """Issue 20: no EVAL/EVALSHA/FCALL/@scripting for anyone (CVE-2025-49844, -46817, -46818,
    -46819 need only a script), on every process: every user the component writes into the
    ACL Secret, on the Redis nodes and on the Sentinels, whatever users there are."""
    s = load_settings(stack, overrides)
    run = run_with_mocks(lambda: RedisSessionStore("redis", RedisSessionStoreArgs(
        settings=s.redis, namespace="ns", apps=s.was_apps)))
    assert run.error is None, run.error
    files = unwrap(run.one("kubernetes:core/v1:Secret", "redis-acl").inputs["stringData"])
    assert set(files) >= {"redis.acl", "sentinel.acl"}
    users = 0
    for name, text in files.items():
        for line in text.splitlines():
            if not line.startswith("user "):
                continue
            users += 1
            rules = " ".join(t for t in line.split()[2:] if not t.startswith(("#", ">")))
            assert not [c for c in SCRIPTING if may_run(rules, c)], (name, line.split()[1], rules)
    assert users >= 2 * (2 + len(s.was_apps))


NO_LUA = {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "function", "script", "@scripting"}


def granted(rules: str) -> set[str]:
    return set(re.findall(r"(?<![\w])\+([@\w|-]+)", rules))


def test_default_user_reaches_no_key_and_only_what_replication_sentinel_and_the_chart_send():
    rules = acl.default_permissions()
    assert rules == ("resetkeys resetchannels &__sentinel__:hello -@all +ping +replconf +psync +info +role "
                     "+client|setname +client|kill +client|pause +config|rewrite +slaveof +multi +exec "
                     "+publish +subscribe +acl|load")
    # not even the commands Sentinel could send but never needs here (docs/security.md)
    assert not {"sync", "replicaof", "script|kill"} & granted(rules)


def test_sentinels_default_user_is_not_all_commands():
    """Issue 20: it was `~* &* +@all` (SENTINEL SET, CONFIG SET, ACL SETUSER for the chart password)."""
    rules = acl.sentinel_default_permissions()
    assert rules == ("resetkeys resetchannels &__sentinel__:hello -@all +ping +client|setname +publish "
                     "+sentinel|is-master-down-by-addr +sentinel|get-master-addr-by-name +sentinel|failover +acl|load")
    files = acl.acl_files("d" * 64, {}, ["e" * 64], [], V82, V82)
    assert files["sentinel.acl"].splitlines()[0] == f"user default on #{'d' * 64} {rules}"


@pytest.mark.parametrize("version", [(7, 0), (7, 2), (8, 2)])
def test_no_user_the_program_writes_may_run_lua_on_any_version(version):
    files = acl.acl_files("d" * 64, {"petclinic": ["a" * 64], "shop": ["c" * 64]}, ["e" * 64],
                          [DEFAULT_APP, INDEXED_APP], version, version)
    for name, text in files.items():
        for line in text.splitlines():
            user = line.split()[1]
            assert not {c.split("|")[0] for c in granted(line)} & NO_LUA, (name, user)
            assert "+@all" not in line and "allcommands" not in line, (name, user)


def test_client_setinfo_only_where_redis_knows_it():
    """An unknown command makes Redis reject the whole ACL file: CLIENT SETINFO exists from 7.2."""
    assert "client|setinfo" not in acl.app_permissions(DEFAULT_APP, (7, 0))
    assert "client|setinfo" in acl.sentinel_app_permissions((7, 2))


def test_each_file_follows_its_own_process_version():
    """Issue 20: sentinelImageTag=7.0.x rendered +client|setinfo, which redis-sentinel 7.0 refuses."""
    files = acl.acl_files("d" * 64, {"petclinic": ["a" * 64]}, ["e" * 64], [DEFAULT_APP], V82, (7, 0))
    assert "client|setinfo" in files["redis.acl"] and "client|setinfo" not in files["sentinel.acl"]
    files = acl.acl_files("d" * 64, {"petclinic": ["a" * 64]}, ["e" * 64], [DEFAULT_APP], (7, 0), V82)
    assert "client|setinfo" not in files["redis.acl"] and "client|setinfo" in files["sentinel.acl"]


@pytest.mark.parametrize("tag,version", [("8.2.1-debian-12-r0", (8, 2)), ("7.0.15-debian-12-r0", (7, 0)),
                                         ("7.2-alpine", (7, 2)), ("8.0", (8, 0))])
def test_image_version_of_a_tag(tag, version):
    assert acl.image_version(tag) == version


@pytest.mark.parametrize("key", ["redisImageTag", "sentinelImageTag"])
@pytest.mark.parametrize("tag", ["6.2.14-debian-12-r0", "9.0.0", "alpine", "latest-x", "7.2x"])
def test_a_version_the_acl_rules_cannot_serve_is_refused_in_one_line(key, tag):
    with pytest.raises(ConfigError) as err:
        load_settings("prod", {key: tag})
    text = str(err.value)
    assert text.startswith(f'stack config {key}="{tag}" is invalid: ') and "7.0 or later up to 8.x" in text
    assert "\n" not in text


def test_the_parsed_versions_reach_the_settings():
    s = load_settings("prod", {"redisImageTag": "8.2.1-debian-12-r0", "sentinelImageTag": "7.0.15-debian-12-r0"})
    assert (s.redis.redis_version, s.redis.sentinel_version) == ((8, 2), (7, 0))


def test_acl_files_hold_every_user_once_with_its_hashes():
    files = acl.acl_files("d" * 64, {"petclinic": ["a" * 64, "b" * 64], "shop": ["c" * 64]}, ["e" * 64],
                          [DEFAULT_APP, INDEXED_APP], V82, V82, operator_hashes=["f" * 64], counter_hashes=["c" * 64])
    for name, extra in (("redis.acl", ["counter"]), ("sentinel.acl", [])):
        users = [line.split()[1] for line in files[name].splitlines()]
        assert users == ["default", "was-petclinic", "was-shop", "exporter", "operator", *extra]
    assert f"user operator on #{'f' * 64} " in files["sentinel.acl"]
    assert f"user was-petclinic on #{'a' * 64} #{'b' * 64} " in files["redis.acl"]
    assert "sentinel|get-master-addr-by-name" in files["sentinel.acl"].splitlines()[1]
    assert "nopass" not in files["redis.acl"] + files["sentinel.acl"]


@pytest.mark.parametrize("also_accept,generations", [("none", [1]), ("next", [1, 2])])
def test_the_component_hashes_every_accepted_generation(also_accept, generations):
    s = load_settings("dev", {"redisPasswordAlsoAccept": also_accept})
    run = run_with_mocks(lambda: RedisSessionStore("redis", RedisSessionStoreArgs(
        settings=s.redis, namespace="ns", apps=s.was_apps)))
    assert run.error is None, run.error
    names_ = sorted(r.name for r in run.of_type("random:index/randomPassword:RandomPassword"))
    # the `default` password follows the same phase (redisDefaultPasswordGeneration)
    defaults = ["redis-password"] + [f"redis-password-g{g}" for g in generations if g > 1]
    assert names_ == sorted(defaults + [f"redis-{u}-g{g}" for u in ("was-petclinic", "exporter", "operator", "counter")
                                        for g in generations])
    files = unwrap(run.one("kubernetes:core/v1:Secret", "redis-acl").inputs["stringData"])
    h = hashlib.sha256(FAKE_PASSWORD.encode()).hexdigest()
    line = next(x for x in files["redis.acl"].splitlines() if x.startswith("user was-petclinic "))
    assert line.split()[3:3 + len(generations)] == [f"#{h}"] * len(generations)
    assert FAKE_PASSWORD not in files["redis.acl"] + files["sentinel.acl"]
    auth = unwrap(run.one("kubernetes:core/v1:Secret", "redis-petclinic-auth").inputs["stringData"])
    assert auth == {"password": FAKE_PASSWORD}
    operator = run.one("kubernetes:core/v1:Secret", "redis-operator-auth")
    assert unwrap(operator.inputs["stringData"]) == {"password": FAKE_PASSWORD}
    assert unwrap(operator.inputs["metadata"])["name"] == "redis-operator-auth"
    for user in ("operator", "counter"):
        line = next(x for x in files["redis.acl"].splitlines() if x.startswith(f"user {user} "))
        assert line.split()[3:3 + len(generations)] == [f"#{h}"] * len(generations)


def test_the_operator_reads_key_metadata_deletes_only_the_sorted_sets_and_mounts_its_password():
    rules = acl.operator_permissions([DEFAULT_APP, INDEXED_APP])
    root, selector = rules.split(" (")
    commands = set(re.findall(r"\+([\w|]+)", root))
    assert root.startswith("resetkeys %R~* resetchannels -@all ")
    values = {"get", "hget", "hgetall", "hmget", "zrange", "smembers", "dump", "getrange", "keys", "slowlog|get",
              "config|get", "monitor", "sync", "psync", "eval", "evalsha", "fcall", "flushdb", "flushall",
              "acl|setuser"}
    assert not values & commands and "@" not in root.replace("-@all", "")
    assert selector == ("~spring:session:petclinic:sessions:expirations ~spring:session:shop:sessions:expirations "
                        "~spring:session:sessions:expirations +del)")
    assert acl.operator_permissions([]) == root  # no store, nothing to delete
    assert "sentinel|failover" in acl.sentinel_operator_permissions() and "~" not in acl.sentinel_operator_permissions()
    from components.redis import chart_values
    for topology in ("standalone", "sentinel"):
        node = chart_values("redis", load_settings("dev", {"redisTopology": topology}).redis)[
            "master" if topology == "standalone" else "replica"]
        volume = next(v for v in node["extraVolumes"] if v["name"] == "operator-auth")
        assert volume["secret"]["secretName"] == "redis-operator-auth"
        assert {"name": "operator-auth", "mountPath": "/opt/bitnami/redis/operator", "readOnly": True} in \
            node["extraVolumeMounts"]


@pytest.mark.parametrize("overrides,key", [
    ({"redisPasswordAlsoAccept": "previous"}, "redisPasswordAlsoAccept"),
    ({"redisTopology": "sentinel", "sentinelMinReplicasToWrite": 3}, "sentinelMinReplicasToWrite"),
    ({"wasApps": [{"name": "a", "image": "r/a:1", "managementPort": 8080}]}, "wasApps[0].managementPort"),
    ({"wasApps": [{"name": "a", "image": "r/a:1", "sessionDatabase": 1},
                  {"name": "b", "image": "r/b:1", "sessionNamespace": "spring:session:a:b", "sessionDatabase": 2}]},
     "wasApps[1].sessionNamespace"),
])
def test_config_refuses_unsafe_security_settings_in_one_line(overrides, key):
    with pytest.raises(ConfigError) as err:
        load_settings("dev", overrides)
    assert str(err.value).startswith(f"stack config {key}=") and "\n" not in str(err.value)


def test_min_replicas_reach_only_the_sentinel_topology():
    from components.redis import chart_values
    for topology, wanted in (("standalone", False), ("sentinel", True)):
        s = load_settings("dev", {"redisTopology": topology}).redis
        conf = chart_values("redis", s)["commonConfiguration"]
        assert ("min-replicas-to-write 1" in conf and "min-replicas-max-lag 10" in conf) == wanted
    s = load_settings("dev", {"redisTopology": "sentinel", "sentinelMinReplicasToWrite": 0}).redis
    assert "min-replicas" not in chart_values("redis", s)["commonConfiguration"]


def test_the_acl_files_in_docs_security_are_what_the_code_writes():
    """docs/security.md shows the ACL files for its example (petclinic default in db 1, shop
    indexed in db 2, Redis 8.2); a change of the rules must show there too."""
    text = (ROOT / "docs" / "security.md").read_text()
    blocks = re.findall(r"`(redis\.acl|sentinel\.acl)` \([^)]*\)\n```\n(.*?)```", text, re.S)
    files = acl.acl_files("<default>", {"petclinic": ["<password>"], "shop": ["<password>"]}, ["<password>"],
                          [DEFAULT_APP, INDEXED_APP], V82, V82, operator_hashes=["<password>"],
                          counter_hashes=["<password>"])
    shown = {name: body.replace("#<sha256(default)>", "#<default>").replace("#<sha256(password)>", "#<password>")
             for name, body in blocks}
    assert shown == files
    files70 = acl.acl_files("<default>", {"petclinic": ["<password>"], "shop": ["<password>"]}, ["<password>"],
                            [DEFAULT_APP, INDEXED_APP], (7, 0), (7, 0), operator_hashes=["<password>"],
                            counter_hashes=["<password>"])
    blocks70 = dict(re.findall(r"^(Redis|Sentinel) 7\.0\n```\n(.*?)```", text, re.S | re.M))
    shown70 = {f"{p.lower()}.acl": b.replace("#<sha256(default)>", "#<default>").replace("#<sha256(password)>",
                                                                                         "#<password>")
               for p, b in blocks70.items()}
    assert shown70 == files70
