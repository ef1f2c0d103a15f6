"""The render command: layout, determinism, the chart's objects, secrets, and an output
folder it never deletes from unless it wrote there."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from render import MARKER, PULUMI_FILE, REDACTED, SECRET, RenderError, api_version_kind, render, render_stack
from tests.harness import ROOT, SECRET_SIG, Resource, Run, copy_source_tree
from tests.render.conftest import SLACK, SLACK_SECRET, Rendered
from tests.tools import require_helm


def test_render_writes_every_object_and_the_charts_deterministically(rendered: Rendered, tmp_path):
    ours = rendered.objects(chart=False)
    assert len(ours) == len(rendered.run.k8s_objects())
    for path, obj in rendered.objects():
        assert path.name == f"{obj['kind']}-{obj['metadata']['name']}.yaml".lower()
        assert obj.get("apiVersion") and obj["metadata"].get("name")
    tokens = {r.type for r in rendered.run.k8s_objects()}
    assert {f"kubernetes:{o['apiVersion'] if '/' in o['apiVersion'] else 'core/' + o['apiVersion']}:{o['kind']}"
            for _, o in ours} == tokens
    s = rendered.settings
    release = rendered.release
    assert (release["chart"], release["version"], release["namespace"]) == (s.redis.chart, s.redis.chart_version, s.namespace)
    assert "values" not in release and rendered.values["fullnameOverride"] == s.redis.release_name
    assert {p.parent.name for p, _ in rendered.objects(chart=True)} == {f"helm-{s.redis.release_name}"}
    _, again = render_stack(rendered.stack, tmp_path / "again", rendered.overrides, SLACK_SECRET)
    first = {p.relative_to(rendered.out): p.read_text() for p in rendered.paths}
    assert first == {p.relative_to(tmp_path / "again"): p.read_text() for p in again}
    assert all(p.read_text() == yaml.safe_dump(yaml.safe_load(p.read_text()), sort_keys=True) for p in rendered.paths)


def test_api_version_and_kind_come_from_the_type_token():
    assert api_version_kind("kubernetes:core/v1:Secret") == ("v1", "Secret")
    assert api_version_kind("kubernetes:apps/v1:Deployment") == ("apps/v1", "Deployment")
    assert api_version_kind("kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig") == \
        ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")
    with pytest.raises(ValueError, match="not a Kubernetes object"):
        api_version_kind("random:index/randomPassword:RandomPassword")


def _secret(value):
    return {SECRET_SIG[0]: SECRET_SIG[1], "value": value}


def test_render_handles_any_declared_object(tmp_path):
    """Unknown kinds, same kind+name in two namespaces, secrets anywhere."""
    meta = lambda name, ns: {"name": name, "namespace": ns}
    run = Run(resources=[
        Resource("kubernetes:example.com/v1beta1:Widget", "w", {"metadata": meta("w", "a"), "spec": {"size": 3.0}}, True),
        Resource("kubernetes:core/v1:ConfigMap", "c1", {"metadata": meta("same", "a"), "data": {"k": _secret("s1")}}, True),
        Resource("kubernetes:core/v1:ConfigMap", "c2", {"metadata": meta("same", "b")}, True),
        Resource("kubernetes:core/v1:Secret", "s", {"apiVersion": "v1", "kind": "Secret", "metadata": meta("s", "a"),
                                                    "data": _secret({"b": "czI=", "a": "czM="})}, True),
        Resource("my:index:Component", "comp", {}, False),
        Resource("kubernetes:core/v1:ServiceAccount", "auto-named", {"metadata": {"namespace": "a"}}, True),
    ])
    paths = render(run, tmp_path / "out")
    files = {p.name: yaml.safe_load(p.read_text()) for p in paths}
    assert sorted(files) == ["configmap-a-same.yaml", "configmap-b-same.yaml", "secret-s.yaml",
                             "serviceaccount-auto-named.yaml", "widget-w.yaml"]
    assert files["widget-w.yaml"] == {"apiVersion": "example.com/v1beta1", "kind": "Widget",
                                      "metadata": meta("w", "a"), "spec": {"size": 3}}
    assert files["configmap-a-same.yaml"]["data"] == {"k": SECRET}
    assert files["secret-s.yaml"]["data"] == {"a": REDACTED, "b": REDACTED}
    assert not any(s in p.read_text() for p in paths for s in ("s1", "czI="))


# ------------------------------------------------------------ the output folder
def test_render_refuses_a_folder_it_did_not_make_and_deletes_nothing(tmp_path):
    """`--out .` in a clone used to delete Pulumi.yaml and both stack files."""
    clone = copy_source_tree(tmp_path / "clone")
    before = {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()}
    for out in (".", "docs", "Pulumi.yaml"):
        proc = subprocess.run([sys.executable, "-m", "render", "--stack", "dev", "--out", out], cwd=clone,
                              capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(clone), "PATH": "",
                                   "PYTHONDONTWRITEBYTECODE": "1"})
        assert proc.returncode == 1 and "was not made by render" in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1
    assert {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()} == before


def test_render_replaces_only_the_files_it_wrote(tmp_path):
    require_helm()
    out = tmp_path / "out"
    render_stack("prod", out)
    (out / "notes.txt").write_text("mine")
    (out / "helm-redis" / "mine.yaml").write_text("kind: Mine\n")
    stale = out / "deployment-shop.yaml"
    render_stack("prod", out, {"wasApps": [{"name": "shop", "image": "r/shop:1.0", "minReplicas": 3}]})
    assert stale.exists()
    paths = render_stack("prod", out)[1]
    assert not stale.exists(), "a file render wrote and no longer writes is removed"
    assert (out / "notes.txt").read_text() == "mine" and (out / "helm-redis" / "mine.yaml").exists()
    # The objects render returns, and the Pulumi resources behind them (not an object).
    assert sorted((out / MARKER).read_text().splitlines()[1:]) == sorted([*(str(p.relative_to(out)) for p in paths),
                                                                          PULUMI_FILE])


def test_render_without_helm_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    import render as render_module
    from render.__main__ import main

    monkeypatch.setenv("HELM", str(tmp_path / "no-helm"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(render_module.sys, "prefix", str(tmp_path))
    assert main(["--stack", "dev", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("render: helm not found: run bash scripts/install-helm.sh") and err.count("\n") == 1


def test_a_chart_version_without_a_vendored_copy_is_refused(tmp_path):
    with pytest.raises(RenderError, match=r"no vendored chart charts/redis-23.2.0.tgz"):
        render_stack("dev", tmp_path / "o", {"redisChartVersion": "23.2.0"})


def test_render_command_overrides_config(tmp_path):
    require_helm()
    proc = subprocess.run([sys.executable, "-m", "render", "--stack", "dev", "--set", "redisTopology=sentinel",
                           "--set", "slackChannel=#alerts", "--set-secret", f"slackWebhookUrl={SLACK_SECRET['slackWebhookUrl']}",
                           "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    values = yaml.safe_load((tmp_path / "o" / "helm-redis" / "values.yaml").read_text())
    assert values["architecture"] == "replication"
    assert (tmp_path / "o" / "helm-redis" / "statefulset-redis-node.yaml").exists()
    assert SLACK["slackChannel"] in (tmp_path / "o" / "alertmanagerconfig-redis-session-platform.yaml").read_text()


def test_render_command_speaks_the_clis_path_and_json(tmp_path):
    """--path edits one field of the stack file's app (its other fields stay); --json sets a
    structured key whole (tools/pulumi_cli.py: config set --path, set-all --json)."""
    require_helm()
    proc = subprocess.run([sys.executable, "-m", "render", "--stack", "prod", "--path", "wasApps[0].minReplicas", "4",
                           "--json", 'thresholds={"fragmentationWarning": 1.7}', "--out", str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    deployment = yaml.safe_load((tmp_path / "o" / "deployment-petclinic.yaml").read_text())
    hpa = yaml.safe_load((tmp_path / "o" / "horizontalpodautoscaler-petclinic.yaml").read_text())
    assert deployment["spec"]["replicas"] == 4 and hpa["spec"]["minReplicas"] == 4
    assert hpa["spec"]["maxReplicas"] == 10  # prod's own maxReplicas, kept by the path edit
    rules = (tmp_path / "o").glob("prometheusrule-*.yaml")
    assert any("1.7" in p.read_text() for p in rules)
