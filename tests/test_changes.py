"""A change on a running stack that `pulumi up` cannot make in one step without loss is
refused, before any Secret or the Redis release is registered, unless acknowledgeChange
names it for that up (components/config/changes.py). The program reads its previous exports through
a StackReference to its own stack; the mock runtime hands that reference the `deployed`
output of a baseline run of the same program."""
from __future__ import annotations

import copy
import functools
import json

import pytest

from components.config import changes
from tests.harness import run_program
from tools.stackfile import load_settings

SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
REFERENCE = "pulumi:pulumi:StackReference"


def deployed(stack: str, overrides: dict | None = None) -> dict:
    """What a previous `up` of `stack` with `overrides` exported (one mock run per baseline)."""
    return copy.deepcopy(_deployed(stack, json.dumps(overrides or {}, sort_keys=True)))


@functools.cache
def _deployed(stack: str, overrides: str) -> dict:
    run = run_program(stack, json.loads(overrides))
    assert run.error is None, run.error
    return {changes.EXPORT: dict(run.outputs[changes.EXPORT])}


def store_objects(run) -> list:
    return run.of_type(SECRET) + run.of_type(RELEASE)


@pytest.mark.parametrize("stack,before,after,key", [
    ("dev", {}, {"redisTopology": "sentinel"}, "redisTopology"),
    ("prod", {}, {"redisTopology": "standalone"}, "redisTopology"),
    ("dev", {}, {"redisReleaseName": "sessions"}, "redisReleaseName"),
    ("dev", {}, {"redisPersistenceSize": "2Gi"}, "redisPersistenceSize"),
    ("dev", {}, {"redisStorageClass": "fast"}, "redisStorageClass"),
    ("dev", {}, {"redisTls": True}, "redisTls"),
    ("prod", {}, {"redisTls": False}, "redisTls"),
    ("dev", {}, {"redisPasswordGeneration": 2}, "redisPasswordGeneration"),
    ("dev", {}, {"redisDefaultPasswordGeneration": 2}, "redisDefaultPasswordGeneration"),
    ("prod", {}, {"sentinelMasterSet": "sessions"}, "sentinelMasterSet"),
    ("dev", {"redisPasswordAlsoAccept": "next"}, {"redisPasswordGeneration": 3, "redisPasswordAlsoAccept": "previous"},
     "redisPasswordGeneration"),
])
def test_a_one_shot_change_is_refused_naming_the_key_and_touches_nothing(stack, before, after, key):
    previous = deployed(stack, before)
    run = run_program(stack, {**before, **after}, previous=previous)
    assert isinstance(run.error, changes.ChangeRefused), run.error
    message = str(run.error)
    assert "\n" not in message
    assert message.startswith(f"stack config {key} changes ")
    assert f"acknowledgeChange={key}" in message and changes.RUNBOOK in message
    assert store_objects(run) == [], "a refused change registered Redis objects"
    assert len(run.of_type(REFERENCE)) == 1


@pytest.mark.parametrize("stack,after,key", [
    ("dev", {"redisTopology": "sentinel"}, "redisTopology"),
    ("dev", {"redisPersistenceSize": "2Gi"}, "redisPersistenceSize"),
    ("prod", {"redisTls": False}, "redisTls"),
])
def test_the_acknowledged_change_goes_ahead(stack, after, key):
    run = run_program(stack, {**after, "acknowledgeChange": key}, previous=deployed(stack))
    assert run.error is None, run.error
    assert run.of_type(RELEASE)


@pytest.mark.parametrize("stack,after,cost,procedure", [
    ("prod", {"redisTls": False}, "the first becomes a master of its own: the sessions written during the Redis "
                                  "rollout are lost", "stop the apps' writes first"),
    ("dev", {"redisTls": True}, "no session store until every WAS pod rolled",
     "(Switch TLS on or off: set redisTlsTransition=true in the same up instead)"),
])
def test_the_tls_switch_says_what_it_costs_in_the_stacks_topology(stack, after, cost, procedure):
    [change] = changes.refused_changes(deployed(stack)[changes.EXPORT], load_settings(stack, after))
    assert change.key == "redisTls" and cost in change.message() and procedure in change.message()


