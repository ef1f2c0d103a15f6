"""The impact classifier (render/impact.py) on real renders: for every row of issue 18's
table, a baseline render of a stack and a render of the changed stack, the class the PR
render diff leads with and the line that says what the user will see. Baselines are
rendered once per session."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from render import PULUMI_FILE, render_stack
from render.__main__ import main as render_main
from render.impact import CLASSES, ImpactError, Rendered, baseline, classify, read, redis_bytes
from render.mockrun import ROOT
from tests.tools import require_helm

TWO_APPS = [{"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0", "minReplicas": 3,
             "sessionDatabase": 1},
            {"name": "shop", "image": "registry.example.com/shop:2.1.0", "minReplicas": 2, "sessionDatabase": 2}]
BASELINES = {"dev": ("dev", {}), "prod": ("prod", {}), "prod-2apps": ("prod", {"wasApps": TWO_APPS}),
             "prod-5nodes": ("prod", {"sentinelNodes": 5, "sentinelQuorum": 3})}


@pytest.fixture(scope="session")
def baselines(tmp_path_factory) -> dict[str, Path]:
    require_helm()
    root = tmp_path_factory.mktemp("impact-baselines")
    for name, (stack, overrides) in BASELINES.items():
        render_stack(stack, root / name, overrides)
    return {name: root / name for name in BASELINES}


def changed(baselines, tmp_path, base: str, overrides: dict):
    stack = BASELINES[base][0]
    render_stack(stack, tmp_path / "head", {**BASELINES[base][1], **overrides})
    return classify(read(baselines[base]), read(tmp_path / "head"))


def lead(impacts):
    return impacts[0].klass, impacts[0].what


def test_classes_are_the_issues_words_in_order_of_cost():
    assert CLASSES == ("in-place", "restart", "failover", "upgrade-fails", "replace", "sessions-lost", "data-lost")


# --- createNamespace flip, namespace rename, destroy: protectData ----------------------
def test_create_namespace_flip_deletes_every_object_in_dev_and_is_refused_in_prod(baselines, tmp_path):
    dev = changed(baselines, tmp_path / "dev", "dev", {"createNamespace": False})
    assert lead(dev) == ("data-lost", "Pulumi deletes Namespace petclinic-dev: Kubernetes deletes every object in it, "
                                      "the Redis volumes (PVCs) included")
    prod = changed(baselines, tmp_path / "prod", "prod", {"createNamespace": False})
    assert [(i.klass, i.refused) for i in prod] == [("upgrade-fails", True)]
    assert prod[0].what.startswith("Pulumi refuses to delete protected Namespace petclinic (protect, protectData)")


def test_namespace_rename_is_data_lost_in_dev_and_refused_in_prod(baselines, tmp_path):
    dev = changed(baselines, tmp_path / "dev", "dev", {"namespace": "shop"})
    assert lead(dev)[0] == "data-lost" and "Namespace petclinic-dev" in lead(dev)[1]
    prod = changed(baselines, tmp_path / "prod", "prod", {"namespace": "shop"})
    refused = [i.what.split(" (")[0] for i in prod if i.refused]
    assert refused == ["Pulumi refuses to replace protected Release petclinic/redis -> shop/redis",
                       "Pulumi refuses to delete protected Namespace petclinic"]
    assert prod[0].klass == "upgrade-fails"
    # What would happen once lifted on purpose: the new release starts empty.
    assert any(i.klass == "sessions-lost" and "StatefulSet petclinic/redis-node is deleted" in i.what for i in prod)


@pytest.mark.parametrize("stack,expected", [("dev", "data-lost"), ("prod", "upgrade-fails")])
def test_destroy_is_refused_where_protected(baselines, stack, expected):
    options = yaml.safe_load((baselines[stack] / PULUMI_FILE).read_text())
    protected = stack == "prod"
    release = options["helm-redis/"]
    namespace = next(v for k, v in options.items() if k.startswith("namespace-"))
    for info in (release, namespace):
        assert (info["protect"], info["retainOnDelete"]) == (protected, protected)
    assert not any(v["protect"] for k, v in options.items() if v not in (release, namespace))
    impacts = classify(read(baselines[stack]), Rendered({}, {}, {}))  # pulumi destroy: nothing declared
    assert impacts[0].klass == expected
    if protected:
        assert {i.what.split(" (")[0] for i in impacts if i.refused} == {
            "Pulumi refuses to delete protected Release petclinic/redis",
            "Pulumi refuses to delete protected Namespace petclinic"}


# --- topology --------------------------------------------------------------------------
@pytest.mark.parametrize("base,topology,gone", [("dev", "sentinel", "redis-master"), ("prod", "standalone", "redis-node")])
def test_topology_swap_starts_an_empty_redis(baselines, tmp_path, base, topology, gone):
    impacts = changed(baselines, tmp_path, base, {"redisTopology": topology})
    assert impacts[0].klass == "sessions-lost"
    namespace = "petclinic-dev" if base == "dev" else "petclinic"
    sts = [i for i in impacts if i.path == f"helm-redis/statefulset-{gone}.yaml"]
    assert [(i.klass, i.what) for i in sts] == [("sessions-lost", f"StatefulSet {namespace}/{gone} is deleted: its PVCs "
                                                 "stay orphaned (Retain) but no Redis serves them; the apps see an empty "
                                                 "session store")]
    new = "redis-node" if gone == "redis-master" else "redis-master"
    assert any(i.klass == "in-place" and i.what.endswith(f"StatefulSet {namespace}/{new}: a new StatefulSet starts on "
                                                         "empty volumes") for i in impacts)


# --- WAS apps: order and insertion -----------------------------------------------------
def test_reordering_apps_changes_nothing(baselines, tmp_path):
    # Databases and key namespaces are the apps' own; the exporter's stores, the alerts and the
    # dashboard list apps by name (components/monitoring/scope.py, components/monitoring/session_count.py).
    assert changed(baselines, tmp_path, "prod-2apps", {"wasApps": TWO_APPS[::-1]}) == []


def test_an_app_inserted_in_front_leaves_the_others_sessions_where_they_are(baselines, tmp_path):
    cart = {"name": "cart", "image": "registry.example.com/cart:1.0.0", "minReplicas": 2, "sessionDatabase": 3}
    impacts = changed(baselines, tmp_path, "prod-2apps", {"wasApps": [cart, *TWO_APPS]})
    # the exporter reads the new app's sorted-set keys (--check-single-keys): its pod rolls
    assert lead(impacts) == ("restart", "Deployment petclinic/redis-exporter rolls its pods "
                                        "(spec.template.spec.containers)")
    assert not [i for i in impacts if i.path in ("deployment-petclinic.yaml", "deployment-shop.yaml")]
    assert {i.klass for i in impacts} == {"restart", "in-place"}
    assert ("in-place", "Pulumi creates Deployment petclinic/cart") in [(i.klass, i.what) for i in impacts]


def test_an_app_moved_to_another_database_is_sessions_lost(baselines, tmp_path):
    # What the positional default did to an app when another was inserted in front of it.
    moved = [{**TWO_APPS[0], "sessionDatabase": 3}, TWO_APPS[1]]
    impacts = changed(baselines, tmp_path, "prod-2apps", {"wasApps": moved})
    assert lead(impacts) == ("sessions-lost", "Deployment petclinic/petclinic reads its sessions from another place "
                                              "(database 1 -> 3): every user of it is logged out")


# --- volumes ---------------------------------------------------------------------------
@pytest.mark.parametrize("base,overrides,sts", [("prod", {"redisPersistenceSize": "8Gi"}, "redis-node"),
                                                ("dev", {"redisStorageClass": "fast-ssd"}, "redis-master")])
def test_volume_size_or_storage_class_fails_the_upgrade(baselines, tmp_path, base, overrides, sts):
    impacts = changed(baselines, tmp_path, base, overrides)
    namespace = "petclinic-dev" if base == "dev" else "petclinic"
    assert [(i.klass, i.what) for i in impacts] == [
        ("upgrade-fails", f"helm upgrade fails: StatefulSet {namespace}/{sts} field spec.volumeClaimTemplates is "
                          "immutable; the atomic release rolls back and every later `pulumi up` fails the same way")]


# --- release rename --------------------------------------------------------------------
def test_release_rename_is_refused_in_prod_and_an_empty_redis_in_dev(baselines, tmp_path):
    prod = changed(baselines, tmp_path / "prod", "prod", {"redisReleaseName": "sessions"})
    assert prod[0].refused and prod[0].what.startswith(
        "Pulumi refuses to replace protected Release petclinic/redis -> petclinic/sessions")
    dev = changed(baselines, tmp_path / "dev", "dev", {"redisReleaseName": "sessions"})
    assert dev[0].klass == "sessions-lost"
    # Secrets keep their Kubernetes names under new Pulumi names: AlreadyExists half-way.
    clash = [i for i in dev if "AlreadyExists" in i.what]
    assert [i.path for i in clash] == ["secret-petclinic-redis-auth.yaml"]
    assert clash[0].klass == "upgrade-fails"
    assert any(i.klass == "replace" and "Release petclinic-dev/redis -> petclinic-dev/sessions" in i.what for i in dev)


# --- TLS, passwords, certificates, Sentinel nodes --------------------------------------
def test_tls_switch_rolls_standalone_redis_before_its_clients(baselines, tmp_path):
    impacts = changed(baselines, tmp_path, "dev", {"redisTls": True})
    assert impacts[0].klass == "failover" and impacts[0].path == "helm-redis/statefulset-redis-master.yaml"
    assert "Redis switches TLS no -> yes before its clients roll: no pod of Deployment petclinic-dev/petclinic " \
           "reaches Redis from the first node's restart until it has rolled" in impacts[0].what
    assert {i.path for i in impacts if i.klass == "restart"} >= {"deployment-petclinic.yaml",
                                                                 "deployment-redis-exporter.yaml"}


@pytest.mark.parametrize("tls", [True, False])
def test_a_two_phase_tls_switch_restarts_standalone_redis_and_cuts_no_client_off(baselines, tmp_path, tls):
    # docs/runbooks.md "Switch TLS on or off": the protocol moves with redisTlsTransition=true (Redis then
    # serves both), the transition ends in a second up; the app's port keeps its protocol in both.
    def render(name: str, overrides: dict) -> Rendered:
        render_stack("dev", tmp_path / name, overrides)
        return read(tmp_path / name)

    start = render("start", {"redisTls": not tls})
    during = render("during", {"redisTls": tls, "redisTlsTransition": True})
    end = render("end", {"redisTls": tls})
    for first, second, app_rolls in ((start, during, True), (during, end, False)):
        impacts = classify(first, second)
        assert impacts[0].klass == "failover" and impacts[0].path == "helm-redis/statefulset-redis-master.yaml"
        assert "every Redis node restarts" in impacts[0].what and "reaches Redis" not in impacts[0].what
        assert ("deployment-petclinic.yaml" in {i.path for i in impacts if i.klass == "restart"}) == app_rolls
    # the same end reached in one up cuts the app off
    assert "reaches Redis from the first node's restart" in classify(start, end)[0].what


def test_tls_switch_splits_a_sentinel_set_and_loses_the_writes_of_the_rollout(baselines, tmp_path):
    impacts = changed(baselines, tmp_path, "prod", {"redisTls": False})
    assert impacts[0].klass == "sessions-lost" and impacts[0].path == "helm-redis/statefulset-redis-node.yaml"
    assert "the first restarted node reaches no old Sentinel and starts as a master of its own" in impacts[0].what
    assert {i.path for i in impacts if i.klass == "restart"} == {"deployment-petclinic.yaml",
                                                                 "deployment-redis-exporter.yaml"}


def test_a_master_set_rename_stalls_the_sentinel_rollout_and_moves_no_session(baselines, tmp_path):
    # tests/live/test_master_set_rename_live.py runs the rendered scripts against the old Sentinels
    impacts = changed(baselines, tmp_path, "prod", {"sentinelMasterSet": "sessions"})
    assert impacts[0].klass == "upgrade-fails" and impacts[0].path == "helm-redis/statefulset-redis-node.yaml"
    assert "asks the running Sentinels for master set sessions, they know only mymaster" in impacts[0].what
    assert "the atomic release rolls back" in impacts[0].what
    # the apps' new name is the same Redis: a roll, not a move
    assert {i.path: i.klass for i in impacts if i.path.startswith("deployment-")} == {
        "deployment-petclinic.yaml": "restart"}
    assert changed(baselines, tmp_path / "both", "prod", {"sentinelMasterSet": "sessions", "redisTls": False}
                   )[0].klass == "sessions-lost"  # no Sentinel answers the new protocol at all: the TLS split


@pytest.mark.parametrize("base,sts,lowered", [("dev", "redis-master", {"redisMaxmemory": "64mb",
                                                                    "expectedPeakSessions": 10000}),
                                              ("prod", "redis-node", {"redisMaxmemory": "512mb",
                                                                      "expectedPeakSessions": 50000})])
def test_a_lower_maxmemory_says_the_sessions_above_it_are_evicted(baselines, tmp_path, base, sts, lowered):
    # tests/live/test_maxmemory_lowered_live.py: evicted from the first command after the restart
    impacts = changed(baselines, tmp_path, base, lowered)
    assert (impacts[0].klass, impacts[0].path) == ("sessions-lost", f"helm-redis/statefulset-{sts}.yaml")
    new = lowered["redisMaxmemory"]
    assert f"-> {new}: once the master runs with it, a dataset above {new} loses sessions to eviction " \
           "(maxmemory-policy volatile-ttl)" in impacts[0].what
    assert '"Lower the maxmemory"' in impacts[0].what


@pytest.mark.parametrize("change,klass", [({"redisMaxmemory": "100mb"}, "failover"),
                                          ({"redisMaxmemory": "64mb", "expectedPeakSessions": 10000,
                                            "redisMaxmemoryPolicy": "noeviction"}, "failover")])
def test_a_higher_maxmemory_or_noeviction_evicts_nothing(baselines, tmp_path, change, klass):
    impacts = changed(baselines, tmp_path, "dev", change)
    assert impacts[0].klass == klass
    assert ("makes every write fail (OOM)" in impacts[0].what) is (change.get("redisMaxmemoryPolicy") == "noeviction")


def test_redis_memory_units_are_the_config_files():
    assert [redis_bytes(v) for v in ("100", "1k", "1kb", "2m", "2mb", "1g", "1GB")] == \
           [100, 1000, 1024, 2_000_000, 2 * 1024**2, 10**9, 1024**3]
    with pytest.raises(ImpactError):
        redis_bytes("1tb")


def test_an_app_renamed_keeps_its_users_only_under_its_old_key_namespace(baselines, tmp_path):
    app = {**TWO_APPS[1], "name": "store"}
    renamed = changed(baselines, tmp_path / "a", "prod-2apps", {"wasApps": [TWO_APPS[0], app]})
    assert (renamed[0].klass, renamed[0].path) == ("sessions-lost", "deployment-store.yaml")
    assert renamed[0].what == (
        "Deployment petclinic/store takes database 2 over from Deployment petclinic/shop (removed) under key namespace "
        "spring:session:store (was spring:session:shop): its users are logged out; to keep them, give the new app "
        "sessionNamespace spring:session:shop")
    kept = changed(baselines, tmp_path / "b", "prod-2apps",
                   {"wasApps": [TWO_APPS[0], {**app, "sessionNamespace": "spring:session:shop"}]})
    assert "sessions-lost" not in {i.klass for i in kept}
    assert [i.what for i in kept if i.path == "service-shop.yaml"] == [
        "Pulumi deletes Service petclinic/shop: whatever reaches the app by this name (an Ingress, another app) gets "
        "no answer"]


LAYOUTS = {"default": {"repositoryType": "default"}, "minute": {"repositoryType": "indexed"},
           "sorted-set": {"repositoryType": "indexed", "sessionExpirationStore": "sorted-set"}}


@pytest.mark.parametrize("was,now,note", [
    ("default", "minute", "the count reads low for up to one sessionTimeout"),
    ("minute", "sorted-set", "the count reads low for up to one sessionTimeout"),
    ("minute", "default", "each session counted once (the counter leaves the indexed shadow keys out)"),
    ("sorted-set", "minute", "SessionStoreMismatch fires and db2 records no count until the operator deletes "
                             "spring:session:shop:sessions:expirations, which nothing else removes")])
def test_a_repository_or_expiration_store_switch_keeps_sessions_and_says_what_the_count_reads(tmp_path, was, now,
                                                                                              note):
    """tests/live/test_repository_switch_live.py: the new repository reads every session the old one wrote."""
    def apps(layout):
        return {"wasApps": [TWO_APPS[0], {**TWO_APPS[1], **LAYOUTS[layout]}]}
    render_stack("prod", tmp_path / "base", apps(was))
    render_stack("prod", tmp_path / "head", apps(now))
    impacts = classify(read(tmp_path / "base"), read(tmp_path / "head"))
    assert {i.klass for i in impacts} <= {"in-place", "restart", "failover"}, impacts
    [exporter] = [i for i in impacts if i.path == "deployment-redis-exporter.yaml"]
    assert exporter.klass == "restart"
    assert f"db2's sessions now counted as {now} (was {was}): {note}" in exporter.what
    assert "db1" not in exporter.what  # petclinic's store did not change


def test_password_generation_bump_rolls_the_clients(baselines, tmp_path):
    impacts = changed(baselines, tmp_path, "prod", {"redisPasswordGeneration": 2})
    assert [(i.klass, i.path) for i in impacts] == [("restart", "deployment-petclinic.yaml"),
                                                    ("restart", "deployment-redis-exporter.yaml")]
    assert impacts[0].what == ("Deployment petclinic/petclinic rolls its pods (spec.template.metadata.annotations."
                               "redis-session-platform/redis-password-generation)")


def test_default_password_rotation_is_not_visible_in_a_render(baselines, tmp_path):
    # `pulumi up --replace` of the RandomPassword: the render has fake, redacted secrets, so
    # both sides are equal; the runbook, not the classifier, covers it (limitation).
    assert changed(baselines, tmp_path, "prod", {}) == []


def test_sentinel_nodes_5_to_3_orphans_two_volumes(baselines, tmp_path):
    impacts = changed(baselines, tmp_path, "prod-5nodes", {"sentinelNodes": 3, "sentinelQuorum": 2})
    assert impacts[0].klass == "failover" and impacts[0].path == "helm-redis/statefulset-redis-node.yaml"
    assert "pods redis-node-3, redis-node-4 are removed and their PVCs stay orphaned (whenScaled: Retain); if the " \
           "master is one of them Sentinel fails over" in impacts[0].what
    assert ("restart", "deployment-petclinic.yaml") in [(i.klass, i.path) for i in impacts]  # its Sentinel list


def test_a_renewed_server_certificate_rolls_redis(baselines, tmp_path):
    # A renewal changes the certificate; the mock runtime's certificate is fixed, so the
    # renewed render is the baseline with the fingerprint annotation the program sets.
    head = tmp_path / "renewed"
    shutil.copytree(baselines["prod"], head)
    sts = head / "helm-redis" / "statefulset-redis-node.yaml"
    obj = yaml.safe_load(sts.read_text())
    annotations = obj["spec"]["template"]["metadata"]["annotations"]
    annotations["redis-session-platform/tls-cert-sha256"] = "0123456789abcdef"
    sts.write_text(yaml.safe_dump(obj))
    impacts = classify(read(baselines["prod"]), read(head))
    assert [(i.klass, i.what) for i in impacts] == [
        ("failover", "StatefulSet petclinic/redis-node: every Redis node restarts, the master included (spec.template."
                     "metadata.annotations.redis-session-platform/tls-cert-sha256); sessions stay on the volumes")]


# --- unforeseen changes and the command line -------------------------------------------
def test_a_chart_image_bump_is_classified_from_the_render(baselines, tmp_path):
    impacts = changed(baselines, tmp_path, "prod", {"redisImageTag": "8.2.2-debian-12-r0"})
    assert impacts[0].klass == "failover" and "every Redis node restarts, the master included" in impacts[0].what


def test_render_prints_the_impact_against_a_baseline_folder(baselines, tmp_path, capsys):
    assert render_main(["--stack", "prod", "--out", str(tmp_path / "head"), "--set", "redisPersistenceSize=8Gi",
                        "--baseline", str(baselines["prod"])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (f"impact of prod from {baselines['prod']}: upgrade-fails (worst of 1 changed objects): helm "
                      "upgrade fails: StatefulSet petclinic/redis-node field spec.volumeClaimTemplates is immutable; the "
                      "atomic release rolls back and every later `pulumi up` fails the same way")
    assert out[2].startswith("  upgrade-fails helm-redis/statefulset-redis-node.yaml: helm upgrade fails")


def test_render_takes_a_git_ref_as_the_baseline(tmp_path, capsys):
    # The baseline is the stack as the committed tree declares it, rendered with that tree's code.
    require_helm()
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    assert render_main(["--stack", "dev", "--out", str(tmp_path / "head"), "--set", "redisStorageClass=fast-ssd",
                        "--baseline", "HEAD"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("impact of dev from HEAD: upgrade-fails (worst of 1 changed objects): helm upgrade fails: "
                             "StatefulSet petclinic-dev/redis-master field spec.volumeClaimTemplates is immutable")
    assert render_main(["--stack", "dev", "--out", str(tmp_path / "again"), "--baseline", "no-such-ref"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("render: git archive no-such-ref failed") and err.count("\n") == 1


def test_the_session_counter_added_to_the_exporter_restarts_only_the_exporter(tmp_path):
    """A first store counted by SCAN adds the `session-counter` container (and its volumes) to
    the exporter's pod: a `restart` of the exporter, nothing of the Redis pods or the apps."""
    zset = [{**TWO_APPS[0], "repositoryType": "indexed", "sessionExpirationStore": "sorted-set"}]
    render_stack("prod", tmp_path / "base", {"wasApps": zset})
    render_stack("prod", tmp_path / "head", {"wasApps": [*zset, TWO_APPS[1]]})
    impacts = classify(read(tmp_path / "base"), read(tmp_path / "head"))
    exporter = [(i.klass, i.what) for i in impacts if i.path == "deployment-redis-exporter.yaml"]
    assert exporter == [("restart", "Deployment petclinic/redis-exporter rolls its pods (spec.template.spec.containers, "
                                    "spec.template.spec.volumes)")]
    assert {i.klass for i in impacts} == {"restart", "in-place"}
    assert not [i for i in impacts if i.path == "deployment-petclinic.yaml" or i.path.startswith("helm-redis/")]


