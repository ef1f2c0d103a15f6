"""The installed package renders the dashboard the dev venv renders (issue 19, item 5).

pyproject.toml once allowed `grafana-foundation-sdk>=1769699379!11.6.0`, and pip then picked the
newest upload, 1769699998!10.1.0 (a Grafana 10.1 build): the dashboard silently became
schemaVersion 36. This test takes the wheel installed with the dependencies **it declares**
(its Requires-Dist) into a fresh venv (tests/components/conftest.py) and compares the dashboard
JSON with the dev venv's. Both sides parse the same stack config (the strings the Pulumi CLI
hands the program, read here by tools/stackfile.py) with the package's own parser.
"""
from __future__ import annotations

import json

import pytest

from components.config.config import parse
from components.monitoring.dashboard import dashboard_json
from components.monitoring.scope import scope_of
from tests.harness import PROJECT, ROOT, cli_config

pytestmark = pytest.mark.install


def test_the_installed_package_renders_the_dev_venvs_dashboard(installed, tmp_path):
    requires = installed.requires
    assert requires["grafana-foundation-sdk"].startswith("grafana-foundation-sdk=="), requires  # an exact pin
    pinned = (ROOT / "requirements.txt").read_text()
    assert requires["grafana-foundation-sdk"] in pinned.replace(" ", ""), "pyproject and requirements.txt must agree"

    raw, secret_keys = cli_config("prod")
    (tmp_path / "config.json").write_text(json.dumps({"raw": raw, "secret_keys": secret_keys}))
    proc = installed.run(
        "import json, importlib.metadata as md\n"
        "import redis_session_platform\n"
        "from redis_session_platform.config.config import parse\n"
        "from redis_session_platform.monitoring.dashboard import dashboard_json\n"
        "from redis_session_platform.monitoring.scope import scope_of\n"
        f"config = json.loads(open({str(tmp_path / 'config.json')!r}).read())\n"
        f"settings = parse(config['raw'], {PROJECT!r}, 'prod', config['secret_keys'])\n"
        "print(redis_session_platform.__file__)\n"
        "print(md.version('grafana-foundation-sdk'))\n"
        "print(dashboard_json(scope_of(settings)))\n", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    where, version, rendered = proc.stdout.split("\n", 2)
    assert where.startswith(str(installed.venv)), "the installed package must render, not the source tree"
    assert version == requires["grafana-foundation-sdk"].split("==")[1]
    expected = dashboard_json(scope_of(parse(raw, PROJECT, "prod", secret_keys)))
    assert json.loads(rendered) == json.loads(expected)
    assert json.loads(rendered)["schemaVersion"] == 41
