"""Locating external tools and binaries: on PATH, in .venv-tools/bin, or in /usr/bin
(Debian). Under CI a missing one fails the test (scripts/install.sh must install it);
elsewhere the test is skipped. TESTS_OPTIONAL_TOOLS (space-separated names) lets a CI that
deliberately installs no system packages skip those tools' tests instead: the GitHub
workflows name Debian's promtool and amtool (docs/ci.md); .ci/run names none."""
import os
import shutil
from pathlib import Path

import pytest

from simulators.loopback import missing_binaries

ROOT = Path(__file__).resolve().parent.parent


def require(tool: str) -> str:
    """Path of `tool`; under CI a missing tool fails, elsewhere the test is skipped."""
    found = shutil.which(tool) or shutil.which(tool, path=str(ROOT / ".venv-tools" / "bin"))
    if not found:
        _missing([tool])
    return found


def require_binaries() -> None:
    """The five binaries of simulators/loopback.py are installed."""
    missing = missing_binaries()
    if missing:
        _missing(missing)


def _missing(what: list[str]) -> None:
    optional = set(os.environ.get("TESTS_OPTIONAL_TOOLS", "").split())
    if os.environ.get("CI") and not set(what) <= optional:
        pytest.fail(f"{what} not installed: scripts/install.sh must install them")
    pytest.skip(f"{what} not installed (run scripts/install.sh)")


def require_helm() -> str:
    """helm (scripts/install-helm.sh); under CI a missing one fails, elsewhere skips."""
    from render import RenderError, helm_binary

    try:
        return helm_binary()
    except RenderError:
        _missing(["helm"])
        raise