# --- Boot lines (components/config/boot.py) -------------------------------------------------
def test_boot_4_namespace_moves_are_sessions_lost_and_a_boot_upgrade_is_not(tmp_path):
    # Every Boot line's property names are read from the table: Boot 4's
    # spring.session.data.redis.namespace counts as the key namespace, and a Boot 3 -> 4 upgrade
    # that keeps the namespace only rolls the app.
    require_helm()
    app = {"name": "shop", "image": "registry.example.com/shop:2.1.0", "minReplicas": 2}
    for name, overrides in (("boot3", {"springBootMajor": 3}), ("boot4", {"springBootMajor": 4}),
                            ("boot4-moved", {"springBootMajor": 4, "sessionNamespace": "shop:sessions"})):
        render_stack("dev", tmp_path / name, {"wasApps": [{**app, **overrides}]})
    upgrade = classify(read(tmp_path / "boot3"), read(tmp_path / "boot4"))
    assert lead(upgrade) == ("restart", "Deployment petclinic-dev/shop rolls its pods (spec.template.spec.containers)")
    assert not [i for i in upgrade if i.klass == "sessions-lost"]
    moved = classify(read(tmp_path / "boot4"), read(tmp_path / "boot4-moved"))
    assert lead(moved) == ("sessions-lost", "Deployment petclinic-dev/shop reads its sessions from another place "
                                            "(key namespace spring:session:shop -> shop:sessions): every user of it "
                                            "is logged out")


