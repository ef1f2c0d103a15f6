"""Fixtures for the live tests: a process owner per test (or module) that always cleans up."""
import pytest

from tests.live.procs import Processes, Webhook, require_binaries

PASSWORD = "live-test-password-1234"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/live/" in str(item.fspath):
            item.add_marker(pytest.mark.live)


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
