"""GitHub workflows: judged by actionlint and the GitHub workflow schema (both offline),
plus the properties we promise (docs/ci.md): PR code never reaches a secret except behind
an environment, read-only tokens, no system packages in CI, the operator's install path in
the Pulumi jobs, the render diff of every object, pinning. The judges are proven to bite by
negative tests on broken workflows. The render-diff tool is tested here too."""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness import ROOT, copy_source_tree
from tests.tools import require, require_helm

GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
PREVIEW, DEPLOY = WORKFLOWS / "preview.yml", WORKFLOWS / "deploy.yml"
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
VENVS, PULUMI = "./.github/actions/venvs", "./.github/actions/pulumi"
RENDER_DIFF = GITHUB / "scripts" / "render_diff.py"
DOCS = ROOT / "docs" / "ci.md"
# owner/repo[/path]@<40-hex SHA> # vX.Y.Z, or an exact release tag @vX.Y.Z.
# Never a moving ref (@v4, @main, a short SHA).
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(?:[0-9a-f]{40} # v\d+\.\d+\.\d+|v\d+\.\d+\.\d+)$")
BROKEN = "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n"
UNIT_TESTS = 'bash scripts/test.sh -m "not live and not bench"'
# Where each deploy environment may be used, and the environments of PR previews.
DEPLOY_ENVIRONMENTS = {"dev", "production"}
PREVIEW_ENVIRONMENT = "preview-${{ matrix.stack }}"


def load(path):
    doc = yaml.safe_load(path.read_text())
    if True in doc:
        doc["on"] = doc.pop(True)  # YAML 1.1 reads the key `on:` as boolean true
    return doc


def all_workflows():
    return {p.name: load(p) for p in sorted(WORKFLOWS.glob("*.yml"))}


def stack_files():
    return sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def steps_using(job, prefix):
    return [s for s in job["steps"] if s.get("uses", "").startswith(prefix)]


def pulumi_step(job):
    steps = steps_using(job, "pulumi/actions@")
    assert len(steps) == 1, job["steps"]
    return steps[0]


def secret_refs(node) -> set[str]:
    """Every secret a job (or step) names, in any spelling of the secrets context."""
    text = yaml.safe_dump(node)
    assert "secrets: inherit" not in text and not re.search(r"secrets\s*\[|toJSON\(\s*secrets", text), text
    return set(re.findall(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)", text))


def environment(job):
    env = job.get("environment")
    return env["name"] if isinstance(env, dict) else env


def actionlint(*paths):
    return subprocess.run([require("actionlint"), *map(str, paths)], capture_output=True, text=True, cwd=ROOT)


def check_jsonschema(schema, *paths):
    tool = require("check-jsonschema")
    return subprocess.run([tool, "--builtin-schema", schema, *map(str, paths)], capture_output=True, text=True)


# --- external judges -------------------------------------------------------------------

@pytest.mark.judge
def test_actionlint_accepts_every_workflow():
    # actionlint also reads the local actions a workflow uses and checks their inputs.
    proc = actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), proc.stdout + proc.stderr


@pytest.mark.judge
def test_actionlint_rejects_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(BROKEN)
    proc = actionlint(bad)
    assert proc.returncode != 0 and "matrix" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.judge
def test_github_schemas_accept_workflows_and_actions():
    # --builtin-schema: the schemas ship inside check-jsonschema, no network needed.
    assert {p.parent.name for p in ACTIONS} == {"venvs", "pulumi"}
    for schema, files in (("vendor.github-workflows", sorted(WORKFLOWS.glob("*.yml"))),
                          ("vendor.github-actions", ACTIONS)):
        proc = check_jsonschema(schema, *files)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.judge
def test_github_workflow_schema_rejects_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\npermissions:\n  contents: admin\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
                   "    steps:\n      - run: echo hi\n")
    proc = check_jsonschema("vendor.github-workflows", bad)
    assert proc.returncode != 0 and "permissions" in proc.stdout, proc.stdout + proc.stderr


# --- credentials: what PR code can reach (docs/ci.md) ------------------------------------