@pytest.mark.parametrize("tls", [True, False])
def test_a_standalone_tls_switch_in_two_ups_needs_no_acknowledgement(tls):
    # The two-phase switch (docs/runbooks.md, "Switch TLS on or off"): the protocol moves together with
    # redisTlsTransition=true, then the transition ends; neither up is refused, from either side.
    before = deployed("dev", {"redisTls": not tls})
    both = {"redisTls": tls, "redisTlsTransition": True}
    assert changes.refused_changes(before[changes.EXPORT], load_settings("dev", {"redisTls": not tls})) == []
    assert changes.refused_changes(before[changes.EXPORT], load_settings("dev", both)) == []
    run = run_program("dev", both, previous=before)
    assert run.error is None, run.error
    after = deployed("dev", both)
    assert changes.refused_changes(after[changes.EXPORT], load_settings("dev", {"redisTls": tls})) == []
    # ... but ending the transition and switching back in one up is the one-shot again
    [change] = changes.refused_changes(after[changes.EXPORT], load_settings("dev", {"redisTls": not tls}))
    assert change.key == "redisTls"


def test_a_master_set_rename_on_a_running_sentinel_set_says_an_acknowledgement_is_only_the_way_back():
    # No procedure makes the renamed release's rollout succeed (tests/live/test_master_set_rename_live.py)
    message = changes.refused_changes(deployed("prod")[changes.EXPORT],
                                      load_settings("prod", {"sentinelMasterSet": "sessions"}))[0].message()
    assert message.startswith("stack config sentinelMasterSet changes 'mymaster' -> 'sessions' on a running stack: ")
    assert "acknowledge it only to go back to the name the running Sentinels know (after a failed up)" in message
    assert "(Rename the Sentinel master set: keep the name, or move to a new release)" in message
    # the way back, after a failed up recorded the new name: refused, then acknowledged
    failed = deployed("prod", {"sentinelMasterSet": "sessions"})
    assert isinstance(run_program("prod", previous=failed).error, changes.ChangeRefused)
    assert run_program("prod", {"acknowledgeChange": "sentinelMasterSet"}, previous=failed).error is None


@pytest.mark.parametrize("stack,before,after", [
    ("dev", {}, {"sentinelMasterSet": "sessions"}),  # standalone: no Sentinel runs
    ("dev", {}, {"redisTopology": "sentinel", "sentinelMasterSet": "sessions", "acknowledgeChange": "redisTopology"}),
    ("prod", {}, {"redisReleaseName": "sessions", "sentinelMasterSet": "sessions",
                  "acknowledgeChange": "redisReleaseName"}),  # a new release, new Sentinels
])
def test_a_master_set_name_is_free_where_no_running_sentinel_knows_the_old_one(stack, before, after):
    run = run_program(stack, {**before, **after}, previous=deployed(stack, before))
    assert run.error is None, run.error


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_default_password_one_shot_says_what_it_costs_in_the_stacks_topology(stack):
    # tests/live/test_default_rotation_live.py (standalone), ..._sentinel_live.py (sentinel)
    [change] = changes.refused_changes(deployed(stack)[changes.EXPORT],
                                       load_settings(stack, {"redisDefaultPasswordGeneration": 2}))
    assert "the acl-reload sidecar and liveness fail" in change.message()
    assert ("reads the Sentinels' NOAUTH reply as the master's address and crash-loops" in change.message()) \
        is (stack == "prod")
    assert ("acknowledge it only to go back to the generation the running Sentinels know" in change.message()) \
        is (stack == "prod")


