"""Offline render: every Kubernetes object a stack declares, as YAML, including every
object each Helm release's chart creates (`helm template` on the vendored chart, charts/).
The offline twin of `pulumi preview`: review or diff a change without a cluster
(`python -m render --stack prod --out rendered/prod`).

Layout of an output folder:
  <kind>-<name>.yaml                 objects the program declares
  helm-<release>/values.yaml         the values the release gets
  helm-<release>/release.yaml        chart, version, namespace and other release options
  helm-<release>/<kind>-<name>.yaml  objects the chart creates from those values
  pulumi-resources.yaml              the Pulumi resource (type, name, protect, retainOnDelete)
                                     behind each program file and release (not an object)
  .render                            the files render wrote (render only ever deletes these)
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from render.mockrun import ROOT, Resource, Run, is_secret, run_program

REDACTED = "<redacted>"
SECRET = "<secret>"
MARKER = ".render"
PULUMI_FILE = "pulumi-resources.yaml"
"""Not an object: the Pulumi resource and options behind each program file and release."""
CHARTS = ROOT / "charts"
HELM_TIMEOUT_SECONDS = 120


class RenderError(Exception):
    """A render that cannot be done; the message is one line."""


def _scrub(value: Any) -> Any:
    """Secret-wrapped values anywhere become a marker; numbers, which the engine's
    protobuf carries as doubles, become ints again where they are integral."""
    if is_secret(value):
        return SECRET
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def api_version_kind(type_token: str) -> tuple[str, str]:
    """`kubernetes:apps/v1:Deployment` -> (`apps/v1`, `Deployment`); core group -> `v1`."""
    provider, group_version, kind = type_token.split(":", 2)
    if provider != "kubernetes" or "/" not in group_version:
        raise ValueError(f"not a Kubernetes object type: {type_token}")
    group, version = group_version.rsplit("/", 1)
    return (version if group == "core" else f"{group}/{version}"), kind


def manifest(r: Resource) -> dict:
    """A Kubernetes object from a resource's type token and inputs; Secret data redacted."""
    api_version, kind = api_version_kind(r.type)
    if kind.endswith("Patch") and r.inputs.get("kind") == kind[: -len("Patch")]:
        kind = kind[: -len("Patch")]  # DeploymentPatch etc.: a partial object of the base kind
    obj = _scrub(r.inputs)
    for field, wanted in (("apiVersion", api_version), ("kind", kind)):
        if obj.get(field, wanted) != wanted:
            raise ValueError(f"{r.type} {r.name}: inputs say {field}={obj[field]!r}")
    obj.update(apiVersion=api_version, kind=kind)
    if kind == "Secret":
        for field in ("data", "stringData"):
            if field in obj:
                obj[field] = {k: REDACTED for k in inputs_plain_keys(r.inputs[field])}
    return obj


def inputs_plain_keys(value: Any) -> list[str]:
    """Keys of a (possibly secret-wrapped) map."""
    while is_secret(value):
        value = value["value"]
    return sorted(value) if isinstance(value, dict) else []


def _file_name(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join(parts)).lower() + ".yaml"


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False)


def _named_files(entries: list[tuple[dict, str, str]], folder: str = "") -> dict[str, dict]:
    """`<kind>-<name>.yaml`; where two objects share kind and name (different
    namespaces), both get `<kind>-<namespace>-<name>.yaml`."""
    short = [_file_name(obj["kind"], name) for obj, name, _ in entries]
    files: dict[str, dict] = {}
    for (obj, name, namespace), file_name in zip(entries, short, strict=True):
        if short.count(file_name) > 1:
            file_name = _file_name(obj["kind"], namespace, name)
        if folder + file_name in files:
            raise ValueError(f"two objects render to {folder + file_name}")
        files[folder + file_name] = obj
    return files


def object_files(run: Run) -> dict[str, dict]:
    """Every object the program declares. An object without metadata.name (Pulumi would
    auto-name it) is filed under its Pulumi resource name."""
    return {path: obj for path, (obj, _) in _program_objects(run).items()}


def _program_objects(run: Run) -> dict[str, tuple[dict, Resource]]:
    entries, resources = [], []
    for r in run.k8s_objects():
        obj = manifest(r)
        meta = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        entries.append((obj, str(meta.get("name") or r.name), str(meta.get("namespace") or "cluster")))
        resources.append(r)
    files = _named_files(entries)
    return {path: (obj, r) for (path, obj), r in zip(files.items(), resources, strict=True)}


def _release_folder(r: Resource) -> str:
    return _file_name("helm", str(r.inputs.get("name") or r.name))[: -len(".yaml")] + "/"


