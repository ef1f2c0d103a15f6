"""Every docs/runbooks.md section the program, the tools and the docs send a user to exists: the
citations `docs/runbooks.md, "<section>"` (and `{RUNBOOK}, "<section>"` in messages), and the
procedure each refused change names (components/config/changes.py, `Change.procedure`)."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from components.config import changes
from tools.stackfile import load_settings

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = ROOT / "docs" / "runbooks.md"
HEADING = re.compile(r"^#{2,3} (.+?)(?: \(`[^)]*`\))?(?: \[[^\]]*\])?$", re.M)
"""A section title without its config keys `(...)` and impact class `[...]`."""
CITED = re.compile(r'(?:runbooks\.md|\{RUNBOOK\})(?:#[\w-]+)?,? \\?"([^"\\]+)\\?"')
SOURCES = ["components/**/*.py", "render/*.py", "tools/*.py", "scripts/*.py", "simulators/*.py", "tests/**/*.py",
           "docs/*.md", "README.md", "Pulumi.yaml"]


def sections() -> set[str]:
    return set(HEADING.findall(RUNBOOKS.read_text()))


def citations() -> list[tuple[str, str]]:
    """(file, section) for every citation, a line break inside it joined (comments and docstrings wrap)."""
    found = []
    for pattern in SOURCES:
        for path in sorted(ROOT.glob(pattern)):
            text = re.sub(r'"\s*\n\s*f?"', "", path.read_text())  # "implicit " "concatenation"
            text = re.sub(r"\n\s*(?:#\s*)?", " ", text)
            found += [(str(path.relative_to(ROOT)), m.group(1)) for m in CITED.finditer(text)
                      if not m.group(1).startswith("<")]
    return found


def test_the_citations_are_found():
    cited = {section for _, section in citations()}
    assert {"Delete a stack's data on purpose", "Rotate Redis passwords", "Rename the Sentinel master set"} <= cited


def test_every_cited_section_exists():
    known = sections()
    missing = sorted({(f, s) for f, s in citations() if s not in known})
    assert not missing, f"cited sections that docs/runbooks.md does not have: {missing}"


def refused() -> list[changes.Change]:
    """One refused change of every kind the check knows, both topologies."""
    dev, prod = load_settings("dev"), load_settings("prod")
    every_key = {**changes.deployed_state(dev), "redisTopology": "sentinel", "redisReleaseName": "old",
                 "redisPersistenceSize": "9Gi", "redisStorageClass": "old", "redisTls": True,
                 "redisPasswordGeneration": 5, "redisDefaultPasswordGeneration": 5}
    sentinel = {**changes.deployed_state(prod), "redisTls": False, "sentinelMasterSet": "old"}
    ca_due = {"ca": "2000-01-01T00:00:00Z"}
    return [*changes.refused_changes(every_key, dev), *changes.refused_changes(sentinel, prod),
            *changes.certificate_changes(ca_due, datetime.now(UTC), dev),
            *changes.certificate_changes(ca_due, datetime.now(UTC), prod)]


@pytest.mark.parametrize("change", refused(), ids=lambda c: c.key)
def test_every_refused_change_names_a_section_of_the_runbooks(change):
    assert change.procedure.split(":")[0] in sections(), change.message()
