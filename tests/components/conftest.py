"""Fixture `installed`: the wheel installed with its declared dependencies into a fresh venv,
once per session (tests/components/installed.py)."""
import pytest

from tests.components.installed import Installed, build_and_install


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Installed:
    return build_and_install(tmp_path_factory.mktemp("installed"))
