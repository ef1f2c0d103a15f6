import os
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


# --------------------------------------------------------------------------- parallel runs (pytest-xdist)
def waits_on_processes(item: pytest.Item) -> bool:
    """A live test or the benchmark smoke: long, mostly waiting on real processes."""
    return item.nodeid.startswith(("tests/live/", "tests/bench/"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (scripts/test.sh: `-n 2 --dist loadfile --no-loadscope-reorder`) the
    files are handed to the workers in collection order, one file to one worker: the long files,
    which wait on real processes, come first (a stable sort, the same in every worker, as xdist
    requires), so no long file starts when the other worker has run out of work. A run without
    workers keeps pytest's order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: not waits_on_processes(item))


def pytest_terminal_summary(terminalreporter):
    """The lines tests record for the log (`record_property("summary", line)`), printed after the
    run: a pytest-xdist worker's own output does not reach the terminal, its reports do."""
    lines = [value for reports in terminalreporter.stats.values() for report in reports
             if getattr(report, "when", None) == "call"
             for name, value in getattr(report, "user_properties", ()) if name == "summary"]
    if lines:
        terminalreporter.section("summaries")
        for line in lines:
            terminalreporter.write_line(line)
