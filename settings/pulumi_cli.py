"""What the Pulumi CLI does with Pulumi.yaml and a stack file before any program runs,
restated from its source (pulumi/pulumi at 1b5949891b, 2026-08-21; the mock runtime
skips all of it). Used by the offline stack reader (render, tests, checklist), so a
config the CLI would refuse is refused here with the CLI's own message.

- Pulumi.yaml: `ValidateProject` (sdk/go/common/workspace/project.go: a non-empty
  `name`, then the JSON schema project.json, vendored as settings/project.schema.json)
  and `(*Project).Validate` (same file: not both `default` and `value`; an `array`
  declares `items`; a typed default must have its type; keys of other namespaces take
  only `value`).
- Stack file values: `config.Value.UnmarshalYAML` via `object.MarshalString`
  (sdk/go/common/resource/config/value.go, object.go): a YAML scalar becomes a string
  (numbers and booleans through JSON: `23.10` -> "23.1"), a map or list becomes a JSON
  "object" value, `{secure: ...}` a secure value. Stack files are parsed by yaml.v3
  (sdk/go/common/encoding/marshal.go), i.e. YAML 1.2: `no` is a string.
- `mergeConfig` (pkg/workspace/config.go): a declared key of the project namespace that
  is not on the stack and has neither `default` nor `value` is missing ("Stack 'dev' is
  missing configuration value 'x'"); one with a default gets it **as a plaintext value**
  (`createConfigValue`).
- then `validateStackConfigValues`/`validateStackConfigValue` (same file), for explicitly
  typed keys only: `secret: true` needs a secure value ("... must be encrypted as it's
  secret"), and the value must pass `ValidateConfigValue` (project.go: integer accepts
  ints, whole floats and strconv.Atoi strings; boolean true/false or "true"/"false";
  object a map; array each item by `items`).
"""
from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML

SCHEMA_FILE = Path(__file__).with_name("project.schema.json")


class PulumiCliError(Exception):
    """A refusal the Pulumi CLI itself prints before the program runs."""


@dataclass(frozen=True)
class ConfigValue:
    """config.Value: the text, whether it is secure (ciphertext), whether it is JSON."""

    text: str
    secure: bool = False
    object: bool = False


def load_yaml(text: str) -> Any:
    """YAML 1.2 core schema, as yaml.v3 reads it (`no` and `on` stay strings)."""
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