def test_no_trigger_runs_pr_content_with_base_privileges():
    # pull_request_target / workflow_run run with the base's secrets and a write token;
    # nothing here needs them (the render diff is a job summary, not a comment).
    for name, wf in all_workflows().items():
        assert not set(wf["on"]) & {"pull_request_target", "workflow_run", "issue_comment"}, name


def test_every_token_is_read_only():
    for name, wf in all_workflows().items():
        assert wf["permissions"] == {"contents": "read"}, name
        for job_name, job in wf["jobs"].items():
            perms = job.get("permissions", {})
            assert set(perms.values()) <= {"read", "none"} and "id-token" not in perms, (name, job_name)


def test_every_secret_is_an_environment_secret():
    # A repository or organization secret reaches every workflow of every branch, including
    # one a PR branch rewrites. Only environment secrets are gated (reviewers, branch rules),
    # so a job that names a secret must name its environment.
    for name, wf in all_workflows().items():
        for job_name, job in wf["jobs"].items():
            if secret_refs(job):
                assert environment(job), (name, job_name, secret_refs(job))


def test_pr_jobs_without_a_gate_hold_no_secret():
    jobs = load(PREVIEW)["jobs"]
    ungated = {n for n, j in jobs.items() if not environment(j)}
    assert ungated == {"test", "render-diff", "image-list", "image-scan"}
    for name in ungated:
        assert secret_refs(jobs[name]) == set() and "environment" not in jobs[name], name


def test_pr_previews_use_only_their_preview_environment():
    wf = load(PREVIEW)
    assert set(wf["on"]) == {"pull_request"} and wf["on"]["pull_request"]["branches"] == ["main"]
    gated = {n: j for n, j in wf["jobs"].items() if environment(j)}
    assert set(gated) == {"preview"}
    job = gated["preview"]
    assert environment(job) == PREVIEW_ENVIRONMENT
    assert secret_refs(job) == {"KUBECONFIG", "PULUMI_ACCESS_TOKEN"}
    # The matrix expands to preview-dev and preview-prod: never a deploy environment.
    expanded = {PREVIEW_ENVIRONMENT.replace("${{ matrix.stack }}", s) for s in job["strategy"]["matrix"]["stack"]}
    assert expanded == {"preview-dev", "preview-prod"} and not expanded & DEPLOY_ENVIRONMENTS


def test_deploy_environments_only_on_main():
    for name, wf in all_workflows().items():
        used = {environment(j) for j in wf["jobs"].values()} & DEPLOY_ENVIRONMENTS
        if used:
            assert name == DEPLOY.name and set(wf["on"]) == {"push", "workflow_dispatch"}, name
            assert wf["on"]["push"]["branches"] == ["main"]


def test_prod_preview_waits_for_tests_and_the_render_diff():
    # The reviewer of preview-prod approves with the render diff already on the run page.
    job = load(PREVIEW)["jobs"]["preview"]
    assert sorted(job["needs"]) == ["render-diff", "test"]


def test_environments_and_their_gates_are_documented():
    """docs/ci.md's environment table names every environment the workflows use, with the
    protection each needs: the settings are in GitHub, not in this repository."""
    rows = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"^\|\s*`([\w-]+)`\s*\|(.*)\|\s*$", line)
        if m and m.group(1) in {"preview-dev", "preview-prod", "dev", "production"}:
            rows[m.group(1)] = m.group(2)
    assert set(rows) == {"preview-dev", "preview-prod", "dev", "production"}, rows
    for env in ("preview-prod", "production"):
        assert "required reviewers" in rows[env].lower() and "prevent self-review" in rows[env].lower(), env
    for env in ("dev", "production"):
        assert "`main`" in rows[env], env
    for env in ("preview-dev", "preview-prod"):
        assert "read-only" in rows[env].lower(), env


def test_no_untrusted_text_or_secret_is_expanded_inside_a_script():
    # ${{ }} in `run:` is pasted into the script before it runs: an attacker-chosen branch
    # name or PR title would be code, and a secret would land in the script file. Values go
    # through `env:` instead.
    for path in [*WORKFLOWS.glob("*.yml"), *ACTIONS]:
        doc = load(path)
        jobs = doc.get("jobs", {}).values() if "jobs" in doc else [doc["runs"]]
        for job in jobs:
            for step in job["steps"]:
                for expr in re.findall(r"\$\{\{(.*?)\}\}", step.get("run", "")):
                    assert not re.search(r"github\.(event|head_ref)|secrets\.|inputs\.", expr), (path.name, expr)


