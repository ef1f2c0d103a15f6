"""The installed package (issue 21 item 1): one distinct import name, every module importable with
only the declared dependencies, and no clash with a program's own `settings`, `components` or
`monitoring` modules. The venv holds the wheel and what it declares, nothing else
(tests/components/conftest.py)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.components.installed import PACKAGE, USER_MODULES, run_under_mocks
from tests.harness import ROOT

pytestmark = pytest.mark.install


def shipped_modules(wheel: Path) -> list[str]:
    members = zipfile.ZipFile(wheel).namelist()
    tops = {m.split("/")[0] for m in members if not m.split("/")[0].endswith(".dist-info")}
    assert tops == {PACKAGE}, tops  # no generic top-level name (components, settings, monitoring, tools)
    return sorted(m[:-3].replace("/", ".").removesuffix(".__init__") for m in members if m.endswith(".py"))


def test_every_shipped_module_imports_with_the_declared_dependencies(installed, tmp_path):
    modules = shipped_modules(installed.wheel)
    expected = sorted(".".join((PACKAGE, *p.relative_to(ROOT / "components").with_suffix("").parts)).removesuffix(".__init__")
                      for p in (ROOT / "components").rglob("*.py"))
    assert modules == expected, "the wheel must ship the whole product"
    proc = installed.run(
        "import importlib, json, traceback\n"
        "failed = {}\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as e:\n"
        "        failed[name] = f'{type(e).__name__}: {e}'\n"
        "print(json.dumps(failed))\n", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {}
    assert len(modules) > 20  # the package, config/, monitoring/ and their modules


PROGRAM = '''\
import pulumi

import components
import monitoring
import settings
from redis_session_platform.config import names
from redis_session_platform.config.config import to_settings
from redis_session_platform.config.schema import stack_config
from redis_session_platform.config.sessions import stores_for, stores_in_order
from redis_session_platform.exporter import RedisExporter, RedisExporterArgs
from redis_session_platform.redis import RedisSessionStore, RedisSessionStoreArgs
from redis_session_platform.was import WasApp, WasAppArgs

s = to_settings(stack_config(settings.CONFIG), project="shop", stack="dev")
store = RedisSessionStore(components.STORE, RedisSessionStoreArgs(settings=s.redis, namespace="shop",
                                                                  apps=s.was_apps))
for app in s.was_apps:
    WasApp(app.name, WasAppArgs(app=app, connection=store.connection, prometheus_release=monitoring.PROMETHEUS_RELEASE))
exporter = names.exporter(components.STORE)
RedisExporter(exporter, RedisExporterArgs(connection=store.connection, image=s.exporter_image,
                                          prometheus_release=monitoring.PROMETHEUS_RELEASE,
                                          prometheus_namespace="monitoring", apps=s.was_apps,
                                          ))
'''


def test_a_program_with_its_own_settings_components_and_monitoring_uses_the_components(installed, tmp_path):
    program_dir = tmp_path / "shop"
    program_dir.mkdir()
    for name, text in USER_MODULES.items():
        (program_dir / name).write_text(text)
    out = run_under_mocks(installed, program_dir, PROGRAM)
    for own in ("settings", "components", "monitoring"):
        assert out["where"][own] == str(program_dir / f"{own}.py"), out["where"]
    assert out["where"][PACKAGE].startswith(str(installed.venv)), out["where"]
    kinds = {t.rsplit(":", 1)[1] for t in out["types"]}
    assert {"RedisSessionStore", "WasApp", "RedisExporter", "Release", "Deployment", "ServiceMonitor"} <= kinds, kinds
