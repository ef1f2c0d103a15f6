"""ACL rules per user (settings/acl.py): exact text, the version rule, and the ACL Secret the
component builds from the passwords (hashes only, one per accepted generation)."""
import hashlib
import re

import pytest

from components.redis import RedisSessionStore, RedisSessionStoreArgs
from settings import acl
from settings.config import ConfigError
from tests.harness import FAKE_PASSWORD, ROOT, load_settings, run_with_mocks, unwrap

DEFAULT_APP = acl.AppAcl("petclinic", "spring:session:petclinic", 1, "default")
INDEXED_APP = acl.AppAcl("shop", "spring:session:shop", 2, "indexed")
V82 = (8, 2)


def test_default_repository_user_is_confined_to_its_session_hashes():
    assert acl.app_rules(DEFAULT_APP, V82) == (
        "resetkeys ~spring:session:petclinic:sessions:* resetchannels "
        "-@all +ping +client|setname +info +client|setinfo +select|1 "
        "+hgetall +hmset +exists +rename +del +pexpireat +expireat")


def test_indexed_repository_user_gets_its_namespace_and_channels_of_its_database():
    assert acl.app_rules(INDEXED_APP, V82) == (
        "resetkeys ~spring:session:shop:* resetchannels &spring:session:shop:event:2:created:* "
        "&__keyevent@2__:del &__keyevent@2__:expired "
        "-@all +ping +client|setname +info +client|setinfo +select|2 "
        "+hgetall +hmset +exists +rename +del +pexpire +expire +append +persist +sadd +srem +smembers "
        "+zadd +zrem +zrevrangebyscore +publish +subscribe +psubscribe +unsubscribe +punsubscribe")


def test_exporter_reads_only_the_sorted_sets_and_writes_nothing():
    rules = acl.exporter_rules([DEFAULT_APP, INDEXED_APP], V82)
    commands = set(re.findall(r"(?<![(\w])\+([\w|]+)", rules.split("(")[0]))
    writes = {"set", "del", "hmset", "hset", "sadd", "srem", "zadd", "zrem", "rename", "append", "pexpire", "expire",
              "flushdb", "flushall", "config|set", "config|get", "slowlog|get", "acl|load", "eval_ro"} & commands
    assert not writes and {"eval", "scan", "randomkey", "select", "info"} <= commands
    assert "~" not in rules.split("(")[0]  # no key outside the selectors
    selectors = re.findall(r"\(([^)]*)\)", rules)
    assert {s.split()[0] for s in selectors} == {f"%R~{a.namespace}:sessions:expirations"
                                                  for a in (DEFAULT_APP, INDEXED_APP)} | {
        "%R~spring:session:sessions:expirations"}
    assert all(s.split()[1:] == ["+exists", "+zcount"] for s in selectors)
    assert "eval" not in acl.exporter_rules([], V82)  # no store, no script


def test_default_user_reaches_no_key_and_only_sentinels_channel():
    rules = acl.default_rules()
    assert rules.startswith("resetkeys resetchannels &__sentinel__:hello -@all ")
    assert "~" not in rules and "@all" not in rules.replace("-@all", "")
    for command in ("psync", "replconf", "slaveof", "config|rewrite", "client|kill", "client|pause", "acl|load"):
        assert f"+{command}" in rules


def test_client_setinfo_only_where_redis_knows_it():
    """An unknown command makes Redis reject the whole ACL file: CLIENT SETINFO exists from 7.2."""
    assert "client|setinfo" not in acl.app_rules(DEFAULT_APP, (7, 0))
    assert "client|setinfo" in acl.sentinel_app_rules((7, 2))
    assert acl.redis_version("8.2.1-debian-12-r0") == (8, 2) and acl.redis_version("latest-x") == (99, 0)


def test_acl_files_hold_every_user_once_with_its_hashes():
    files = acl.acl_files("d" * 64, {"petclinic": ["a" * 64, "b" * 64], "shop": ["c" * 64]}, ["e" * 64],
                          [DEFAULT_APP, INDEXED_APP], V82)
    for name in ("redis.acl", "sentinel.acl"):
        users = [line.split()[1] for line in files[name].splitlines()]
        assert users == ["default", "was-petclinic", "was-shop", "exporter"]
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
    assert names_ == sorted(["redis-password"] + [f"redis-{u}-g{g}" for u in ("was-petclinic", "exporter")
                                                  for g in generations])
    files = unwrap(run.one("kubernetes:core/v1:Secret", "redis-acl").inputs["stringData"])
    h = hashlib.sha256(FAKE_PASSWORD.encode()).hexdigest()
    line = next(x for x in files["redis.acl"].splitlines() if x.startswith("user was-petclinic "))
    assert line.split()[3:3 + len(generations)] == [f"#{h}"] * len(generations)
    assert FAKE_PASSWORD not in files["redis.acl"] + files["sentinel.acl"]
    auth = unwrap(run.one("kubernetes:core/v1:Secret", "redis-petclinic-auth").inputs["stringData"])
    assert auth == {"password": FAKE_PASSWORD}


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
                          [DEFAULT_APP, INDEXED_APP], V82)
    shown = {name: body.replace("#<sha256(default)>", "#<default>").replace("#<sha256(password)>", "#<password>")
             for name, body in blocks}
    assert shown == files
