"""GitHub workflows: judged by actionlint and the GitHub workflow schema, plus the
properties we promise (matrix, least permissions, concurrency, pinning, prod gate)."""
import re
import subprocess

import pytest
import yaml

from tests.harness import ROOT
from tests.tools import require

WORKFLOWS = ROOT / ".github" / "workflows"
PREVIEW, DEPLOY = WORKFLOWS / "preview.yml", WORKFLOWS / "deploy.yml"
ACTION = ROOT / ".github" / "actions" / "prepare" / "action.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def load(path):
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True)  # YAML 1.1 reads `on:` as true
    return doc


@pytest.mark.judge
def test_actionlint_accepts_both_workflows():
    proc = subprocess.run([require("actionlint"), str(PREVIEW), str(DEPLOY)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


@pytest.mark.judge
def test_actionlint_rejects_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n")
    proc = subprocess.run([require("actionlint"), str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "matrix" in proc.stdout


@pytest.mark.judge
def test_github_schemas_accept_workflows_and_action():
    tool = require("check-jsonschema")
    for schema, files in (("vendor.github-workflows", [PREVIEW, DEPLOY]), ("vendor.github-actions", [ACTION])):
        proc = subprocess.run([tool, "--builtin-schema", schema, *map(str, files)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_preview_on_pull_requests_for_every_stack_with_least_permissions():
    wf = load(PREVIEW)
    assert "pull_request" in wf["on"]
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write"}
    job = wf["jobs"]["preview"]
    stacks = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
    assert job["strategy"]["matrix"]["stack"] == stacks == ["dev", "prod"]
    assert "pull_request.number" in job["concurrency"]["group"] and "matrix.stack" in job["concurrency"]["group"]
    pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True and pulumi["with"]["diff"] is True


def test_deploy_up_dev_then_prod_behind_production_and_never_cancelled():
    wf = load(DEPLOY)
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["permissions"] == {"contents": "read"}
    dev, prod = wf["jobs"]["up-dev"], wf["jobs"]["up-prod"]
    assert prod["needs"] == "up-dev" and prod["environment"] == "production"
    for job in (dev, prod):
        assert job["concurrency"]["cancel-in-progress"] is False
        step = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
        assert step["with"]["command"] == "up"


def test_every_action_is_pinned_to_a_commit():
    lines = [line.strip() for path in (PREVIEW, DEPLOY, ACTION) for line in path.read_text().splitlines()]
    uses = [line.split("uses:", 1)[1].strip() for line in lines if "uses:" in line]
    external = [u for u in uses if not u.startswith("./")]
    assert external and all(PINNED.match(u) for u in external), external


def test_ci_steps_use_the_readme_commands():
    text = ACTION.read_text()
    assert "bash scripts/install.sh" in text and "bash scripts/test.sh" in text
