"""Fixtures for the live tests: a process owner per test (or module) that always cleans up."""
import os

import pytest

from simulators.loopback import Processes, Webhook, missing_binaries

def pytest_collection_modifyitems(items):
    for item in items:
        if "/live/" in str(item.fspath):
            item.add_marker(pytest.mark.live)


def require_binaries() -> None:
    missing = missing_binaries()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing {missing}: scripts/install.sh must install them")
        pytest.skip(f"missing {missing} (run scripts/install.sh)")


@pytest.fixture
def procs(tmp_path):
    require_binaries()
    owner = Processes(tmp_path)
    yield owner
    owner.close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()
