"""What the Pulumi CLI does with Pulumi.yaml and a stack file before any program runs,
restated from its source (pulumi/pulumi at 1b5949891b, 2026-08-21; the mock runtime
skips all of it). Used by the offline stack reader (render, tests, checklist), so a
config the CLI would refuse is refused here with the CLI's own message.

- Pulumi.yaml: `ValidateProject` (sdk/go/common/workspace/project.go: a non-empty
  `name`, then the JSON schema project.json, vendored as tools/project.schema.json)
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
from ruamel.yaml.constructor import SafeConstructor

SCHEMA_FILE = Path(__file__).with_name("project.schema.json")


class PulumiCliError(Exception):
    """A refusal the Pulumi CLI itself prints before the program runs."""


@dataclass(frozen=True)
class ConfigValue:
    """config.Value: the text, whether it is secure (ciphertext), whether it is JSON."""

    text: str
    secure: bool = False
    object: bool = False


class _GoYamlConstructor(SafeConstructor):
    """yaml.v3 resolves ints with `strconv.ParseInt(plain, 0, 64)` (resolve.go, resolve): besides
    YAML 1.2's `0o440`, a YAML 1.1 octal `0440` is still 288 ("Octals from the 1.1 spec, spelled
    as 0777, are still decoded for compatibility"), as in a Kubernetes `defaultMode: 0440`."""

    def construct_yaml_int(self, node: Any) -> Any:
        text = str(self.construct_scalar(node)).replace("_", "")
        m = re.fullmatch(r"([-+]?)0([0-7]+)", text)
        if m:
            return (-1 if m.group(1) == "-" else 1) * int(m.group(2), 8)
        return super().construct_yaml_int(node)


_GoYamlConstructor.add_constructor("tag:yaml.org,2002:int", _GoYamlConstructor.construct_yaml_int)


def load_yaml(text: str) -> Any:
    """YAML 1.2 core schema, as yaml.v3 reads it (`no` and `on` stay strings, `0440` is octal)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _GoYamlConstructor
    return yaml.load(io.StringIO(text))


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


# ------------------------------------------------------- pulumi config set --path
# Restated from pulumi/pulumi (same commit): `pulumi config set [--path] KEY VALUE`
# (pkg/cmd/pulumi/config/config.go, newConfigSetCmd / (*configSetCmd).Run) stores VALUE as a
# config.Value of TypeUnknown and calls `Map.Set(key, value, path)`
# (sdk/go/common/resource/config/map.go). Without --path the key's value is the string VALUE,
# whatever it looks like ("Top level entries are always treated as strings"), so a JSON list
# set on `wasApps` is a string and fails the project's type check. With --path, `parseKeyPath`
# parses the key by `resource.ParsePropertyPathStrict` (sdk/go/common/resource/properties_path.go,
# parsePropertyPath), the first element names the config key, and `object.Set`
# (sdk/go/common/resource/config/object.go) edits the stack file's value in place; the new leaf
# is `Value.coerceObject` (value.go) of VALUE: "true"/"false" booleans, decimal integers without a
# leading 0 numbers (`coerce`, object.go), anything else a string. Structured values as a whole
# come from `pulumi config set-all --json` (config.go, newConfigSetAllCmd: `objectValue`).


def parse_property_path(path: str) -> list[str | int]:
    """resource.ParsePropertyPathStrict: `a.b[0]["c.d"]` -> ['a', 'b', 0, 'c.d']."""
    elements: list[str | int] = []
    if path.startswith("."):
        raise PulumiCliError("expected property path to start with a name or index")
    while path:
        if path[0] == ".":
            path = path[1:]
            if not path:
                raise PulumiCliError("expected property path to end with a name or index")
            if path[0] == "[":
                raise PulumiCliError("expected property name after '.'")
        elif path[0] == "[":
            if len(path) > 1 and path[1] == '"':
                key, i = "", 2
                while True:
                    if i >= len(path):
                        raise PulumiCliError("missing closing quote in property name")
                    if path[i] == '"':
                        i += 1
                        break
                    if path[i] == "\\" and i + 1 < len(path) and path[i + 1] == '"':
                        key, i = key + '"', i + 2
                    else:
                        key, i = key + path[i], i + 1
                if i >= len(path) or path[i] != "]":
                    raise PulumiCliError("missing closing bracket in property access")
                elements.append(key)
                path = path[i + 1:]
            else:
                end = path.find("]")
                if end == -1:
                    raise PulumiCliError("missing closing bracket in array index")
                segment = path[1:end]
                if segment == "*":
                    elements.append("*")
                elif re.fullmatch(r"[+-]?\d+", segment):
                    elements.append(int(segment))
                else:
                    raise PulumiCliError(f'invalid array index: strconv.ParseInt: parsing "{segment}": invalid syntax')
                path = path[end + 1:]
        else:
            m = re.match(r"[^.\[]*", path)
            assert m is not None
            elements.append(m.group(0))
            path = path[m.end():]
    return elements


def coerce(text: str) -> Any:
    """config's `coerce`: booleans and decimal integers (no leading 0), else the string."""
    if text in ("true", "false"):
        return text == "true"
    if len(text) > 1 and text[0] == "0":
        return text
    if re.fullmatch(r"[+-]?\d+", text) and -(2**63) <= int(text) < 2**64:
        return int(text)
    return text


