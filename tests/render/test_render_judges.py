"""The rendered manifests of dev and prod, judged by real tools and by the project's
security standard (docs/security.md)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.redis import chart_values
from render import REDACTED, render_stack
from tests.harness import FAKE_PASSWORD, ROOT, STACKS, load_settings, run_program
from tests.tools import require

CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "AlertmanagerConfig"}
WEBHOOK = "https://hooks.slack.com/services/T0/B0/SECRETXYZ"
SLACK = {"slackChannel": "#alerts", "slackWebhookUrl": WEBHOOK}

# checkov checks skipped on purpose; each line is the justification docs/security.md repeats.
CHECKOV_SKIPS = {
    "CKV_K8S_43": "images are pinned by tag (config rejects untagged and latest); append @sha256 in config to pin digests",
    "CKV_K8S_15": "imagePullPolicy IfNotPresent with pinned tags keeps pods restartable during a registry outage",
}


@pytest.fixture(scope="module", params=STACKS)
def rendered(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"rendered-{request.param}")
    run, paths = render_stack(request.param, out, SLACK)
    return request.param, run, out, paths


def objects(out: Path) -> list[tuple[Path, dict]]:
    return [(p, yaml.safe_load(p.read_text())) for p in sorted(out.glob("*.yaml")) if not p.name.startswith("helm-")]


def test_render_writes_every_object_and_release_deterministically(rendered, tmp_path):
    stack, run, out, paths = rendered
    assert len([p for p in paths if not p.name.startswith("helm-")]) == len(run.k8s_objects())
    assert (out / "helm-redis.values.yaml").exists() and (out / "helm-redis.release.yaml").exists()
    release = yaml.safe_load((out / "helm-redis.release.yaml").read_text())
    assert release["chart"].startswith("oci://") and release["version"] == "23.1.1"
    _, again = render_stack(stack, tmp_path, SLACK)
    assert {p.name: p.read_text() for p in paths} == {p.name: p.read_text() for p in again}


@pytest.mark.parametrize("argv,message", [
    (["--stack", "dev", "--set", "redisTopology=cluster"], "stack config redisTopology='cluster' is invalid"),
    (["--stack", "staging"], "no stack file Pulumi.staging.yaml"),
    (["--stack", "dev", "--set", "redisTopology"], "--set takes KEY=VALUE"),
])
def test_render_command_reports_errors_in_one_line(argv, message, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "render", *argv, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []


def test_render_command_overrides_config(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "render", "--stack", "dev", "--set", "redisTopology=sentinel",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load((tmp_path / "helm-redis.values.yaml").read_text())["architecture"] == "replication"


def test_no_secret_value_in_any_rendered_file(rendered):
    _, run, out, _ = rendered
    assert run.error is None
    for path in out.glob("*.yaml"):
        text = path.read_text()
        assert FAKE_PASSWORD not in text, path.name
        assert WEBHOOK not in text, path.name
    secrets = [o for _, o in objects(out) if o["kind"] == "Secret"]
    assert len(secrets) == 3  # redis password, exporter password file, slack webhook
    for s in secrets:
        assert set(s["stringData"].values()) == {REDACTED}


@pytest.mark.judge
def test_core_objects_pass_kubernetes_validate_strict(rendered):
    stack, _, out, _ = rendered
    tool = require("kubernetes-validate")
    version = load_settings(stack).kubernetes_version + ".0"
    core = [str(p) for p, o in objects(out) if o["kind"] not in CRD_KINDS]
    assert len(core) >= 10
    proc = subprocess.run([tool, "--strict", "-k", version, "--quiet", *core], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.judge
def test_kubernetes_validate_rejects_an_unknown_field(tmp_path):
    tool = require("kubernetes-validate")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                                   "spec": {"ports": [{"port": 80, "targetPortt": 8080}]}}))
    proc = subprocess.run([tool, "--strict", "-k", "1.33.0", str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0


def _crd_check(files: list[str]) -> subprocess.CompletedProcess:
    python = ROOT / ".venv-tools" / "bin" / "python"  # where requirements-tools.txt installs cloudcoil
    if not python.exists():
        require(str(python))
    return subprocess.run([str(python), str(Path(__file__).with_name("crd_check.py")), *files],
                          capture_output=True, text=True)


@pytest.mark.judge
def test_custom_resources_match_prometheus_operator_models(rendered):
    _, _, out, _ = rendered
    crds = [str(p) for p, o in objects(out) if o["kind"] in CRD_KINDS]
    assert {yaml.safe_load(Path(p).read_text())["kind"] for p in crds} == CRD_KINDS
    proc = _crd_check(crds)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.judge
def test_crd_check_rejects_a_misspelt_field(rendered, tmp_path):
    _, _, out, _ = rendered
    [monitor] = [p for p, o in objects(out) if o["kind"] == "PodMonitor"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(monitor.read_text().replace("podMetricsEndpoints", "podMetricEndpoints"))
    proc = _crd_check([str(bad)])
    assert proc.returncode == 1 and "unknown field .spec.podMetricEndpoints" in proc.stdout


@pytest.mark.judge
def test_checkov_has_no_failed_checks(rendered):
    stack, _, out, _ = rendered
    tool = require("checkov")
    proc = subprocess.run([tool, "-d", str(out), "--framework", "kubernetes", "--skip-download", "--compact",
                           "--quiet", "-o", "json", "--skip-check", ",".join(CHECKOV_SKIPS)],
                          capture_output=True, text=True, timeout=600)
    report = json.loads(proc.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    failed = [(f["check_id"], f["resource"]) for f in report.get("results", {}).get("failed_checks", [])]
    print(f"checkov {stack}: {summary}")
    assert summary["parsing_errors"] == 0
    # checkov read every file: each object, plus the Pod it derives from each Deployment.
    deployments = sum(1 for _, o in objects(out) if o["kind"] == "Deployment")
    assert summary["resource_count"] == len(objects(out)) + deployments
    assert failed == []
    assert summary["passed"] > 100


def test_security_doc_lists_exactly_the_skips():
    doc = (ROOT / "docs" / "security.md").read_text()
    listed = {line.split("`")[1] for line in doc.splitlines() if line.startswith("| `CKV")}
    assert listed == set(CHECKOV_SKIPS)
    for check, why in CHECKOV_SKIPS.items():
        assert why in doc, check


def _pod_templates(out: Path):
    for _, o in objects(out):
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]


def test_our_pods_meet_pod_security_restricted(rendered):
    _, _, out, _ = rendered
    pods = dict(_pod_templates(out))
    assert set(pods) == {"petclinic", "redis-exporter"}
    for name, spec in pods.items():
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, name
        assert spec.get("automountServiceAccountToken") is False, name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert (sc.get("seccompProfile") or pod_sc.get("seccompProfile")) == {"type": "RuntimeDefault"}, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, name
            for kind in ("requests", "limits"):
                assert set(c["resources"][kind]) == {"cpu", "memory"}, name
            image, _, tag = c["image"].rpartition(":")
            assert image and tag and tag != "latest" and "/" not in tag, c["image"]
            assert not any("value" in e and "PASSWORD" in e["name"] for e in c.get("env", [])), name


@pytest.mark.parametrize("stack", STACKS)
def test_chart_pods_configured_to_the_same_standard(stack):
    values = chart_values(load_settings(stack).redis)
    groups = ["master"] if values["architecture"] == "standalone" else ["replica", "sentinel"]
    assert values["volumePermissions"]["enabled"] is False and values["sysctl"]["enabled"] is False
    for group in groups:
        g = values[group]
        sc = g["containerSecurityContext"]
        assert sc["enabled"] and sc["runAsNonRoot"] and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert sc["readOnlyRootFilesystem"] is True
        assert g["resourcesPreset"] == "none"
        assert set(g["resources"]["requests"]) == set(g["resources"]["limits"]) == {"cpu", "memory"}
        if group != "sentinel":
            assert g["podSecurityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
            assert g["automountServiceAccountToken"] is False


def _key_paths(values: dict, prefix: str = ""):
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _key_paths(value, path + ".")
        else:
            yield path


def unknown_chart_keys(values: dict, version: str) -> list[str]:
    lines = (ROOT / "tests" / "fixtures" / "bitnami-redis" / f"keys-{version}.txt").read_text().splitlines()
    keys = {line for line in lines if line and not line.startswith("#")}
    exact = {k for k in keys if not k.endswith(".*")}
    free = tuple(k[:-1] for k in keys if k.endswith(".*"))
    return [p for p in _key_paths(values) if p not in exact and not (p + ".").startswith(free)]


@pytest.mark.parametrize("stack", STACKS)
def test_every_chart_key_exists_in_the_pinned_chart(stack):
    s = load_settings(stack)
    assert unknown_chart_keys(chart_values(s.redis), s.redis.chart_version) == []
    indexed = load_settings(stack, {"wasApps": [{"name": "a", "image": "r/a:1", "springBootMajor": 2, "minReplicas": 3}]})
    assert unknown_chart_keys(chart_values(indexed.redis), s.redis.chart_version) == []


def test_a_misspelt_chart_key_is_caught():
    values = chart_values(load_settings("prod").redis)
    values["sentinel"]["downAfterMiliseconds"] = 5000
    values["master"] = {"resources": {"anything": {"goes": 1}}}  # free-form subtree
    assert unknown_chart_keys(values, "23.1.1") == ["sentinel.downAfterMiliseconds"]


def test_network_policies_admit_only_what_they_should(rendered):
    stack, run, out, _ = rendered
    values = yaml.safe_load((out / "helm-redis.values.yaml").read_text())
    assert values["networkPolicy"] == {"enabled": True, "allowExternal": False}  # chart: only labelled clients
    client = f"{values['fullnameOverride']}-client"
    pods = dict(_pod_templates(out))
    for _, o in objects(out):
        if o["kind"] == "Deployment":
            assert o["spec"]["template"]["metadata"]["labels"].get(client) == "true", o["metadata"]["name"]
    policies = {o["metadata"]["name"]: o["spec"] for _, o in objects(out) if o["kind"] == "NetworkPolicy"}
    exporter = policies["redis-exporter"]
    prometheus_ns = load_settings(stack).monitoring.prometheus_namespace
    assert exporter["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": prometheus_ns}}}],
        # 9122: the Sentinel exporter container (sentinel topology; components/exporter.py)
        "ports": [{"port": 9121, "protocol": "TCP"}]
        + ([{"port": 9122, "protocol": "TCP"}] if load_settings(stack).redis.topology == "sentinel" else [])}]
    assert policies["petclinic"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    assert set(pods) <= set(policies)  # every pod of ours has a policy
