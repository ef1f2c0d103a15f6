"""Every rendered object, the program's and the chart's, judged by real tools and by the
project's security standard (docs/security.md): kubernetes-validate --strict, the
prometheus-operator models, checkov, Pod Security "restricted". Each check walks whatever
objects a variant renders: a new component or chart object is judged without touching
this file."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from components.config import acl, names
from components.exporter import SENTINEL_EXPORTER_PORT
from components.redis import chart_values
from tests.chart_keys import load_chart_keys, unknown_keys
from tests.harness import FAKE_PASSWORD, FAKE_PRIVATE_KEY, ROOT, STACKS, load_settings
from tests.render.conftest import WEBHOOK, Rendered
from tests.render.test_chart import pods, selects
from tests.tools import require

FAKE_PRIVATE_KEY_MARK = FAKE_PRIVATE_KEY.splitlines()[1]
PROMETHEUS_OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "AlertmanagerConfig"}

# checkov checks waived on purpose; each justification is repeated in docs/security.md.
CHECKOV_SKIPS = {
    "CKV_K8S_43": "images are pinned by tag (config rejects untagged and latest); append @sha256 in config to pin digests",
    "CKV_K8S_15": "imagePullPolicy IfNotPresent with pinned tags keeps pods restartable during a registry outage",
}


def is_builtin(obj: dict) -> bool:
    """Built-in API groups: core, dot-less (apps, batch, policy, autoscaling) or *.k8s.io."""
    group = obj["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


# ---------------------------------------------------------------- no secret leaks
def test_no_secret_value_in_any_rendered_file(rendered: Rendered):
    for path in rendered.paths:
        text = path.read_text()
        assert FAKE_PASSWORD not in text and FAKE_PRIVATE_KEY_MARK not in text, path.name
        assert acl.password_hash(FAKE_PASSWORD) not in text, path.name  # not even the hashes
        assert WEBHOOK not in text and "SECRETXYZ" not in text, path.name
    secrets = rendered.of_kind("Secret")
    assert len(secrets) >= 3  # at least: redis password, exporter password file, slack webhook
    for s in secrets:
        data = {**s.get("data", {}), **s.get("stringData", {})}
        assert data and set(data.values()) == {"<redacted>"}, s["metadata"]["name"]


# ---------------------------------------------------------------- schema judges
def kubernetes_validate_version(wanted: str, available: list[str]) -> str:
    """The exact version string kubernetes-validate ships for a `1.33`-style minor."""
    found = [v for v in available if v == wanted or v.startswith(wanted + ".")]
    if not found:
        pytest.fail(f"kubernetesVersion {wanted} is not one kubernetes-validate ships schemas for "
                    f"({available[0]}..{available[-1]}): change the stack's kubernetesVersion or the "
                    "kubernetes-validate pin in requirements-tools.txt")
    return found[0]


def _tool_python(tool: str) -> str:
    """The interpreter of a console script (its shebang), to ask the package itself."""
    first = Path(tool).read_text().splitlines()[0]
    return first[2:].strip() if first.startswith("#!") else sys.executable


@pytest.fixture(scope="module")
def kubernetes_validate():
    tool = require("kubernetes-validate")
    proc = subprocess.run([_tool_python(tool), "-c", "from kubernetes_validate.utils import all_versions; "
                           "print(' '.join(all_versions()))"], capture_output=True, text=True, check=True)
    return tool, sorted(set(proc.stdout.split()), key=lambda v: tuple(int(x) for x in v.split(".")))


def test_an_unshipped_kubernetes_version_fails_clearly():
    with pytest.raises(pytest.fail.Exception, match=r"kubernetesVersion 1.20 is not one kubernetes-validate ships"):
        kubernetes_validate_version("1.20", ["1.25.0", "1.37.0"])
    assert kubernetes_validate_version("1.33", ["1.25.0", "1.33.0", "1.37.0"]) == "1.33.0"


@pytest.mark.judge
def test_every_builtin_object_passes_kubernetes_validate_strict(rendered: Rendered, kubernetes_validate):
    tool, available = kubernetes_validate
    version = kubernetes_validate_version(rendered.settings.kubernetes_version, available)
    files = [str(p) for p, o in rendered.objects() if is_builtin(o)]
    assert len([p for p in files if "/helm-" in p]) >= 7 and len(files) >= 17  # the chart's and ours
    proc = subprocess.run([tool, "--strict", "-k", version, "--quiet", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.judge
def test_kubernetes_validate_rejects_an_unknown_field(tmp_path, kubernetes_validate):
    tool, available = kubernetes_validate
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                               "spec": {"ports": [{"port": 80, "targetPortt": 8080}]}}))
    proc = subprocess.run([tool, "--strict", "-k", available[-1], str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "targetPortt" in proc.stdout + proc.stderr


def _crd_check(files: list[str]) -> subprocess.CompletedProcess:
    python = ROOT / ".venv-tools" / "bin" / "python"  # where requirements-tools.txt installs cloudcoil
    if not python.exists():
        require(str(python))
    return subprocess.run([str(python), str(Path(__file__).with_name("crd_check.py")), *files],
                          capture_output=True, text=True)


@pytest.mark.judge
def test_custom_resources_match_prometheus_operator_models(rendered: Rendered):
    custom = [(str(p), o["kind"]) for p, o in rendered.objects() if not is_builtin(o)]
    assert {kind for _, kind in custom} >= PROMETHEUS_OPERATOR_KINDS
    proc = _crd_check([p for p, _ in custom])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.judge
def test_crd_check_rejects_a_misspelt_field(rendered: Rendered, tmp_path):
    [monitor] = [p for p, o in rendered.objects() if o["kind"] == "PodMonitor"][:1]
    bad = tmp_path / "bad.yaml"
    bad.write_text(monitor.read_text().replace("podMetricsEndpoints", "podMetricEndpoints"))
    proc = _crd_check([str(bad), str(monitor)])
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [f"{bad}: spec.podMetricEndpoints: Extra inputs are not permitted"]


# ---------------------------------------------------------------- checkov
CHECKOV_POD_PARENTS = {"Deployment", "DeploymentConfig", "DaemonSet", "Job", "ReplicaSet", "ReplicationController",
                       "StatefulSet"}


@pytest.fixture(scope="session")
def checkov_report(rendered: Rendered):
    """checkov once per variant over the whole folder (ours and the chart's), with no skips:
    waived results are counted as skipped."""
    tool = require("checkov")
    proc = subprocess.run([tool, "-d", str(rendered.out), "--framework", "kubernetes", "--skip-download", "--compact",
                           "-o", "json"], capture_output=True, text=True, timeout=900)
    report = json.loads(proc.stdout)
    return rendered, report[0] if isinstance(report, list) else report


@pytest.mark.judge
def test_checkov_has_no_failed_checks(checkov_report):
    rendered, report = checkov_report
    summary, results = report["summary"], report.get("results", {})
    failures = [(f["check_id"], f["resource"], f["file_path"]) for f in results.get("failed_checks", [])]
    failed = [f for f in failures if f[0] not in CHECKOV_SKIPS]
    skipped = [f for f in failures if f[0] in CHECKOV_SKIPS]
    chart_results = [f for f in results.get("passed_checks", []) + results.get("failed_checks", [])
                     if "/helm-" in f["file_path"]]
    print(f"\ncheckov {rendered.variant}: passed={summary['passed']} failed={len(failed)} skipped={len(skipped)} "
          f"({', '.join(f'{c} x{sum(1 for s in skipped if s[0] == c)}' for c in CHECKOV_SKIPS)}) "
          f"resources={summary['resource_count']} chart results={len(chart_results)} "
          f"(checkov {summary['checkov_version']})")
    assert summary["parsing_errors"] == 0
    # checkov read every object (it skips what it cannot parse, silently): one resource per
    # object plus the Pod it derives from each workload (checkov's SUPPORTED_POD_CONTAINERS_TYPES).
    objs = rendered.objects()
    derived = sum(1 for _, o in objs if o["kind"] in CHECKOV_POD_PARENTS)
    assert summary["resource_count"] == len(objs) + derived
    assert len(chart_results) > 50, "checkov judged the chart's objects too"
    assert failed == [], "\n".join(f"{c} {r} {p}" for c, r, p in failed)


def test_security_doc_lists_exactly_the_skips():
    doc = (ROOT / "docs" / "security.md").read_text()
    listed = {line.split("`")[1] for line in doc.splitlines() if line.startswith("| `CKV")}
    assert listed == set(CHECKOV_SKIPS)
    for check, why in CHECKOV_SKIPS.items():
        assert f"| `{check}` | {why} |" in doc, check


# ---------------------------------------------------------------- Pod Security "restricted"
# The "restricted" profile, restated from k8s.io/pod-security-admission policy/ (check_*.go):
# baseline + volume types, no privilege escalation, runAsNonRoot, non-zero runAsUser,
# seccomp RuntimeDefault/Localhost, capabilities drop ALL (add only NET_BIND_SERVICE).
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}


def restricted_violations(name: str, spec: dict) -> list[str]:
    found = []
    pod_sc = spec.get("securityContext", {})
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            found.append(f"{name}: {key}")
    if spec.get("hostUsers") is False:
        pass  # user namespaces are allowed
    for v in spec.get("volumes", []):
        if set(v) - {"name"} - RESTRICTED_VOLUMES:
            found.append(f"{name}: volume {v['name']} of a restricted type")
    for c in spec["containers"] + spec.get("initContainers", []) + spec.get("ephemeralContainers", []):
        where = f"{name}/{c['name']}"
        sc = c.get("securityContext", {})
        if sc.get("privileged"):
            found.append(f"{where}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where}: allowPrivilegeEscalation not false")
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            found.append(f"{where}: runAsNonRoot not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            found.append(f"{where}: runAsUser 0")
        seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{where}: seccompProfile")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []) or set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{where}: capabilities")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            found.append(f"{where}: hostPort")
    return found


def test_every_pod_meets_pod_security_restricted(rendered: Rendered):
    workloads = pods(rendered)
    assert len([w for w, _, _ in workloads if w["kind"] == "StatefulSet"]) == 1
    violations = [v for w, _, spec in workloads for v in restricted_violations(w["metadata"]["name"], spec)]
    assert violations == []


def test_the_restricted_check_can_fail():
    spec = {"containers": [{"name": "c", "securityContext": {"runAsUser": 0}, "ports": [{"hostPort": 80}]}],
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}], "hostNetwork": True}
    assert len(restricted_violations("p", spec)) == 8


def test_every_pod_also_meets_the_projects_standard(rendered: Rendered):
    """Beyond restricted (docs/security.md): read-only root, high UID, resources on every
    container, no token, images pinned, no secret in an env value, a writable data volume."""
    for w, _, spec in pods(rendered):
        name = w["metadata"]["name"]
        pod_sc = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, name
        for c in spec["containers"] + spec.get("initContainers", []):
            where = f"{name}/{c['name']}"
            sc = c.get("securityContext", {})
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser")) >= 10000, where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), where
            image = c["image"].split("@")[0]
            repo, _, tag = image.rpartition(":")
            assert repo and tag and tag != "latest" and "/" not in tag, f"{where}: image {c['image']} not pinned"
            assert not any("value" in e and re.search("(PASSWORD|SECRET|TOKEN|KEY)$", e["name"])
                           and e["value"] not in ("yes", "no", "true", "false")
                           and not e["value"].startswith("file:") for e in c.get("env", [])), where
        if w["kind"] == "StatefulSet":  # incident 1: the data volume is group-owned by fsGroup
            assert pod_sc["fsGroup"] >= 10000 and pod_sc["fsGroupChangePolicy"] == "OnRootMismatch", name
            claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
            assert claims, f"{name}: no persistence"


# ---------------------------------------------------------------- chart keys
def test_every_rendered_chart_key_exists_in_the_pinned_chart(rendered: Rendered):
    assert unknown_keys(rendered.values, load_chart_keys(rendered.release["version"])) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_chart_key_exists_for_config_variants(stack):
    s = load_settings(stack)
    for overrides in ({}, {"redisTopology": "standalone" if s.redis.topology == "sentinel" else "sentinel"},
                      {"redisTls": False,
                       "wasApps": [{"name": "a", "image": "r/a:1", "springBootMajor": 2, "minReplicas": 3}]}):
        v = load_settings(stack, overrides)
        assert unknown_keys(chart_values(v.redis.release_name, v.redis), load_chart_keys(v.redis.chart_version)) == []


def test_a_misspelt_chart_key_is_caught():
    s = load_settings("prod")
    values = chart_values(s.redis.release_name, s.redis)
    values["sentinel"]["downAfterMiliseconds"] = 5000
    values["networkPolicy"]["allowExternall"] = False
    assert unknown_keys(values, load_chart_keys(s.redis.chart_version)) == \
        ["networkPolicy.allowExternall", "sentinel.downAfterMiliseconds"]


# ---------------------------------------------------------------- NetworkPolicies
def test_exporter_admits_only_prometheus(rendered: Rendered):
    s = rendered.settings
    exporter = names.exporter(s.redis.release_name)
    [(w, labels, _)] = [p for p in pods(rendered, chart=False) if p[0]["metadata"]["name"] == exporter]
    allowed_ports = {names.EXPORTER_PORT} | ({SENTINEL_EXPORTER_PORT} if s.redis.topology == "sentinel" else set())
    only_prometheus = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": s.prometheus_namespace}}}]
    mine = [p for p in rendered.of_kind("NetworkPolicy") if selects(p["spec"]["podSelector"], labels)]
    rules = [rule for p in mine for rule in p["spec"].get("ingress", [])]
    assert rules and all("Ingress" in p["spec"]["policyTypes"] for p in mine)
    for rule in rules:
        assert rule.get("from") == only_prometheus, rule
        ports = {p["port"] for p in rule.get("ports", [])}
        assert names.EXPORTER_PORT in ports and ports <= allowed_ports, rule


def test_every_pod_has_an_ingress_policy(rendered: Rendered):
    policies = rendered.of_kind("NetworkPolicy")
    for w, labels, _ in pods(rendered):
        assert any(selects(p["spec"]["podSelector"], labels) and "Ingress" in p["spec"]["policyTypes"]
                   for p in policies), f"{w['metadata']['name']} has no NetworkPolicy"
