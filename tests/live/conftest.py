"""Fixtures for the live tests: a process owner per test (or per module) that always
cleans up, and the webhook receiver. Every test under tests/live is marked `live`.
A missing binary skips the test locally and fails it under CI."""
import pytest

from simulators.loopback import Processes, Webhook
from tests.tools import require_binaries


def pytest_collection_modifyitems(items):
    for item in items:
        if "/live/" in str(item.fspath):
            item.add_marker(pytest.mark.live)


@pytest.fixture
def procs(tmp_path):
    """Owner of every process one test starts (all five binaries required)."""
    require_binaries()
    owner = Processes(tmp_path)
    try:
        yield owner
    finally:
        owner.close()


@pytest.fixture(scope="module")
def module_procs(tmp_path_factory, request):
    """Owner shared by one module's tests (a stack started once); closed after the module."""
    require_binaries()
    owner = Processes(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    try:
        yield owner
    finally:
        owner.close()


@pytest.fixture
def webhook():
    """Records Alertmanager webhook POSTs (simulators.loopback.Webhook)."""
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.close()