def pulumi_resources(run: Run) -> dict[str, dict]:
    """PULUMI_FILE: for each program object's file and each release folder, the Pulumi
    resource behind it (type, logical name) and its `protect` / `retainOnDelete` options:
    what `pulumi up` does with a change depends on them (render/impact.py)."""
    def entry(r: Resource) -> dict:
        return {"type": r.type, "name": r.name, "protect": r.protect, "retainOnDelete": r.retain_on_delete}
    out = {path: entry(r) for path, (_, r) in _program_objects(run).items()}
    out.update({_release_folder(r): entry(r) for r in run.resources if r.type.startswith("kubernetes:helm.sh/")})
    return out


# --------------------------------------------------------------------------- helm
def helm_binary() -> str:
    """helm from $HELM, the program's venv (scripts/install-helm.sh puts it there), or PATH."""
    for candidate in (os.environ.get("HELM"), str(Path(sys.prefix) / "bin" / "helm"), shutil.which("helm")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RenderError("helm not found: run bash scripts/install-helm.sh (or set HELM)")


def vendored_chart(chart: str, version: str) -> Path:
    """The vendored copy of a release's chart (charts/<name>-<version>.tgz)."""
    path = CHARTS / f"{chart.rstrip('/').rpartition('/')[2]}-{version}.tgz"
    if not path.is_file():
        raise RenderError(f"no vendored chart {path.relative_to(ROOT)} for {chart} {version}: add it (charts/README.md)")
    return path


def chart_objects(release: dict, values: dict, kube_version: str | None = None) -> list[dict]:
    """The objects `helm template` makes of the vendored chart with these values."""
    chart = vendored_chart(release["chart"], str(release["version"]))
    name = str(release.get("name") or "release")
    cmd = [helm_binary(), "template", name, str(chart), "--namespace", str(release.get("namespace") or "default"),
           "--values", "-"]
    if kube_version:
        cmd += ["--kube-version", kube_version]
    proc = subprocess.run(cmd, input=yaml.safe_dump(values), capture_output=True, text=True,
                          timeout=HELM_TIMEOUT_SECONDS)
    if proc.returncode != 0:
        raise RenderError(f"helm template {chart.name} failed: {' '.join(proc.stderr.split())}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if isinstance(doc, dict) and doc.get("kind")]


def release_files(run: Run, kube_version: str | None = None) -> dict[str, Any]:
    """`helm-<release>/values.yaml`, `helm-<release>/release.yaml` and one file per object
    the chart creates, for every Helm release."""
    files: dict[str, Any] = {}
    for r in run.resources:
        if not r.type.startswith("kubernetes:helm.sh/"):  # v3 Release; v4 Chart (a component)
            continue
        release = _scrub(r.inputs)
        values = release.pop("values", {})
        folder = _release_folder(r)
        if f"{folder}values.yaml" in files:
            raise ValueError(f"two Helm releases render to {folder}")
        files[f"{folder}values.yaml"] = values
        files[f"{folder}release.yaml"] = release
        objects = chart_objects(release, values, kube_version)
        entries = [(o, str(o["metadata"]["name"]), str(o["metadata"].get("namespace") or "cluster")) for o in objects]
        files.update(_named_files(entries, folder))
    return files


# ------------------------------------------------------------------------- output
def _check_out(out: Path) -> list[str]:
    """The files a previous render wrote into `out` (to replace), or [] for a new folder.
    Refuses a folder render did not create: it never deletes what it did not write."""
    if not out.exists():
        return []
    marker = out / MARKER
    if not out.is_dir() or not marker.is_file():
        raise RenderError(f"{out} exists and was not made by render (no {MARKER} file): "
                          "give a new folder, or one render made before")
    return [line for line in marker.read_text().splitlines() if line and not line.startswith("#")]


def render(run: Run, out: Path, kube_version: str | None = None) -> list[Path]:
    """Write one YAML file per object and per Helm release part into `out` (a new folder,
    or one render made: only the files it listed there are replaced); returns the paths."""
    previous = _check_out(out)
    files = {**object_files(run), **release_files(run, kube_version)}
    out.mkdir(parents=True, exist_ok=True)
    for name in previous:
        stale = (out / name).resolve()
        if stale.is_relative_to(out.resolve()) and stale.is_file():
            stale.unlink()
    for folder in sorted({(out / n).parent for n in previous}, reverse=True):
        if folder != out and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    for name, content in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(_dump(content))
    (out / PULUMI_FILE).write_text(_dump(pulumi_resources(run)))
    written = sorted([*files, PULUMI_FILE])
    (out / MARKER).write_text("# files written by python -m render; it deletes only these\n" + "\n".join(written) + "\n")
    return sorted(out / name for name in files)


def render_stack(stack: str, out: Path, overrides: dict | None = None,
                 secret_overrides: dict | None = None) -> tuple[Run, list[Path]]:
    """Run the program for a stack and render it; raises the program's error. A folder
    render may not write into is refused before anything runs."""
    _check_out(out)
    run = run_program(stack, overrides, secret_overrides=secret_overrides)
    if run.error is not None:
        raise run.error
    kube_version = next((str(v) for k, v in run.config.items() if k.endswith(":kubernetesVersion")), None)
    return run, render(run, out, kube_version)