def _path_text(prefix: list[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(prefix))


def _set(current: Any, prefix: list[str | int], path: list[str | int], new: Any) -> Any:
    """object.Set: `current` with the member at `path` set to `new` (prefix: the path so far)."""
    if not path:
        return new
    head = path[0]
    if not isinstance(current, (list, dict)):
        if current is not None and len(prefix) > 1:
            raise PulumiCliError(f"{_path_text(prefix)}: expected {'an array' if isinstance(head, int) else 'a map'}")
        # newContainer: an index makes a list of index+1 nulls, a name a map (COMPAT: a scalar at
        # the first level is overwritten).
        current = [None] * (head + 1) if isinstance(head, int) and head >= 0 else ({} if isinstance(head, str) else [])
    prefix = [*prefix, head]
    if isinstance(current, list):
        if not isinstance(head, int):
            raise PulumiCliError(f"{_path_text(prefix)}: key for an array must be an int")
        if head < 0 or head > len(current):
            raise PulumiCliError(f"{_path_text(prefix)}: array index out of range")
        if head == len(current):
            current.append(None)
        current[head] = _set(current[head], prefix, path[1:], new)
        return current
    if not isinstance(head, str):
        raise PulumiCliError(f"{_path_text(prefix)}: key for a map must be a string")
    current[head] = _set(current.get(head), prefix, path[1:], new)
    return current


def config_set(values: dict[str, ConfigValue], project: str, key: str, text: str, path: bool = False) -> None:
    """`pulumi config set [--path] KEY VALUE` on a stack's values (Map.Set)."""
    if not path:
        values[key if ":" in key else f"{project}:{key}"] = ConfigValue(text)
        return
    namespace, colon, name = key.rpartition(":") if ":" in key.partition("[")[0].partition(".")[0] else ("", "", key)
    elements = parse_property_path(name)
    if not elements:
        raise PulumiCliError("empty config key path")
    first = elements[0]
    if not isinstance(first, str):
        raise PulumiCliError("first path segement of config key must be a string")
    if first == "":
        raise PulumiCliError("config key is empty")
    full = f"{namespace or project}:{first}"
    if len(elements) == 1:
        values[full] = ConfigValue(text)
        return
    root = values.get(full)
    if root is not None and root.secure:
        raise PulumiCliError(f"{key}: a secure value cannot be edited offline")
    current = json.loads(root.text) if root is not None and root.object else (root.text if root else None)
    values[full] = ConfigValue(_go_json(_set(current, [first], elements[1:], coerce(text))), object=True)
