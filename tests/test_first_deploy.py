"""README "First deploy" against the program: the resource counts per stack (a mock run of
each stack file, and `helm template` of the pinned chart for the objects inside the release),
the labels and selector values kube-prometheus-stack must match (read from the objects the
program makes), the node count the topology spread needs, the release's atomic/timeout and
name, and the kinds it says each step creates."""
import re
from collections import Counter

import pytest
import yaml

from render import _scrub, chart_objects
from tests.harness import ROOT, run_program

RELEASE = "kubernetes:helm.sh/v3:Release"
MONITORING = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "AlertmanagerConfig"}
SHORT = {"HorizontalPodAutoscaler": "HPA", "PodDisruptionBudget": "PDB"}


@pytest.fixture(scope="module")
def section() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^## First deploy\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "README has no '## First deploy' section"
    return m.group(1)


@pytest.fixture(scope="module")
def runs():
    # prod with Slack, so the AlertmanagerConfig exists (its Secret is not counted in the table)
    return {"dev": run_program("dev"), "prod": run_program("prod"),
            "prod+slack": run_program("prod", {"slackChannel": "#alerts"},
                                      secret_overrides={"slackWebhookUrl": "https://hooks.slack.com/services/T/B/x"})}


def chart(run) -> list[dict]:
    release = _scrub(run.one(RELEASE).inputs)
    return chart_objects(release, release.pop("values", {}))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_resource_counts_are_the_mock_runs(section, runs, stack):
    row = re.search(rf"^\| {stack} \|(.*)\|$", section, re.M)
    assert row, f"no table row for {stack}"
    shown = [int(x) for x in row.group(1).split("|")]
    run = runs[stack]
    kinds = Counter("reference" if r.type == "pulumi:pulumi:StackReference" else
                    "component" if not r.custom else r.type.split(":")[0] for r in run.resources)
    assert set(kinds) <= {"component", "kubernetes", "random", "tls", "reference"}, kinds
    assert shown == [len(run.resources), kinds["component"], kinds["kubernetes"], kinds["random"], kinds["tls"],
                     kinds["reference"], len(chart(run))]


def test_the_prometheus_stack_values_select_what_the_program_makes(section, runs):
    run = runs["prod+slack"]
    monitors = [r for r in run.resources if r.custom and r.kind in MONITORING]
    assert {r.kind for r in monitors} == MONITORING
    releases = {r.plain["metadata"]["labels"]["release"] for r in monitors}
    assert len(releases) == 1
    release = releases.pop()
    assert f"`release: {release}`" in section
    values = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))  # type: ignore[union-attr]
    spec = values["prometheus"]["prometheusSpec"]
    assert {k: spec[k] for k in ("serviceMonitorSelectorNilUsesHelmValues", "podMonitorSelectorNilUsesHelmValues",
                                 "ruleSelectorNilUsesHelmValues")} == dict.fromkeys(
        ("serviceMonitorSelectorNilUsesHelmValues", "podMonitorSelectorNilUsesHelmValues",
         "ruleSelectorNilUsesHelmValues"), False)
    am = values["alertmanager"]["alertmanagerSpec"]
    assert am["alertmanagerConfigSelector"] == {"matchLabels": {"release": release}}
    assert am["alertmanagerConfigMatcherStrategy"] == {"type": "OnNamespace"}
    dashboard = next(r for r in run.resources if r.kind == "ConfigMap" and r.name.startswith("redis-sessions-007"))
    meta = dashboard.plain["metadata"]
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    assert meta["labels"][sidecar["label"]] == sidecar["labelValue"] and sidecar["enabled"] is True
    assert sidecar["searchNamespace"] == meta["namespace"]
    assert f'`{sidecar["label"]}: "{sidecar["labelValue"]}"` in `grafanaNamespace` (default `{meta["namespace"]}`)' \
        in " ".join(section.split())


def test_the_node_count_is_what_the_topology_spread_needs(section, runs):
    values = runs["prod"].one(RELEASE).plain["values"]["replica"]
    hard = [c for c in values["topologySpreadConstraints"] if c["whenUnsatisfiable"] == "DoNotSchedule"]
    assert [(c["topologyKey"], c["maxSkew"]) for c in hard] == [("kubernetes.io/hostname", 1)]
    text = " ".join(section.split())
    assert "`maxSkew: 1` on `kubernetes.io/hostname` and `whenUnsatisfiable: DoNotSchedule`" in text
    pods = int(values["replicaCount"])  # protobuf numbers arrive as floats
    assert re.search(r"prod's Redis StatefulSet \((\d+) pods", text).group(1) == str(pods)  # type: ignore[union-attr]
    assert re.search(r"it needs (\d+) schedulable nodes", text).group(1) == str(pods)  # type: ignore[union-attr]
    soft = [c for c in values["topologySpreadConstraints"] if c not in hard]
    assert [c["whenUnsatisfiable"] for c in soft] == ["ScheduleAnyway"] and "zone spread is `ScheduleAnyway`" in text


def test_the_release_and_the_steps_are_the_programs(section, runs):
    text = " ".join(section.split())
    for stack in ("dev", "prod"):
        release = runs[stack].one(RELEASE).inputs
        assert f"the Helm release `{release['name']}`" in text
        assert f"`atomic: {str(release['atomic']).lower()}`, `timeout: {int(release['timeout'])}` s" in text
        assert f"`<namespace>/{release['name']}`" in text and f"status {release['name']}`" in text
    app = next(r.name for r in runs["dev"].resources if r.type.endswith(":WasApp"))
    kinds = [SHORT.get(r.kind, r.kind) for r in runs["dev"].resources if r.custom and r.name.startswith(f"{app}-")
             and r.kind != "Namespace"]
    step4 = re.search(r"each WAS app \(([^)]*)\)", text).group(1)  # type: ignore[union-attr]
    assert sorted(step4.split(", ")) == sorted(kinds)
    listed = re.search(r"The chart's objects \(([^)]*)\)", text).group(1)  # type: ignore[union-attr]
    chart_kinds = {o["kind"] for o in chart(runs["prod"])}
    assert {re.sub(r"s$", "", w.replace("prod's ", "")) for w in listed.replace(" and ", ", ").split(", ")} == chart_kinds
