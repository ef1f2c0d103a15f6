"""The installed package renders the dashboard the dev venv renders (issue 19, item 5).

pyproject.toml once allowed `grafana-foundation-sdk>=1769699379!11.6.0`, and pip then picked the
newest upload, 1769699998!10.1.0 (a Grafana 10.1 build): the dashboard silently became
schemaVersion 36. This test builds the wheel, installs it into a fresh venv (`python -m venv`)
and installs, from PyPI through pip's cache, the dashboard's dependencies **as the wheel declares
them** (its Requires-Dist), then compares the dashboard JSON with the dev venv's.

Only the dashboard's dependencies are installed (grafana-foundation-sdk, pydantic,
docker-image-py, semver: the import closure of components.monitoring.dashboard and .scope),
not pulumi and pulumi-kubernetes: those are not imported by the dashboard, and a full install
downloads and unpacks ~150 MB (grpcio, pulumi-kubernetes), several minutes on this machine.
The Scope is built in the dev venv and pickled; unpickling it in the fresh venv uses the
installed package's classes.
"""
from __future__ import annotations

import email
import json
import pickle
import shutil
import subprocess
import sys
import zipfile

import pytest

from components.monitoring.dashboard import dashboard_json
from components.monitoring.scope import scope_of
from tests.harness import ROOT, load_settings

DASHBOARD_DEPS = ("grafana-foundation-sdk", "pydantic", "docker-image-py", "semver")
pytestmark = pytest.mark.install


def _requires(wheel) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.message_from_bytes(z.read(meta))
    out = {}
    for req in message.get_all("Requires-Dist") or []:
        if ";" in req:
            continue  # extras
        name = req.split("<")[0].split(">")[0].split("=")[0].split("!")[0].split("~")[0].strip().lower()
        out[name] = req.replace(" ", "")
    return out


def test_the_installed_package_renders_the_dev_venvs_dashboard(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for item in ("pyproject.toml", "components"):
        if (ROOT / item).is_dir():
            shutil.copytree(ROOT / item, src / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / item, src / item)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "wheel"), str(src)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    [wheel] = list((tmp_path / "wheel").glob("redis_session_platform-*.whl"))
    requires = _requires(wheel)
    assert requires["grafana-foundation-sdk"].startswith("grafana-foundation-sdk=="), requires  # an exact pin
    pinned = (ROOT / "requirements.txt").read_text()
    assert requires["grafana-foundation-sdk"] in pinned.replace(" ", ""), "pyproject and requirements.txt must agree"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    deps = subprocess.run([str(python), "-m", "pip", "install", "-q", *(requires[d] for d in DASHBOARD_DEPS)],
                          capture_output=True, text=True, timeout=600)
    assert deps.returncode == 0, deps.stderr

    scope = scope_of(load_settings("prod"))
    (tmp_path / "scope.pickle").write_bytes(pickle.dumps(scope))
    script = tmp_path / "render_dashboard.py"
    script.write_text(
        "import pickle, sys, importlib.metadata as md\n"
        "import components.monitoring as monitoring\n"
        "from components.monitoring.dashboard import dashboard_json\n"
        f"scope = pickle.loads(open({str(tmp_path / 'scope.pickle')!r}, 'rb').read())\n"
        "print(monitoring.__file__)\n"
        "print(md.version('grafana-foundation-sdk'))\n"
        "print(dashboard_json(scope))\n")
    proc = subprocess.run([str(python), "-I", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    where, version, installed = proc.stdout.split("\n", 2)
    assert where.startswith(str(venv)), "the installed package must render, not the source tree"
    assert version == requires["grafana-foundation-sdk"].split("==")[1]
    expected = dashboard_json(scope)
    assert json.loads(installed) == json.loads(expected)
    assert json.loads(installed)["schemaVersion"] == 41
