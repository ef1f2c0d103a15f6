"""Print the README config reference table from Pulumi.yaml and the stack files.

Usage: .venv/bin/python scripts/config_table.py [--write]
--write replaces the table in README.md; tests/test_readme.py fails when it is stale.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(",", ":"))
    else:
        text = str(value)
    text = text.replace("|", "\\|")
    return f"`{text}`" if text else '`""`'


def table(root: Path = ROOT) -> str:
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    stacks = {s: (yaml.safe_load((root / f"Pulumi.{s}.yaml").read_text()) or {}).get("config") or {} for s in STACKS}
    lines = ["| key | type | default | dev | prod | description |", "|---|---|---|---|---|---|"]
    for key, decl in project["config"].items():
        full = f"{project['name']}:{key}"
        default = decl.get("default", decl.get("value"))
        overrides = [_cell(stacks[s][full]) if full in stacks[s] else "" for s in STACKS]
        description = " ".join(decl["description"].split()).replace("|", "\\|")
        lines.append(f"| `{key}` | {decl.get('type', 'object')} | {_cell(default)} | "
                     + " | ".join(overrides) + f" | {description} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- config-table:begin -->\n", "<!-- config-table:end -->"


def write_readme(root: Path = ROOT) -> None:
    readme = root / "README.md"
    text = readme.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(head + BEGIN + table(root) + END + tail)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_readme()
    else:
        sys.stdout.write(table())
