"""Read a stack's config offline, as the Pulumi CLI would hand it to the program:
project defaults from Pulumi.yaml, overlaid by Pulumi.<stack>.yaml. `secure:` values
cannot be decrypted offline and are replaced by a placeholder. Used by the mock harness,
the render command and the daily checklist."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pulumi
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
FAKE_SECRET_PREFIX = "fake-secret-for-"


def _to_config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def stack_config(stack: str, overrides: Optional[dict] = None, root: Path = ROOT) -> dict[str, str]:
    """`<project>:<key>` -> config string. `overrides` maps bare keys to values; None removes a key."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        if isinstance(decl, dict) and "default" in decl:
            values[key] = decl["default"]
        elif isinstance(decl, dict) and "value" in decl:
            values[key] = decl["value"]
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise FileNotFoundError(f"no stack file {stack_file.name}")
    for full_key, value in ((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}).items():
        namespace, _, key = full_key.partition(":")
        if namespace != project["name"]:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = FAKE_SECRET_PREFIX + key
        values[key] = value
    for key, value in (overrides or {}).items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return {f"{project['name']}:{k}": _to_config_string(v) for k, v in values.items()}


def load_settings(stack: str, overrides: Optional[dict] = None):
    """Parsed StackSettings of a stack file (raises ConfigError on bad values)."""
    from settings.config import load_from

    raw = stack_config(stack, overrides)
    get = lambda key: raw.get(f"{PROJECT}:{key}")  # noqa: E731
    secret = lambda key: pulumi.Output.secret(get(key)) if get(key) else None  # noqa: E731
    return load_from(get, secret, PROJECT, stack)
