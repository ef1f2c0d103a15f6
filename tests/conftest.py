import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.harness import STACKS, run_program  # noqa: E402


@pytest.fixture(params=STACKS)
def stack(request) -> str:
    return request.param


@pytest.fixture
def program(stack):
    """The real program on a fresh mock runtime for each stack; must succeed."""
    run = run_program(stack)
    assert run.error is None, f"{stack}: {run.error}"
    return run
