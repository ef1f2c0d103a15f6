"""Offline render: every Kubernetes object a stack declares, as YAML, plus the values each
Helm release receives. The offline twin of `pulumi preview`: review or diff a change
without a cluster (`python -m render --stack prod --out rendered/prod`)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from render.mockrun import Run, is_secret, run_program

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


def manifest(inputs: dict) -> dict:
    """A Kubernetes object from a resource's inputs; Secret data redacted."""
    obj = _scrub(inputs)
    if obj.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if field in obj:
                obj[field] = {k: REDACTED for k in inputs_plain_keys(inputs[field])}
    return obj


def inputs_plain_keys(value: Any) -> list[str]:
    """Keys of a (possibly secret-wrapped) map."""
    while is_secret(value):
        value = value["value"]
    return sorted(value) if isinstance(value, dict) else []


def _file_name(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join(parts)).lower() + ".yaml"


def render(run: Run, out: Path) -> list[Path]:
    """Write one YAML file per object and two per Helm release; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.yaml"):
        stale.unlink()
    written = []
    for r in run.k8s_objects():
        obj = manifest(r.inputs)
        meta = obj.get("metadata", {})
        path = out / _file_name(obj["kind"], meta.get("namespace", "cluster"), meta.get("name", r.name))
        path.write_text(yaml.safe_dump(obj, sort_keys=True))
        written.append(path)
    for r in run.of_type("kubernetes:helm.sh/v3:Release"):
        release = _scrub(r.inputs)
        values = release.pop("values", {})
        base = _file_name("helm", release["name"])[: -len(".yaml")]
        (out / f"{base}.values.yaml").write_text(yaml.safe_dump(values, sort_keys=True))
        (out / f"{base}.release.yaml").write_text(yaml.safe_dump(release, sort_keys=True))
        written += [out / f"{base}.values.yaml", out / f"{base}.release.yaml"]
    return written


def render_stack(stack: str, out: Path, overrides: dict | None = None) -> tuple[Run, list[Path]]:
    """Run the program for a stack and render it; raises the program's error."""
    run = run_program(stack, overrides)
    if run.error is not None:
        raise run.error
    return run, render(run, out)
