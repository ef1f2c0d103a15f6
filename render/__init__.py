"""Offline render: every Kubernetes object a stack declares, as YAML, plus the values each
Helm release receives. The offline twin of `pulumi preview`: review or diff a change
without a cluster (`python -m render --stack prod --out rendered/prod`)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from render.mockrun import Resource, Run, is_secret, run_program

REDACTED = "<redacted>"
SECRET = "<secret>"


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


def object_files(run: Run) -> dict[str, dict]:
    """File name -> object: `<kind>-<name>.yaml`; where two objects share kind and name
    (different namespaces), both get `<kind>-<namespace>-<name>.yaml`. An object without
    metadata.name (Pulumi would auto-name it) is filed under its Pulumi resource name."""
    entries = []
    for r in run.k8s_objects():
        obj = manifest(r)
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        entries.append((obj, str(meta.get("name") or r.name), str(meta.get("namespace") or "cluster")))
    short = [_file_name(obj["kind"], name) for obj, name, _ in entries]
    files: dict[str, dict] = {}
    for (obj, name, namespace), file_name in zip(entries, short):
        if short.count(file_name) > 1:
            file_name = _file_name(obj["kind"], namespace, name)
        if file_name in files:
            raise ValueError(f"two objects render to {file_name}")
        files[file_name] = obj
    return files


def release_files(run: Run) -> dict[str, Any]:
    """`helm-<release>.values.yaml` (the values) and `helm-<release>.release.yaml` (chart,
    version, namespace and the other release options) for every Helm release."""
    files: dict[str, Any] = {}
    for r in run.resources:
        if not r.type.startswith("kubernetes:helm.sh/"):  # v3 Release; v4 Chart (a component)
            continue
        release = _scrub(r.inputs)
        values = release.pop("values", {})
        base = _file_name("helm", str(release.get("name") or r.name))[: -len(".yaml")]
        if f"{base}.values.yaml" in files:
            raise ValueError(f"two Helm releases render to {base}")
        files[f"{base}.values.yaml"] = values
        files[f"{base}.release.yaml"] = release
    return files


def render(run: Run, out: Path) -> list[Path]:
    """Write one YAML file per object and two per Helm release (replacing the folder's
    *.yaml); returns the paths, sorted."""
    files = {**object_files(run), **release_files(run)}
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.yaml"):
        stale.unlink()
    for name, content in files.items():
        (out / name).write_text(_dump(content))
    return sorted(out / name for name in files)


def render_stack(stack: str, out: Path, overrides: dict | None = None) -> tuple[Run, list[Path]]:
    """Run the program for a stack and render it; raises the program's error."""
    run = run_program(stack, overrides)
    if run.error is not None:
        raise run.error
    return run, render(run, out)