def test_an_acknowledgement_holds_for_one_up_only():
    previous = deployed("dev")
    run = run_program("dev", {"acknowledgeChange": "redisTopology"}, previous=previous)
    assert isinstance(run.error, changes.ChangeRefused)
    assert "pulumi config rm acknowledgeChange" in str(run.error)


def test_an_unknown_key_cannot_be_acknowledged():
    run = run_program("dev", {"acknowledgeChange": "namespace"})
    assert run.error is not None and "acknowledgeChange" in str(run.error)
    assert "redisTopology" in str(run.error)


@pytest.mark.parametrize("before,after", [
    ({}, {}),
    ({}, {"sentinelNodes": 5, "sentinelQuorum": 3}),  # sentinel settings: unused by standalone
    ({}, {"redisMaxmemory": "100mb"}),
    ({}, {"redisPasswordAlsoAccept": "next"}),
    ({"redisPasswordAlsoAccept": "next"}, {"redisPasswordGeneration": 2, "redisPasswordAlsoAccept": "previous"}),
    ({"redisPasswordAlsoAccept": "next"},
     {"redisPasswordGeneration": 2, "redisDefaultPasswordGeneration": 2, "redisPasswordAlsoAccept": "previous"}),
])
def test_changes_up_can_make_safely_are_not_refused(before, after):
    run = run_program("dev", {**before, **after}, previous=deployed("dev", before))
    assert run.error is None, run.error


def test_a_first_deploy_or_a_stack_without_the_export_is_not_refused():
    assert run_program("dev", {"redisTopology": "sentinel"}, previous={}).error is None
    assert run_program("dev", {"redisTopology": "sentinel"}, previous={"redisMode": "standalone"}).error is None


def test_the_reference_names_this_very_stack():
    run = run_program("dev")
    [ref] = run.of_type(REFERENCE)
    assert ref.inputs["name"] == "organization/redis-session-platform/dev"


def _default_line(run) -> str:
    acl = run.one(SECRET, "redis-acl").plain["stringData"]["redis.acl"]
    return next(line for line in acl.splitlines() if line.startswith("user default "))


@pytest.mark.parametrize("phase,hashes,annotation", [
    ({}, 1, None),
    ({"redisPasswordAlsoAccept": "next"}, 2, None),  # the ACL learns generation 2; nothing rolls
    ({"redisDefaultPasswordGeneration": 2, "redisPasswordAlsoAccept": "previous"}, 2, "2"),  # Redis pods roll
    ({"redisDefaultPasswordGeneration": 2}, 1, "2"),
])
def test_the_default_password_rotation_accepts_both_while_the_redis_pods_roll(phase, hashes, annotation):
    from components.redis import DEFAULT_PASSWORD_ANNOTATION
    run = run_program("dev", phase)
    assert run.error is None, run.error
    assert _default_line(run).count(" #") == hashes
    values = run.one(RELEASE).plain["values"]
    assert values["master"].get("podAnnotations", {}).get(DEFAULT_PASSWORD_ANNOTATION) == annotation
    passwords = {r.name for r in run.of_type("random:index/randomPassword:RandomPassword")}
    generation = phase.get("redisDefaultPasswordGeneration", 1)
    assert ("redis-password" if generation == 1 else f"redis-password-g{generation}") in passwords


# ------------------------------------------------------------------ certificates
def _certificates(stack: str = "prod") -> dict:
    run = run_program(stack)
    assert run.error is None, run.error
    return dict(run.outputs[changes.CERTIFICATES_EXPORT])


