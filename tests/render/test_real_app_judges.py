"""A WAS app using every new wasApps field, rendered and judged like the stacks: the objects pass
kubernetes-validate --strict (so the shapes are the API's) and the pod meets Pod Security restricted."""
import subprocess

import pytest
import yaml

from render import render_stack
from tests.components.test_was_extras import FULL
from tests.render.test_render_judges import (  # noqa: F401 - kubernetes_validate is a fixture
    is_builtin,
    kubernetes_validate,
    kubernetes_validate_version,
    restricted_violations,
)
from tests.tools import require_helm


@pytest.fixture(scope="module")
def real_app(tmp_path_factory):
    require_helm()
    out = tmp_path_factory.mktemp("real-app") / "dev"
    run, paths = render_stack("dev", out, {"wasApps": [FULL]})
    ours = [(p, yaml.safe_load(p.read_text())) for p in paths if p.parent == out and p.suffix == ".yaml"]
    return run, ours


def test_the_real_app_pod_meets_pod_security_restricted(real_app):
    _, ours = real_app
    [deployment] = [o for _, o in ours if o["kind"] == "Deployment" and o["metadata"]["name"] == "shop"]
    spec = deployment["spec"]["template"]["spec"]
    assert {v["name"] for v in spec["volumes"]} >= {"certs", "conf", "cache", "uploads"}
    assert restricted_violations("shop", spec) == []


@pytest.mark.judge
def test_the_real_app_objects_pass_kubernetes_validate_strict(real_app, kubernetes_validate):  # noqa: F811
    run, ours = real_app
    tool, available = kubernetes_validate
    files = [str(p) for p, o in ours if is_builtin(o) and o["metadata"]["name"] == "shop"]
    assert {o["kind"] for p, o in ours if str(p) in files} >= {"Deployment", "NetworkPolicy"}
    version = kubernetes_validate_version("1.33", available)
    proc = subprocess.run([tool, "--strict", "-k", version, "--quiet", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