# --- Upgrading the program itself ------------------------------------------------------------
BEFORE_STORE_CREDENTIALS = "4dbf2a5489ec3d962801d3c7c96e8c3c8f50da61"
"""The last commit where the exporter wrote its own Secrets (13e3bed moved them to the store)."""


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_exporter_secrets_moved_to_the_store_restart_only_the_exporter(tmp_path, stack):
    """A running stack upgraded across 13e3bed: the exporter's password file and the counter's password
    come from the store's new Secrets (new names, so creating them never collides with deleting the old
    ones); the exporter rolls once; no Redis pod, no WAS app and no other object changes."""
    require_helm()
    if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", BEFORE_STORE_CREDENTIALS + "^{commit}"],
                      capture_output=True).returncode != 0:
        pytest.skip(f"{BEFORE_STORE_CREDENTIALS[:7]} is not in this clone (a shallow checkout)")
    render_stack(stack, tmp_path / "head")
    impacts = classify(baseline(BEFORE_STORE_CREDENTIALS, stack, ROOT), read(tmp_path / "head"))
    ns = "petclinic" if stack == "prod" else "petclinic-dev"
    assert sorted((i.klass, i.what) for i in impacts) == [
        ("in-place", f"Pulumi creates Secret {ns}/redis-counter-redis-auth"),
        ("in-place", f"Pulumi creates Secret {ns}/redis-exporter-redis-auth"),
        ("in-place", f"Pulumi deletes Secret {ns}/redis-exporter-auth"),
        ("in-place", f"Pulumi deletes Secret {ns}/redis-exporter-counter-auth"),
        # containers too: the session counter's script changed since (it leaves indexed shadow keys out)
        ("restart", f"Deployment {ns}/redis-exporter rolls its pods (spec.template.spec.containers, "
                    "spec.template.spec.volumes)"),
    ]
