"""Generate the files derived from the config models (components/config/schema.py):

- Pulumi.yaml (its `config:` block: every declared key with type, default, description);
- README.md's config reference (between the config-table markers).

Usage: .venv/bin/python -m scripts.generate [--check]
--check exits 1 naming the stale files (tests/test_generated.py runs it).
"""
from __future__ import annotations

import enum
import json
import sys
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from components.config.app import WasAppSettings
from components.config.config import SUBMODELS, allowed_text, field_base, pulumi_type
from components.config.schema import FLAT, Thresholds, alias, fields_of, is_model, pulumi_declared
from components.config.validators import Each, Validator
from components.config.workload import DnsEgress
from tools.pulumi_cli import read_stack_file

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod")
PROJECT_HEADER: dict[str, Any] = {
    "name": "redis-session-platform",
    "description": "Shared Spring Session storage in Redis (Bitnami chart, standalone or Sentinel) for Spring web "
                   "application servers, with redis_exporter, ServiceMonitors, alert rules, Slack routing and a "
                   "Grafana dashboard.",
    # `pulumi install` creates .venv from requirements.txt (toolchain pip, virtualenv .venv).
    "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}},
}
PULUMI_COMMENT = """\
# GENERATED from components/config/schema.py by `python -m scripts.generate`: edit the models, not
# this file (tests/test_generated.py fails when it is stale). Stack files hold overrides
# only. slackWebhookUrl is read by the program but not declared here: Pulumi has no
# optional secret (a declared secret needs a value on every stack; docs/decisions.md).
"""
BEGIN, END = "<!-- config-table:begin -->\n", "<!-- config-table:end -->"


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _default(model: type, name: str) -> Any:
    field = fields_of(model)[name]
    if field.is_required():
        return None
    value = field.get_default(call_default_factory=True)
    if value is None:
        return None
    if isinstance(value, tuple):
        return [_dumped(v) for v in value]
    return _dumped(value)


def _dumped(value: Any) -> Any:
    """A config model's value as the stack file writes it: its keys, its non-default fields."""
    if is_model(type(value)):
        return TypeAdapter(type(value)).dump_python(value, by_alias=True, exclude_defaults=True, mode="json")
    return value.value if isinstance(value, enum.Enum) else value


def _fields_text(model: type) -> str:
    parts = []
    for name, field in fields_of(model).items():
        value = _default(model, name)
        default = "required" if field.is_required() else (
            "default " + json.dumps(value) if value not in (None, [], {}, ()) else "optional")
        parts.append(f"{alias(model, name)} ({default}; {allowed_text(model, name)}): {_one_line(field.description)}")
    return " ".join(p if p.endswith(".") else p + "." for p in parts)


def _item_allowed(model: type, name: str) -> str | None:
    """What each item of a list of plain values allows (its rule's text); None for a list of objects."""
    annotation, metadata = field_base(model, name)
    each = next((m for m in metadata if isinstance(m, Each)), None)
    if each is not None:
        return each.rule.allowed
    item = typing.get_args(annotation)[0]
    rule = next((m for m in getattr(item, "__metadata__", ()) if isinstance(m, Validator)), None)
    return rule.allowed if rule else None


def description(model: type, name: str) -> str:
    """A key's full description: its docstring, what it allows, and for structured keys their fields."""
    text = _one_line(fields_of(model)[name].description)
    kind = pulumi_type(model, name)
    if kind == "array" and _item_allowed(model, name):
        return f"{text} Allowed: a list, each {_item_allowed(model, name)}."
    if kind == "array":
        return f"{text} Fields of each: {_fields_text(SUBMODELS[name])}"
    if kind == "object":
        return f"{text} Fields: {_fields_text(SUBMODELS[name])}"
    return f"{text} Allowed: {allowed_text(model, name)}."


def config_block() -> dict:
    """The `config:` block of Pulumi.yaml."""
    block: dict = {}
    for key, (model, name) in FLAT.items():
        if not pulumi_declared(key):
            continue
        kind = pulumi_type(model, name)
        decl: dict = {"type": kind}
        if kind == "array":
            decl["items"] = {"type": "string" if _item_allowed(model, name) else "object"}
        decl["default"] = _default(model, name)
        decl["description"] = description(model, name)
        block[key] = decl
    return block


def pulumi_yaml() -> str:
    body = yaml.safe_dump({**PROJECT_HEADER, "config": config_block()}, sort_keys=False, width=100,
                          allow_unicode=True)
    return PULUMI_COMMENT + body


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
    return "`" + (text or '""').replace("|", "\\|") + "`"


def readme_table(root: Path = ROOT) -> str:
    project = PROJECT_HEADER["name"]
    stacks = {}
    for s in STACKS:
        values = read_stack_file((root / f"Pulumi.{s}.yaml").read_text(), project)
        stacks[s] = {k.partition(":")[2]: (json.loads(v.text) if v.object else v.text)
                     for k, v in values.items() if k.startswith(project + ":")}
    lines = ["| key | type | default | dev | prod | allowed | description |", "|---|---|---|---|---|---|---|"]
    for key, (model, name) in FLAT.items():
        field = fields_of(model)[name]
        kind = pulumi_type(model, name)
        default = _default(model, name)
        allowed = allowed_text(model, name) if kind not in ("array", "object") else f"{kind}, fields below"
        if kind == "array" and _item_allowed(model, name):
            allowed = f"a list, each {_item_allowed(model, name)}"
        declared = "" if pulumi_declared(key) else " Secret: set with `pulumi config set --secret`."
        lines.append(f"| `{key}` | {kind} | {_cell(default)} | {_cell(stacks['dev'].get(key))} | "
                     f"{_cell(stacks['prod'].get(key))} | {allowed.replace('|', chr(92) + '|')} | "
                     f"{_one_line(field.description).replace('|', chr(92) + '|')}{declared} |")
    for title, model in (("`wasApps[]` fields", WasAppSettings), ("`thresholds` fields", Thresholds),
                         ("`dnsEgress` fields", DnsEgress)):
        lines += ["", f"{title}:", "", "| field | type | default | allowed | description |", "|---|---|---|---|---|"]
        for name, field in fields_of(model).items():
            default = "required" if field.is_required() else _cell(_default(model, name))
            lines.append(f"| `{alias(model, name)}` | {pulumi_type(model, name)} | {default} | "
                         f"{allowed_text(model, name).replace('|', chr(92) + '|')} | "
                         f"{_one_line(field.description).replace('|', chr(92) + '|')} |")
    return "\n".join(lines) + "\n"


def readme(root: Path = ROOT) -> str:
    text = (root / "README.md").read_text()
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise SystemExit("README.md lost its config-table markers")
    return head + BEGIN + readme_table(root) + END + tail


def generated(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file and the text it must hold."""
    return {root / "Pulumi.yaml": pulumi_yaml(), root / "README.md": readme(root)}


def main(argv: list[str]) -> int:
    files = generated()
    if argv == ["--check"]:
        stale = [p.name for p, text in files.items() if p.read_text() != text]
        if stale:
            print(f"stale: {', '.join(stale)}: run .venv/bin/python -m scripts.generate", file=sys.stderr)
            return 1
        return 0
    for path, text in files.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
