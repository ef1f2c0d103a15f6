"""The components are reusable from another program: typed Args of their own, object
names derived from instance names (two stores and their apps side by side in one
namespace collide nowhere, the charts' objects included), and the package installs with
pip and runs the README's example."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from components.alert_rules import AlertRules, AlertRulesArgs
from components.config import cve, names
from components.config.config import to_settings
from components.config.schema import stack_config
from components.dashboard import Dashboard007, Dashboard007Args
from components.exporter import RedisExporter, RedisExporterArgs
from components.monitoring.scope import Scope
from components.redis import RedisSessionStore, RedisSessionStoreArgs
from components.was import WasApp, WasAppArgs
from render import render
from tests.components.installed import PACKAGE, USER_MODULES, run_under_mocks
from tests.harness import ROOT, run_with_mocks
from tests.tools import require_helm

NAMESPACE = "shop"


def store_with_apps(store: str, apps: list[dict]) -> None:
    """One store, its apps, exporter, rules and dashboard, as another program would build them."""
    # The default image is below the known-CVE floor: acknowledged as the project's stacks do.
    config = {"namespace": NAMESPACE, "wasApps": apps, "redisImageAcceptedCves": list(cve.CVES)}
    s = to_settings(stack_config(config), "other", "dev")
    redis = RedisSessionStore(store, RedisSessionStoreArgs(settings=s.redis, namespace=NAMESPACE,
                                                           apps=s.was_apps))
    for app in s.was_apps:
        WasApp(app.name, WasAppArgs(app=app, connection=redis.connection, prometheus_release="kp"))
    exporter = names.exporter(store)
    RedisExporter(exporter, RedisExporterArgs(connection=redis.connection, image=s.exporter_image,
                                              prometheus_release="kp", prometheus_namespace="monitoring",
                                              apps=s.was_apps))
    scope = Scope(namespace=NAMESPACE, job=exporter, topology=s.redis.topology, redis_nodes=1,
                  maxmemory_bytes=s.redis.maxmemory_bytes, apps=s.was_apps,
                  threshold_values=s.thresholds.model_dump(by_alias=True),
                  runbook_base_url=s.runbook_base_url, title=store)
    AlertRules(f"{store}-rules", AlertRulesArgs(scope=scope, prometheus_release="kp"))
    Dashboard007(f"{store}-dashboard", Dashboard007Args(scope=scope, grafana_namespace="monitoring"))


def test_two_stores_and_their_apps_render_side_by_side_without_a_collision(tmp_path):
    require_helm()

    def program():
        store_with_apps("sessions-a", [{"name": "cart", "image": "registry.example.com/cart:1.4.2"}])
        store_with_apps("sessions-b", [{"name": "billing", "image": "registry.example.com/billing:2.0.1",
                                        "repositoryType": "indexed"}])

    run = run_with_mocks(program)
    assert run.error is None, run.error
    pulumi_names = Counter((r.type, r.name) for r in run.resources)
    assert max(pulumi_names.values()) == 1, [k for k, n in pulumi_names.items() if n > 1]
    paths = render(run, tmp_path / "out")
    import yaml

    objects = [yaml.safe_load(p.read_text()) for p in paths if p.name not in ("values.yaml", "release.yaml")]
    keys = Counter((o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects)
    assert [k for k, n in keys.items() if n > 1] == []
    assert {p.parent.name for p in paths if p.parent != tmp_path / "out"} == {"helm-sessions-a", "helm-sessions-b"}
    # each app talks to its own store
    for app, store in (("cart", "sessions-a"), ("billing", "sessions-b")):
        [dep] = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == app]
        env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["SPRING_DATA_REDIS_HOST"] == f"{store}-master.{NAMESPACE}.svc.cluster.local"


def _example() -> str:
    """The README's example program (the python block under "Use the components")."""
    section = (ROOT / "README.md").read_text().split("## Use the components from another program", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.install
def test_the_readme_example_runs_from_the_installed_package_beside_a_programs_own_settings(installed, tmp_path):
    program_dir = tmp_path / "shop"
    program_dir.mkdir()
    for name, text in USER_MODULES.items():
        (program_dir / name).write_text(text)
    out = run_under_mocks(installed, program_dir, _example())
    assert out["where"][PACKAGE].startswith(str(installed.venv)), "the example must use the installed package"
    kinds = {t.rsplit(":", 1)[1] for t in out["types"]}
    assert {"RedisSessionStore", "WasApp", "Release", "Deployment"} <= kinds, kinds
