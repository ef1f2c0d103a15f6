"""Locating external judges: on PATH, in .venv-tools/bin, or in /usr/bin (Debian)."""
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def require(tool: str) -> str:
    """Path of `tool`; under CI a missing tool fails, elsewhere the test is skipped."""
    found = shutil.which(tool) or shutil.which(tool, path=str(ROOT / ".venv-tools" / "bin"))
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is not installed: scripts/install.sh must install it")
    pytest.skip(f"{tool} not installed (run scripts/install.sh)")