def test_checkout_never_leaves_the_token_on_disk():
    for name, wf in all_workflows().items():
        for job in wf["jobs"].values():
            for step in steps_using(job, "actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


# --- what CI installs -------------------------------------------------------------------

def test_ci_installs_no_system_packages():
    # No apt, no root, no services: the contributor's scripts/install.sh is not for CI.
    for path in [*WORKFLOWS.glob("*.yml"), *ACTIONS]:
        doc = load(path)
        jobs = doc["jobs"].values() if "jobs" in doc else [doc["runs"]]
        scripts = "\n".join(step.get("run", "") for job in jobs for step in job["steps"])
        # every file with a `run` step was read (certificates.yml has only `uses` steps)
        assert scripts.strip() or all("uses" in s for job in jobs for s in job["steps"]), path.name
        for pattern in (r"\bapt(-get)?\b", r"\bdpkg\b", r"\bsudo\b", r"\bsystemctl\b", r"scripts/install\.sh"):
            assert not re.search(pattern, scripts), (path.name, pattern)


def test_pulumi_jobs_install_the_program_as_an_operator_does():
    """Jobs with credentials run checkout, the pulumi action (Python, the CLI, `pulumi
    install` = .venv from requirements.txt, kubeconfig) and pulumi/actions: no test or dev
    packages, no other step."""
    for name, wf in all_workflows().items():
        for job_name, job in wf["jobs"].items():
            if not environment(job):
                continue
            uses = [s.get("uses", "").split("@")[0] for s in job["steps"]]
            assert uses == ["actions/checkout", PULUMI, "pulumi/actions"], (name, job_name, uses)
    steps = load(GITHUB / "actions" / "pulumi" / "action.yml")["runs"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert uses[:2] == ["actions/setup-python", "pulumi/actions"] and "command" not in steps[1]["with"]
    runs = [s.get("run", "").strip() for s in steps]
    assert runs[2] == "pulumi install"
    text = (GITHUB / "actions" / "pulumi" / "action.yml").read_text()
    assert "requirements-dev" not in text and "requirements-tools" not in text and "pip install" not in text


def test_unit_test_jobs_install_pypi_only_and_skip_only_debian_judges():
    for path in (PREVIEW, DEPLOY):
        job = load(path)["jobs"]["test"]
        assert not environment(job) and secret_refs(job) == set()
        [venvs] = steps_using(job, VENVS)
        assert venvs["with"]["tools"] == "true"
        [run] = [s for s in job["steps"] if "run" in s]
        assert run["run"] == UNIT_TESTS
        assert run["env"]["TESTS_OPTIONAL_TOOLS"].split() == ["promtool", "amtool"]
    action = load(GITHUB / "actions" / "venvs" / "action.yml")
    assert action["inputs"]["requirements"]["default"] == "requirements-dev.txt"
    runs = " ".join(s.get("run", "") for s in action["runs"]["steps"])
    assert "bash scripts/install-helm.sh .venv" in runs and "requirements-tools.txt" in runs


def test_optional_tools_only_skip_what_they_name(monkeypatch):
    from tests import tools

    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("TESTS_OPTIONAL_TOOLS", "promtool amtool")
    with pytest.raises(pytest.skip.Exception):
        tools._missing(["promtool"])
    with pytest.raises(pytest.fail.Exception):
        tools._missing(["checkov"])
    monkeypatch.delenv("TESTS_OPTIONAL_TOOLS")
    with pytest.raises(pytest.fail.Exception):
        tools._missing(["promtool"])


# --- preview.yml -----------------------------------------------------------------------

def test_preview_one_run_per_pr():
    group = load(PREVIEW)["concurrency"]
    assert "github.event.pull_request.number" in group["group"] and group["cancel-in-progress"] is True


def test_preview_matrix_is_every_stack():
    job = load(PREVIEW)["jobs"]["preview"]
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"]["stack"] == stack_files() == ["dev", "prod"]


def test_preview_step_previews_the_matrix_stack_into_the_job_summary():
    job = load(PREVIEW)["jobs"]["preview"]
    step = pulumi_step(job)
    w = step["with"]
    assert w["command"] == "preview" and w["work-dir"] == "."
    assert "matrix.stack" in w["stack-name"] and "vars.PULUMI_ORG" in w["stack-name"]
    assert w["diff"] is True and w["comment-on-summary"] is True and w["comment-on-pr"] is False
    # The preview identity reads no Secrets, so no refresh (docs/ci.md).
    assert w["refresh"] is False
    assert step["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
    [setup] = steps_using(job, PULUMI)
    assert setup["with"]["kubeconfig"] == "${{ secrets.KUBECONFIG }}"


def test_render_diff_job_renders_base_and_pr_and_keeps_the_full_diff():
    job = load(PREVIEW)["jobs"]["render-diff"]
    [checkout] = steps_using(job, "actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 2  # the merge commit and its base parent
    runs = [s.get("run", "") for s in job["steps"]]
    assert any("git archive HEAD^1" in r for r in runs)
    assert [s.get("with", {}).get("directory", ".") for s in steps_using(job, VENVS)] == [".", "${{ runner.temp }}/base"]
    [diff] = [r for r in runs if "render_diff.py" in r]
    for part in ("python .github/scripts/render_diff.py", '--base "$RUNNER_TEMP/base"', "--head .",
                 '--summary "$GITHUB_STEP_SUMMARY"'):
        assert part in diff, part
    [upload] = steps_using(job, "actions/upload-artifact@")
    assert upload["if"] == "always()" and upload["with"]["name"] == "render-diff"


# --- deploy.yml ------------------------------------------------------------------------

def test_deploy_on_main_only():
    wf = load(DEPLOY)
    assert wf["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in wf["on"]
    # workflow_dispatch can name any branch; the first job (and so every up) is main only.
    assert wf["jobs"]["test"]["if"] == "github.ref == 'refs/heads/main'" and "needs" not in wf["jobs"]["test"]


def test_deploy_tests_then_dev_then_prod_behind_production():
    jobs = load(DEPLOY)["jobs"]
    dev, prod = jobs["up-dev"], jobs["up-prod"]
    assert dev["environment"] == "dev" and dev["needs"] == "test"
    assert prod["needs"] == "up-dev" and prod["environment"] == "production"
    for job, stack in ((dev, "dev"), (prod, "prod")):
        step = pulumi_step(job)["with"]
        assert step["command"] == "up" and step["work-dir"] == "." and step["refresh"] is True
        assert f"'{stack}'" in step["stack-name"] and f"/{stack}'" in step["stack-name"], step["stack-name"]
        assert secret_refs(job) == {"KUBECONFIG", "PULUMI_ACCESS_TOKEN"}


def test_every_up_is_never_cancelled_and_locked_per_stack():
    jobs = load(DEPLOY)["jobs"]
    ups = {n: j for n, j in jobs.items() if steps_using(j, "pulumi/actions@") and pulumi_step(j)["with"]["command"] == "up"}
    assert set(ups) == {"up-dev", "up-prod"}
    groups = [job["concurrency"]["group"] for job in ups.values()]
    assert all(job["concurrency"]["cancel-in-progress"] is False for job in ups.values())
    assert len(set(groups)) == len(groups)
    for name, job in ups.items():
        assert job["concurrency"]["group"].endswith(name.removeprefix("up-")), name


# --- both ------------------------------------------------------------------------------

def test_pulumi_cli_matches_the_sdk_pin():
    [pin] = re.findall(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    versions = []
    for path in WORKFLOWS.glob("*.yml"):
        versions += re.findall(r"^\s*pulumi-version:\s*(\S+)", path.read_text(), re.M)
    assert versions and set(versions) == {pin}, versions


def test_every_action_is_pinned():
    uses = []
    for path in [*WORKFLOWS.glob("*.yml"), *ACTIONS]:
        for line in path.read_text().splitlines():
            m = re.match(r"^\s*(?:-\s+)?uses:\s*(.+?)\s*$", line)
            if m:
                uses.append(m.group(1))
    external = [u for u in uses if not u.startswith("./")]
    assert external and [u for u in external if not PINNED.match(u)] == []
    # The pattern itself refuses moving refs.
    for moving in ("actions/checkout@v4", "actions/checkout@main", "pulumi/actions@v7 # v7.0.0",
                   "actions/checkout@11bd719 # v4.2.2"):
        assert not PINNED.match(moving), moving


# --- the operator's set-up (README "Use it") --------------------------------------------

def test_operators_run_pulumi_install_not_the_contributor_script():
    readme = (ROOT / "README.md").read_text()
    use_it = readme.split("## Use it (real cluster)", 1)[1].split("\n## ", 1)[0]
    blocks = use_it.split("```")[1::2]
    commands = [line.split("#")[0].strip() for block in blocks for line in block.strip().splitlines()]
    assert commands[:2] == ["pulumi install", "pulumi stack select dev && pulumi up"], commands
    for command in commands:
        assert command.startswith("pulumi "), command  # no script, no sudo, no apt, no pip
    # What makes `pulumi install` build .venv from requirements.txt (pulumi/pulumi
    # sdk/python/toolchain/pip.go, InstallDependencies): toolchain pip, virtualenv .venv.
    runtime = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]
    assert runtime == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


def test_requirements_txt_is_the_program_only():
    """What `pulumi install` and the Pulumi jobs install: no test, lint or judge packages."""
    def names(path):
        return {re.split(r"[=<>!~\[ ]", line)[0].lower() for line in (ROOT / path).read_text().splitlines()
                if line.strip() and not line.startswith(("#", "-r"))}
    runtime = names("requirements.txt")
    assert "pulumi" in runtime and "pulumi-kubernetes" in runtime
    assert not runtime & (names("requirements-dev.txt") | names("requirements-tools.txt"))


# --- the render-diff tool (.github/scripts/render_diff.py) -------------------------------

def render_diff_module():
    spec = importlib.util.spec_from_file_location("render_diff", RENDER_DIFF)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_diff"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_render_diff_orders_and_counts_files():
    rd = render_diff_module()
    base = {"service-a.yaml": "a: 1\n", "helm-redis/values.yaml": "tag: 1\n", "helm-redis/release.yaml": "v: 1\n",
            "helm-redis/statefulset-redis-node.yaml": "image: r:1\n", "helm-redis/gone.yaml": "x\n"}
    head = {"service-a.yaml": "a: 1\n", "helm-redis/values.yaml": "tag: 2\n", "helm-redis/release.yaml": "v: 1\n",
            "helm-redis/statefulset-redis-node.yaml": "image: r:2\n", "zz-new.yaml": "n: 1\n"}
    files = rd.diff_files("prod", base, head)
    assert [(f.path, f.status, f.plus, f.minus) for f in files] == [
        ("zz-new.yaml", "added", 1, 0),
        ("helm-redis/values.yaml", "changed", 1, 1),
        ("helm-redis/gone.yaml", "removed", 0, 1),
        ("helm-redis/statefulset-redis-node.yaml", "changed", 1, 1),
    ]
    assert rd.object_count(base) == 3 and rd.object_count(head) == 3  # values and options are not objects
    assert files[1].lines[:2] == ["--- base/prod/helm-redis/values.yaml", "+++ head/prod/helm-redis/values.yaml"]


def test_render_diff_summary_is_size_limited_and_fence_safe():
    rd = render_diff_module()
    big = rd.FileDiff("helm-redis/configmap-big.yaml", "changed", ["--- a", "+++ b", *[f"+line {i}" for i in range(1000)]])
    tricky = rd.FileDiff("configmap-md.yaml", "changed", ["--- a", "+++ b", "+text: '````diff'", "-x"])
    diffs = [rd.StackDiff("prod", 2, 2, [tricky, big])]
    text = rd.summary(diffs, max_chars=100_000, max_file_lines=50)
    assert "`````diff\n" in text  # a longer fence than the content's backticks
    assert "… 952 more lines in render-diff.patch" in text and "+line 47" in text and "+line 48" not in text
    bare = len(rd.summary(diffs, max_chars=0))  # counts and tables only
    small = rd.summary(diffs, max_chars=bare + 300, max_file_lines=50)
    assert len(small) <= bare + 300 and "| prod | 2 → 2 | 0 | 0 | 2 |" in small
    assert "+text: '````diff'" in small  # the small diff fits, the big one does not
    assert "`helm-redis/configmap-big.yaml`" in small  # the table keeps every file
    assert "1 file diff(s) not shown" in small and "+line 0" not in small


FAKE_RENDER = '''import argparse, pathlib, sys
p = argparse.ArgumentParser(); p.add_argument("--stack"); p.add_argument("--out", type=pathlib.Path)
a = p.parse_args()
src = pathlib.Path("objects") / a.stack
if not src.is_dir():
    print(f"render: bad config for {a.stack}", file=sys.stderr); sys.exit(1)
a.out.mkdir(parents=True)
for f in src.rglob("*.yaml"):
    (a.out / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
    (a.out / f.relative_to(src)).write_text(f.read_text())
(a.out / ".render").write_text("list\\n")
'''


def fake_tree(root: Path, objects: dict[str, dict[str, str]], stacks=("dev", "prod")) -> Path:
    """A source tree whose `python -m render` copies objects/<stack>/ (no program, no helm)."""
    (root / "render").mkdir(parents=True)
    (root / "render" / "__main__.py").write_text(FAKE_RENDER)
    for stack in stacks:
        (root / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    for stack, files in objects.items():
        for name, text in files.items():
            (root / "objects" / stack / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "objects" / stack / name).write_text(text)
    return root


def test_render_diff_main_renders_both_trees_and_fails_when_the_pr_cannot_render(tmp_path, capsys):
    rd = render_diff_module()
    base = fake_tree(tmp_path / "base", {"dev": {"a.yaml": "x: 1\n"}, "prod": {"a.yaml": "x: 1\n"}})
    head = fake_tree(tmp_path / "head", {"dev": {"a.yaml": "x: 2\n"}, "qa": {"a.yaml": "q: 1\n"}},
                     stacks=("dev", "prod", "qa"))
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")
    out = tmp_path / "out"
    rc = rd.main(["--base", str(base), "--head", str(head), "--out", str(out), "--summary", str(step_summary),
                  "--python", sys.executable])
    assert rc == 1  # prod does not render on the PR side
    text = (out / "summary.md").read_text()
    assert step_summary.read_text() == "earlier step\n" + text  # appended, never replaced
    assert "| dev | 1 → 1 | 0 | 0 | 1 |" in text and "| qa | — → 1 | 1 | 0 | 0 |" in text
    assert "**The PR's render fails:** <code>render: bad config for prod</code>" in text
    patch = (out / "render-diff.patch").read_text()
    assert "-x: 1\n+x: 2\n" in patch and "+++ head/qa/a.yaml" in patch
    assert (out / "base" / "dev" / "a.yaml").is_file() and (out / "head" / "qa" / "a.yaml").is_file()
    # An output folder with content is refused: render_diff never mixes two runs.
    assert rd.main(["--base", str(base), "--head", str(head), "--out", str(out), "--python", sys.executable]) == 2
    capsys.readouterr()


def test_render_diff_of_a_chart_image_change_shows_the_charts_statefulset(tmp_path):
    """The first render diff of a PR, for real: prod's Redis image tag changed. pulumi
    preview would show only the release's values; the render diff shows the StatefulSet
    the chart makes, and that dev did not change."""
    require_helm()
    rd = render_diff_module()
    base, head = copy_source_tree(tmp_path / "base"), copy_source_tree(tmp_path / "head")
    prod = head / "Pulumi.prod.yaml"
    assert "redisImageTag" not in prod.read_text()
    tag = "  redis-session-platform:redisImageTag: 8.2.2-debian-12-r0\n"
    prod.write_text(prod.read_text().replace("config:\n", "config:\n" + tag, 1))
    out = tmp_path / "out"
    assert rd.main(["--base", str(base), "--head", str(head), "--out", str(out), "--python", sys.executable]) == 0
    text = (out / "summary.md").read_text()
    # The summary leads with the worst impact (render/impact.py on the two renders).
    assert text.startswith("## Impact: **failover** (prod: StatefulSet petclinic/redis-node: every Redis node "
                           "restarts, the master included (spec.template.spec.containers); sessions stay on the volumes)")
    assert "| failover | `helm-redis/statefulset-redis-node.yaml` |" in text
    assert "### dev\nNo rendered object changes." in text
    # +2 -2: the Redis container and the acl-reload sidecar run the same image
    assert "| `helm-redis/values.yaml` | release values | changed +2 −2 |" in text
    assert "| `helm-redis/statefulset-redis-node.yaml` | chart | changed +2 −2 |" in text
    assert "+        image: docker.io/bitnamilegacy/redis:8.2.2-debian-12-r0" in text
    # the exporter rolls too: its session-counter sidecar runs the Redis image (a SCAN-counted store)
    assert "| restart | `deployment-redis-exporter.yaml` |" in text
    exporter_diff = text.split("deployment-redis-exporter.yaml</code>")[1]
    assert "+        image: docker.io/bitnamilegacy/redis:8.2.2-debian-12-r0" in exporter_diff
    assert re.search(r"\| prod \| (\d+) → \1 \| 0 \| 0 \| 3 \|", text), text


# --- image scan (issue 20): every image the render deploys, scanned; criticals fail -------

def test_image_scan_scans_every_image_the_render_deploys(tmp_path):
    import json
    jobs = load(PREVIEW)["jobs"]
    listing, scan = jobs["image-list"], jobs["image-scan"]
    list_step = next(s for s in listing["steps"] if s.get("id") == "list")
    assert ".venv/bin/python -m render.images" in list_step["run"] and '"$GITHUB_OUTPUT"' in list_step["run"]
    assert listing["outputs"]["targets"] == "${{ steps.list.outputs.targets }}"
    assert scan["needs"] == ["image-list"]
    assert scan["strategy"]["matrix"]["target"] == "${{ fromJSON(needs.image-list.outputs.targets) }}"
    (trivy,) = steps_using(scan, "aquasecurity/trivy-action@")
    assert trivy["with"]["image-ref"] == "${{ matrix.target.image }}"
    assert trivy["with"]["severity"] == "CRITICAL" and trivy["with"]["exit-code"] == "1"
    ignore = next(s for s in scan["steps"] if "trivyignore" in s.get("run", ""))
    assert ignore["env"]["ACCEPTED"] == "${{ matrix.target.acceptedCves }}"
    assert trivy["with"]["trivyignores"] in ignore["run"]

    # What the job runs, against every `image` of every stack's render, read independently.
    proc = subprocess.run([sys.executable, "-m", "render.images"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    targets = {t["image"]: t["acceptedCves"] for t in json.loads(proc.stdout)}
    rendered: set[str] = set()

    def strings_under_image(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "image" and isinstance(v, str):
                    rendered.add(v)
                strings_under_image(v)
        elif isinstance(node, list):
            for v in node:
                strings_under_image(v)

    for stack in stack_files():
        out = tmp_path / stack
        done = subprocess.run([sys.executable, "-m", "render", "--stack", stack, "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        for path in out.rglob("*.yaml"):
            for doc in yaml.safe_load_all(path.read_text()):
                strings_under_image(doc)
    assert set(targets) == rendered and len(rendered) >= 4, (sorted(targets), sorted(rendered))
    # The acknowledgement reaches only the Redis and Sentinel images; the others are scanned in full.
    stacks = {s: yaml.safe_load((ROOT / f"Pulumi.{s}.yaml").read_text())["config"] for s in stack_files()}
    acked = set.intersection(*(set(c.get("redis-session-platform:redisImageAcceptedCves", [])) for c in stacks.values()))
    for image, cves in targets.items():
        expected = acked if "/bitnamilegacy/redis" in image else set()
        assert set(filter(None, cves.split(","))) == expected, image


def test_certificate_renewals_are_previewed_weekly_with_preview_identities_only():
    wf = load(WORKFLOWS / "certificates.yml")
    assert set(wf["on"]) == {"schedule", "workflow_dispatch"} and wf["on"]["schedule"][0]["cron"].endswith("* * 1")
    [job] = wf["jobs"].values()
    expanded = {environment(job).replace("${{ matrix.stack }}", s) for s in job["strategy"]["matrix"]["stack"]}
    assert expanded == {"preview-dev", "preview-prod"}
    [run] = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions")]
    assert run["with"]["command"] == "preview" and run["with"]["refresh"] is False