# ------------------------------------------------------------------------ project
def validate_project(project: Any) -> None:
    """ValidateProject + (*Project).Validate; raises PulumiCliError."""
    if not isinstance(project, dict):
        raise PulumiCliError(f"expected project to be an object, was '{type(project).__name__}'")
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise PulumiCliError("project is missing a non-empty string 'name' attribute")
    schema = json.loads(SCHEMA_FILE.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(project), key=lambda e: list(e.path))
    if errors:  # like the CLI, report each error with its causes (the branches of a oneOf)
        raise PulumiCliError("; ".join(
            f"#/{'/'.join(map(str, e.path))}: " + "; ".join([e.message] + [c.message for c in e.context or []])
            for e in errors))
    for key, decl in (project.get("config") or {}).items():
        if not isinstance(decl, dict):
            continue  # a bare value: the key's value, not a declaration
        if "default" in decl and "value" in decl:
            raise PulumiCliError(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
        typed = decl.get("type") is not None
        if ":" not in key or key.startswith(name + ":"):
            if typed and decl["type"] == "array" and decl.get("items") is None:
                raise PulumiCliError(f"The configuration key '{key}' declares an array but does not specify the "
                                     "underlying type via the 'items' attribute")
            if typed and decl.get("default") is not None and \
                    not validate_config_value(decl["type"], decl.get("items"), decl["default"]):
                raise PulumiCliError(f"The default value specified for configuration key '{key}' is not of the "
                                     f"expected type '{full_type_name(decl['type'], decl.get('items'))}'")
        elif typed:
            raise PulumiCliError(f"Configuration key '{key}' is not namespaced by the project and should not define a type")


def full_type_name(type_name: str, items: dict | None) -> str:
    """InferFullTypeName."""
    return f"array<{full_type_name(items['type'], items.get('items'))}>" if items else type_name


def validate_config_value(type_name: str, items: dict | None, value: Any) -> bool:
    """ValidateConfigValue (sdk/go/common/workspace/project.go)."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return True
        if isinstance(value, float) and math.isfinite(value) and value == math.trunc(value):
            return True
        return isinstance(value, str) and _atoi(value)
    if type_name == "boolean":
        return value in ("true", "false") or isinstance(value, bool)
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(validate_config_value(items["type"], items.get("items"), v) for v in value)


def _atoi(text: str) -> bool:
    # strconv.Atoi: optional sign, decimal digits, fits in int64.
    return bool(re.fullmatch(r"[+-]?\d+", text)) and -(2**63) <= int(text) < 2**63


# --------------------------------------------------------------------- stack file
def _go_json(value: Any) -> str:
    """encoding/json output for the decoded YAML: sorted keys, whole floats without '.0'.
    (Go's encoder refuses NaN and infinities; they are passed on here so that the
    program's own check names the key.)"""
    def norm(v: Any) -> Any:
        if isinstance(v, float) and math.isfinite(v) and v == math.trunc(v) and abs(v) < 1e21:
            return int(v)
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v
    return json.dumps(norm(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_value(raw: Any) -> ConfigValue:
    """One stack-file value as config.Value (object.MarshalString)."""
    if isinstance(raw, dict) and set(raw) == {"secure"} and isinstance(raw["secure"], str):
        return ConfigValue(raw["secure"], secure=True)
    if isinstance(raw, str):
        return ConfigValue(raw)
    if isinstance(raw, (bool, int, float)):
        return ConfigValue(_go_json(raw))
    return ConfigValue(_go_json(raw), secure=_has_secure(raw), object=True)


def _has_secure(raw: Any) -> bool:
    if isinstance(raw, dict):
        return set(raw) == {"secure"} or any(_has_secure(v) for v in raw.values())
    return isinstance(raw, list) and any(_has_secure(v) for v in raw)


def read_stack_file(text: str, project: str) -> dict[str, ConfigValue]:
    """`config:` of a stack file -> `<namespace>:<key>` -> ConfigValue (bare keys get the project)."""
    doc = load_yaml(text) or {}
    out: dict[str, ConfigValue] = {}
    for key, raw in (doc.get("config") or {}).items():
        out[key if ":" in key else f"{project}:{key}"] = config_value(raw)
    return out


# -------------------------------------------------------------------------- merge
def create_config_value(raw: Any) -> ConfigValue:
    """createConfigValue: string/int/bool defaults as plaintext text, anything else as JSON."""
    if isinstance(raw, bool):
        return ConfigValue("true" if raw else "false")
    if isinstance(raw, (str, int)):
        return ConfigValue(str(raw))
    return ConfigValue(_go_json(raw), object=True)


def merge_config(project: dict, stack: str, values: dict[str, ConfigValue],
                 decrypt=lambda key, v: v.text) -> dict[str, ConfigValue]:
    """mergeConfig with validate=true: the stack's values with project defaults applied;
    raises PulumiCliError as the CLI does. `decrypt(key, value)` gives a secure value's
    plaintext (offline: a fake)."""
    name = project["name"]
    merged = dict(values)
    missing = []
    for key in sorted(project.get("config") or {}):
        decl = project["config"][key]
        decl = decl if isinstance(decl, dict) else {"value": decl}
        full = key if ":" in key else f"{name}:{key}"
        if full in merged:
            continue
        has_default, has_value = decl.get("default") is not None, decl.get("value") is not None
        if not has_default and not has_value and full.partition(":")[0] == name:
            missing.append(key)
        elif has_default or has_value:
            merged[full] = create_config_value(decl["default"] if has_default else decl["value"])
    if missing:
        quoted = [f"'{k}'" for k in sorted(missing)]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        raise PulumiCliError(f"Stack '{stack}' is missing configuration value{'s' if len(missing) > 1 else ''} {listed}")
    for key in sorted(project.get("config") or {}):
        decl = project["config"][key]
        if not isinstance(decl, dict) or decl.get("type") is None:
            continue  # only explicitly typed keys are validated
        full = key if ":" in key else f"{name}:{key}"
        value = merged[full]
        if decl.get("secret") and not value.secure:
            raise PulumiCliError(f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret")
        content: Any = decrypt(full, value) if value.secure else value.text
        if value.object:
            content = json.loads(content)
        if not validate_config_value(decl["type"], decl.get("items"), content):
            raise PulumiCliError(f"Stack '{stack}' with configuration key '{key}' must be of type "
                                 f"'{full_type_name(decl['type'], decl.get('items'))}'")
    return merged