def test_every_certificate_s_validity_is_exported_and_recorded_for_the_alert():
    from components.monitoring.certificates import RECORD, not_after_seconds
    certs = _certificates()
    assert set(certs) == {"ca", "redis", "petclinic", "redis-exporter"}
    run = run_program("prod")
    [rule] = run.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    [group] = [g for g in rule.plain["spec"]["groups"] if g["name"].endswith(".certificates")]
    recorded = {r["labels"]["certificate"]: r["expr"] for r in group["rules"] if r["record"] == RECORD}
    web = {"redis-exporter-web-ca", "redis-exporter-web-tls", "redis-exporter-scrape-tls"}  # every stack
    assert set(recorded) == set(certs) | web
    assert {c: recorded[c] for c in certs} == {c: f"vector({not_after_seconds(end)})" for c, end in certs.items()}
    assert _certificates("dev") == {}  # no Redis certificate without redisTls (the exporter's are recorded)


def test_the_ca_outlives_every_leaf_it_signs():
    from components.config.tls import CA_EARLY_RENEWAL_HOURS, CA_VALIDITY_HOURS, CERT_VALIDITY_HOURS
    run = run_program("prod")
    ca = next(r for r in run.of_type("tls:index/selfSignedCert:SelfSignedCert"))
    assert ca.plain["earlyRenewalHours"] == CA_EARLY_RENEWAL_HOURS
    # the last leaf issued before the CA's renewal window ends before the CA does
    assert CA_VALIDITY_HOURS - CA_EARLY_RENEWAL_HOURS + CERT_VALIDITY_HOURS < CA_VALIDITY_HOURS


def test_a_due_ca_renewal_is_refused_unless_acknowledged_and_leaf_renewals_are_announced():
    from datetime import timedelta

    from render.mockrun import MOCK_NOW
    from tools.stackfile import load_settings
    s = load_settings("prod")
    certs = _certificates()
    ca_end = MOCK_NOW + timedelta(hours=5 * 365 * 24)
    assert changes.renewals_due(certs, MOCK_NOW, s) == ([], False)
    leaves, ca = changes.renewals_due(certs, MOCK_NOW + timedelta(days=340), s)
    assert leaves == ["petclinic", "redis", "redis-exporter"] and not ca
    leaves, ca = changes.renewals_due(certs, ca_end - timedelta(days=390), s)
    assert ca
    with pytest.raises(changes.ChangeRefused, match="acknowledgeChange=redisTlsCa") as refused:
        changes.check(None, s, (), certs, ca_end - timedelta(days=390))
    # prod is sentinel: the message says what the renewal costs there and how to avoid it
    assert "the sessions written during the Redis rollout are lost" in str(refused.value)
    assert "stop the apps' writes as for a TLS switch" in str(refused.value)
    changes.check(None, s, ("redisTlsCa",), certs, ca_end - timedelta(days=390))
    changes.check(None, s, (), certs, MOCK_NOW + timedelta(days=340))  # leaves: announced, not refused


@pytest.mark.parametrize("client", ["petclinic-deployment", "redis-exporter-deployment"])
def test_a_renewed_client_certificate_rolls_its_pods(client):
    from components.redis import TLS_FINGERPRINT_ANNOTATION
    run = run_program("prod")
    [deployment] = [d for d in run.of_type("kubernetes:apps/v1:Deployment") if d.name == client]
    assert TLS_FINGERPRINT_ANNOTATION in deployment.plain["spec"]["template"]["metadata"]["annotations"]
    [plain] = [d for d in run_program("dev").of_type("kubernetes:apps/v1:Deployment") if d.name == client]
    assert TLS_FINGERPRINT_ANNOTATION not in plain.plain["spec"]["template"]["metadata"]["annotations"]


def test_every_up_during_a_tls_transition_says_how_to_end_it(monkeypatch):
    said: list[str] = []
    monkeypatch.setattr(changes.pulumi.log, "warn", lambda message, *a, **k: said.append(message))
    for transition in (False, True):
        changes.check(deployed("dev")[changes.EXPORT], load_settings("dev", {"redisTlsTransition": transition}), ())
    assert said == [changes.TRANSITION_REMINDER]
    assert "pulumi config set redisTlsTransition false && pulumi up" in said[0]
